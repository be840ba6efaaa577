package server

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"
	"github.com/go-chi/httprate"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
)

// The trust boundary of the API. Every /v1 route needs a key with the
// scope its route implies (see policy), for the knowledge base in its
// path ({kb}, or "default" on the legacy routes); the OpenAI-compatible
// routes check the knowledge base named by "model" once it is known.
// /healthz, /readyz and /openapi.json are open. Rate limits apply per
// client address (failed attempts included) and per key; admin actions
// and document changes (scope ingest) are written to the audit log.

// Keys is what the server needs from the API keys (auth.Keyring, behind
// cmd/quarry's policy for a server without keys).
type Keys interface {
	// Authorize returns the key that may do req, or an error coded
	// quarry.CodeUnauthenticated or quarry.CodeForbidden. A key with an
	// empty ID lets the request through without authentication (a
	// server on loopback with no key created).
	Authorize(req auth.Request) (auth.Key, error)
	// AllowOrigin reports whether browsers from origin may call the API
	// (CORS): the origins of the keys bound to one.
	AllowOrigin(origin string) bool
}

// AuditLog records and lists admin actions (auth.Audit).
type AuditLog interface {
	Record(e auth.Event) error
	List(limit int, kbs ...string) ([]auth.Event, error)
}

// Defaults for RateLimit's zero values.
const (
	DefaultRateLimitPerKey  = 600
	DefaultRateLimitPerAddr = 1200
	DefaultRateLimitWindow  = time.Minute
)

// RateLimit bounds requests to the /v1 routes once keys are in use (a
// server answering without keys on loopback is not limited). The zero
// value of a field means its default; a negative limit turns it off.
type RateLimit struct {
	// PerKey is the number of requests one key may make per Window
	// (default 600).
	PerKey int
	// PerAddr is the number of requests one client address may make per
	// Window, refused ones included (default 1200). The address is the
	// connection's: behind a proxy every client shares the proxy's.
	PerAddr int
	// Window is the length of the sliding window (default 1 minute).
	Window time.Duration
	// PerKeyForKB overrides PerKey on the knowledge bases it names: a
	// key's requests to such a knowledge base count against a limit of
	// their own. Limits must be positive.
	PerKeyForKB map[string]int
}

func (rl RateLimit) withDefaults() RateLimit {
	rl.PerKey = cmpOr(rl.PerKey, DefaultRateLimitPerKey)
	rl.PerAddr = cmpOr(rl.PerAddr, DefaultRateLimitPerAddr)
	rl.Window = cmpOr(rl.Window, DefaultRateLimitWindow)
	return rl
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// guard holds the limiters of a Server.
type guard struct {
	perKey, perAddr *httprate.RateLimiter // nil when off
	perKeyOn        bool                  // PerKey applies (else only PerKeyForKB)
	perKB           map[string]int
}

// keyLimit returns the per-key rate-limit bucket of a request with key
// id on knowledge base kb, and r carrying its limit; "" when the
// request is not limited per key.
func (g *guard) keyLimit(r *http.Request, id, kb string) (string, *http.Request) {
	if g.perKey == nil {
		return "", r
	}
	if n, ok := g.perKB[kb]; ok && kb != "" {
		return "key:" + id + "@" + kb, r.WithContext(httprate.WithRequestLimit(r.Context(), n))
	}
	if !g.perKeyOn {
		return "", r
	}
	return "key:" + id, r
}

func (s *Server) newGuard() *guard {
	rl := s.cfg.RateLimit.withDefaults()
	g := &guard{}
	limited := httprate.WithLimitHandler(s.rateLimited)
	if rl.PerKey > 0 || len(rl.PerKeyForKB) > 0 {
		// Requests to a knowledge base of PerKeyForKB carry their limit
		// in the context (httprate.WithRequestLimit).
		g.perKey = httprate.NewRateLimiter(max(rl.PerKey, 1), rl.Window, limited)
	}
	g.perKeyOn = rl.PerKey > 0
	g.perKB = rl.PerKeyForKB
	if rl.PerAddr > 0 {
		g.perAddr = httprate.NewRateLimiter(rl.PerAddr, rl.Window, limited)
	}
	return g
}

// rateLimited answers a request over a limit: 429, with the Retry-After
// header httprate has set, and a JSON error.
func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request) {
	after := w.Header().Get("Retry-After")
	if after == "" {
		after = strconv.Itoa(int(s.cfg.RateLimit.withDefaults().Window.Seconds()))
		w.Header().Set("Retry-After", after)
	}
	err := quarry.Errorf(quarry.CodeRateLimited, "too many requests: retry after %s seconds", after)
	if isOpenAIRoute(r) {
		s.failOpenAI(w, r, err)
		return
	}
	s.fail(w, r, err)
}

// policy returns the scope a route needs and the knowledge base it is
// about ("" when the route names none: the handler checks it).
// Unknown routes need admin: a route added without a thought for its
// scope is closed, not open.
func policy(r *http.Request, pattern string) (auth.Scope, string) {
	kb := chi.URLParam(r, "kb")
	if kb == "" {
		kb = DefaultKnowledgeBase
	}
	switch {
	case pattern == "/v1/models" || pattern == "/v1/models/{model}":
		return "", "" // any key; the list shows the knowledge bases it may use
	case pattern == "/v1/chat/completions":
		return auth.ScopeAsk, "" // the knowledge base is the "model"
	case pattern == "/metrics":
		return auth.ScopeAdmin, auth.AllKBs // the figures of every knowledge base
	case strings.HasSuffix(pattern, "/search"):
		return auth.ScopeSearch, kb
	case strings.HasSuffix(pattern, "/ask"):
		return auth.ScopeAsk, kb
	case strings.HasSuffix(pattern, "/feedback"):
		return auth.ScopeAsk, kb // who may ask may say what they thought of the answer
	case strings.Contains(pattern, "/admin/") || strings.HasSuffix(pattern, "/admin"):
		return auth.ScopeAdmin, kb
	case strings.Contains(pattern, "/ingest") || strings.Contains(pattern, "/documents"):
		return auth.ScopeIngest, kb
	}
	return auth.ScopeAdmin, kb
}

func isOpenAIRoute(r *http.Request) bool {
	p := chi.RouteContext(r.Context()).RoutePattern()
	return p == "/v1/chat/completions" || strings.HasPrefix(p, "/v1/models")
}

type callerKey struct{}

// caller is the authenticated caller of a request.
type caller struct {
	key    auth.Key
	token  string
	origin string
}

// Caller returns the id of the API key a request was authorized with
// ("" when none).
func Caller(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(*caller)
	if c == nil {
		return ""
	}
	return c.key.ID
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// clientAddr is the rate-limit key of the connection's address.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return httprate.CanonicalizeIP(host)
}

// authenticate is the middleware of the /v1 routes: audit, key, limits.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pattern := chi.RouteContext(r.Context()).RoutePattern()
		scope, kb := policy(r, pattern)
		audited := s.cfg.Audit != nil && (scope == auth.ScopeAdmin || scope == auth.ScopeIngest) &&
			r.Method != http.MethodGet && r.Method != http.MethodHead
		var c *caller
		if audited {
			rec := &recorder{ResponseWriter: w}
			defer func() { s.audit(r, rec, pattern, kb, c) }()
			w = rec
		}
		if s.cfg.Keys == nil {
			next.ServeHTTP(w, r)
			return
		}
		c = &caller{token: bearer(r), origin: r.Header.Get("Origin")}
		key, err := s.cfg.Keys.Authorize(auth.Request{Token: c.token, Origin: c.origin, KB: kb, Scope: scope})
		c.key = key
		if err == nil && key.ID == "" {
			next.ServeHTTP(w, r) // no keys, on loopback: as before keys existed
			return
		}
		if s.guard.perAddr != nil && s.guard.perAddr.RespondOnLimit(w, r, clientAddr(r)) {
			return
		}
		if err != nil {
			if quarry.ErrorCode(err) == quarry.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="quarry"`)
			}
			if isOpenAIRoute(r) {
				s.failOpenAI(w, r, err)
			} else {
				s.fail(w, r, err)
			}
			return
		}
		if kb == "" {
			kb = KnowledgeBase(r.Context()) // a chat completion's model
		}
		if bucket, lr := s.guard.keyLimit(r, key.ID, kb); bucket != "" && s.guard.perKey.RespondOnLimit(w, lr, bucket) {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// allowKB checks that the caller of r may use kb with scope, for routes
// that learn the knowledge base from the request body.
func (s *Server) allowKB(r *http.Request, kb string, scope auth.Scope) error {
	if s.cfg.Keys == nil {
		return nil
	}
	c, _ := r.Context().Value(callerKey{}).(*caller)
	if c == nil {
		return nil // let through without a key by authenticate
	}
	_, err := s.cfg.Keys.Authorize(auth.Request{Token: c.token, Origin: c.origin, KB: kb, Scope: scope})
	return err
}

// audit records an admin request once it has been answered.
func (s *Server) audit(r *http.Request, rec *recorder, pattern, kb string, c *caller) {
	status := rec.status
	if !rec.wrote {
		status = http.StatusOK
	}
	e := auth.Event{
		Action: auditAction(r.Method, pattern), KB: kb, Actor: "anonymous",
		Status: status, RequestID: RequestID(r.Context()), Outcome: auth.OutcomeOK,
	}
	if strings.HasSuffix(pattern, "/documents") {
		e.Detail = clipDetail(r.URL.Query().Get("path"))
	}
	if c != nil && c.key.ID != "" {
		e.Actor, e.KeyID = "key", c.key.ID
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests:
		e.Outcome = auth.OutcomeDenied
	case status >= 400:
		e.Outcome = auth.OutcomeError
	}
	if err := s.cfg.Audit.Record(e); err != nil {
		s.log.Error("audit log", "err", err, "request_id", e.RequestID)
	}
}

// auditAction names the action of an admin route: the last literal
// element of its path ("reindex", "rollback"), or kb.create and
// kb.delete for a knowledge base itself.
func auditAction(method, pattern string) string {
	parts := strings.Split(strings.Trim(pattern, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if strings.HasPrefix(p, "{") || p == "*" {
			continue
		}
		if p == "documents" {
			switch method {
			case http.MethodPut:
				return auth.ActionDocumentPut
			case http.MethodDelete:
				return auth.ActionDocumentDelete
			}
		}
		if p == "kb" {
			switch method {
			case http.MethodDelete:
				return auth.ActionKBDelete
			case http.MethodPut, http.MethodPost:
				return auth.ActionKBCreate
			}
		}
		return p
	}
	return strings.ToLower(method) + " " + pattern
}

// clipDetail bounds text from a request kept in the audit log.
func clipDetail(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// handleAudit serves GET /v1/kb/{kb}/admin/audit: the newest admin
// actions on the knowledge base, newest first (?limit=N, default 100),
// with those on every knowledge base for a key for '*'.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.fail(w, r, quarry.Errorf(quarry.CodeInvalid, "limit must be a number from 1 to 10000, got %q", v))
			return
		}
		limit = n
	}
	kbs := []string{chi.URLParam(r, "kb")}
	if c, _ := r.Context().Value(callerKey{}).(*caller); c == nil || c.key.KB == auth.AllKBs {
		// Callers for every knowledge base also see what concerns all
		// of them (keys created for '*').
		kbs = append(kbs, auth.AllKBs)
	}
	events, err := s.cfg.Audit.List(limit, kbs...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, auditListJSON{Events: events})
}

type auditListJSON struct {
	Events []auth.Event `json:"events"`
}

// corsHandler lets browsers from the origins of origin-bound keys call
// the API: preflights are answered, no cookies are involved (keys travel
// in the Authorization header), so credentials are never allowed.
func (s *Server) corsHandler() func(http.Handler) http.Handler {
	return cors.Handler(cors.Options{
		AllowOriginFunc: func(_ *http.Request, origin string) bool { return s.cfg.Keys.AllowOrigin(origin) },
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type", "Accept", RequestIDHeader},
		ExposedHeaders: []string{RequestIDHeader, "Retry-After", "X-RateLimit-Limit",
			"X-RateLimit-Remaining", "X-RateLimit-Reset"},
		AllowCredentials: false,
		MaxAge:           600,
	})
}
