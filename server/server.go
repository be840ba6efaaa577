// Package server serves Quarry over HTTP: keyword/hybrid search, grounded
// answers (as JSON or as a Server-Sent Events stream), and health and
// readiness probes.
//
// The server knows retrieval and generation only through the small
// Searcher and Asker interfaces declared here; which backend serves a
// request is decided per request by a ResolveFunc, so several knowledge
// bases, or an index swapped after a rebuild (see Live), slot in without
// touching the handlers. Errors are JSON, {"error": {"code", "message"}},
// with the status derived from the quarry error code in one function.
//
// An OpenAI-compatible endpoint (POST /v1/chat/completions, GET
// /v1/models; see openai.go) lets OpenAI clients talk to a knowledge
// base; its errors use OpenAI's error shape.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultTimeout         = 60 * time.Second
	DefaultStreamTimeout   = 10 * time.Minute
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxK            = 100
)

// Config configures a Server. The zero value of every field means its
// default; a Server needs a backend, from Resolve or from Searcher and
// Asker.
type Config struct {
	// Searcher and Asker serve every request when Resolve is nil.
	Searcher Searcher
	Asker    Asker
	// Resolve picks the backend for each request; it overrides Searcher
	// and Asker. Use a Live's Resolve method to swap indexes at run time.
	Resolve ResolveFunc

	// Ready reports whether the server can serve (indexes loaded, model
	// reachable); GET /readyz answers 503 while it returns an error. Nil
	// means always ready.
	Ready func(ctx context.Context) error

	// MaxBodyBytes caps request bodies (default 1 MiB); larger bodies
	// get 413.
	MaxBodyBytes int64
	// Timeout bounds the work of a request (default 60s). Streamed
	// answers are bounded by StreamTimeout instead.
	Timeout time.Duration
	// StreamTimeout bounds a streamed (SSE) answer (default 10m).
	StreamTimeout time.Duration
	// ShutdownTimeout is how long Serve lets in-flight requests finish
	// once its context is canceled (default 30s); requests still running
	// then are canceled.
	ShutdownTimeout time.Duration
	// MaxK caps the "k" a caller may ask for (default 100).
	MaxK int
	// MaxHeaderBytes caps a request's line and headers (default 64 KiB);
	// larger ones get a JSON 431 (see conn.go).
	MaxHeaderBytes int
	// ReadHeaderTimeout is how long Serve waits for a request's headers
	// (default 10s); a request whose headers stop short gets a JSON 408.
	ReadHeaderTimeout time.Duration

	// Middleware wraps the /v1 API routes, innermost last. It runs after
	// routing, so chi.RouteContext(r.Context()).RoutePattern() is set,
	// and RouteGroup and KnowledgeBase tell the route's group and
	// knowledge base: the place for authentication, scopes and metrics.
	Middleware []func(http.Handler) http.Handler
	// GroupMiddleware wraps the routes of one group (GroupSearch,
	// GroupAsk, GroupAdmin, GroupModels), inside Middleware.
	GroupMiddleware map[string][]func(http.Handler) http.Handler

	// Logger receives the access log and errors (default: discard).
	Logger *slog.Logger

	// KnowledgeBases names the knowledge bases the OpenAI-compatible
	// endpoint offers as models (GET /v1/models, "model" in
	// POST /v1/chat/completions); the resolver finds the one asked for
	// in KnowledgeBase(r.Context()). Default: one, "default". The model
	// "quarry" stands for "default", or the first when there is none.
	KnowledgeBases []string
	// ListKnowledgeBases, when set, lists them instead, per request (so
	// a knowledge base created while serving is offered at once).
	ListKnowledgeBases func(ctx context.Context) ([]string, error)
	// CountTokens, when set, counts tokens for the "usage" of chat
	// completions (cmd/quarry uses ingest.CountTokens, cl100k_base);
	// nil leaves usage out.
	CountTokens func(string) int

	// Documents, when set, serves PUT and DELETE
	// /v1/kb/{kb}/documents?path=...: documents sent over the API,
	// ingested at once (scope ingest; see documents.go).
	Documents Documents
	// MaxDocumentBytes caps a document sent to PUT
	// /v1/kb/{kb}/documents (default 32 MiB); larger ones get 413.
	MaxDocumentBytes int64

	// Admin, when set, serves GET /v1/admin/status and
	// POST /v1/admin/reindex (see admin.go).
	Admin Admin

	// Keys, when set, guards every /v1 route with API keys (see
	// guard.go) and lets the origins of origin-bound keys in (CORS).
	// Nil serves without authentication.
	Keys Keys
	// RateLimit bounds requests per key and per client address when
	// Keys is set.
	RateLimit RateLimit
	// Audit, when set, records admin actions (whoever asked, whatever
	// the outcome) and serves GET /v1/kb/{kb}/admin/audit.
	Audit AuditLog

	// Conversations, when set, logs every answered or declined question
	// and serves POST /v1/kb/{kb}/feedback (see conversations.go).
	Conversations ConversationLog
	// Reports, when set, serves the operator's dashboard at /admin (see
	// dashboard.go).
	Reports Reports
	// Metrics, when set, counts requests, answers and feedback and
	// serves GET /metrics behind the admin scope (see metrics.go).
	Metrics *Metrics
	// Handoff returns a knowledge base's hand-off (a link, an e-mail
	// address, a message), offered with every declined answer; nil, or
	// a nil result, offers none.
	Handoff func(kb string) *quarry.Handoff
	// Handoffs, when set, gives the dashboard the hand-offs to a person
	// since the server started, for knowledge base kb ("" for all), and
	// the hand-off webhook's deliveries, failures included.
	Handoffs func(kb string) HandoffFigures
	// Widget serves the embeddable website widget at /widget.js (see
	// widget.go).
	Widget bool
	// Strategies, when set, serves POST /v1/kb/{kb}/admin/reload,
	// which reloads the knowledge base's reply strategy (channels.go).
	Strategies StrategyReloader
	// Channels, when set, serves GET and POST
	// /v1/channels/{channel}/{kb}: messaging platforms' webhooks, which
	// prove who they are with their own signatures, not API keys
	// (channels.go).
	Channels ChannelFunc
}

// Server is Quarry's HTTP API. Create it with New; serve Handler with
// your own http.Server, or call Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	resolve  ResolveFunc
	mux      *chi.Mux
	handler  http.Handler
	draining atomic.Bool
	guard    *guard
	// timeoutCause is the cause of requests that run out of Timeout,
	// made once.
	timeoutCause error

	// onShutdown, when set (by tests), is called once Serve has started
	// shutting down.
	onShutdown func()
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.MaxBodyBytes < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: MaxBodyBytes must not be negative, got %d", cfg.MaxBodyBytes)
	case cfg.MaxDocumentBytes < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: MaxDocumentBytes must not be negative, got %d", cfg.MaxDocumentBytes)
	case cfg.Timeout < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: Timeout must not be negative, got %s", cfg.Timeout)
	case cfg.StreamTimeout < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: StreamTimeout must not be negative, got %s", cfg.StreamTimeout)
	case cfg.ShutdownTimeout < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: ShutdownTimeout must not be negative, got %s", cfg.ShutdownTimeout)
	case slices.ContainsFunc(slices.Collect(maps.Values(cfg.RateLimit.PerKeyForKB)), func(n int) bool { return n <= 0 }):
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: RateLimit.PerKeyForKB limits must be positive")
	case cfg.RateLimit.Window < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: RateLimit.Window must not be negative, got %s", cfg.RateLimit.Window)
	case cfg.MaxHeaderBytes < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: MaxHeaderBytes must not be negative, got %d", cfg.MaxHeaderBytes)
	case cfg.ReadHeaderTimeout < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: ReadHeaderTimeout must not be negative, got %s", cfg.ReadHeaderTimeout)
	case cfg.MaxK < 0:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: MaxK must not be negative, got %d", cfg.MaxK)
	case cfg.Resolve == nil && cfg.Searcher == nil && cfg.Asker == nil:
		return nil, quarry.Errorf(quarry.CodeInvalid, "server: no backend: set Config.Resolve, or Config.Searcher and/or Config.Asker")
	}
	if err := checkKnowledgeBases(cfg.KnowledgeBases); err != nil {
		return nil, err
	}
	for i, mw := range cfg.Middleware {
		if mw == nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "server: Middleware[%d] is nil", i)
		}
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxDocumentBytes == 0 {
		cfg.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.StreamTimeout == 0 {
		cfg.StreamTimeout = DefaultStreamTimeout
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.MaxK == 0 {
		cfg.MaxK = DefaultMaxK
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	s := &Server{cfg: cfg, log: cfg.Logger, resolve: cfg.Resolve, timeoutCause: timeoutCause(cfg.Timeout)}
	if s.resolve == nil {
		static := Backend{Searcher: cfg.Searcher, Asker: cfg.Asker}
		s.resolve = func(*http.Request) (Backend, error) { return static, nil }
	}
	s.guard = s.newGuard()
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	r := chi.NewRouter()
	r.Use(withRequestID, s.accessLog, s.cfg.Metrics.instrument, s.recoverer, s.limitHeaders)
	if s.cfg.Keys != nil {
		r.Use(s.corsHandler())
	}
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Get("/healthz", s.handleHealth)
	r.Get("/readyz", s.handleReady)
	r.Get("/openapi.json", s.handleOpenAPI)
	s.api(r, GroupSearch, defaultKB).Post("/v1/search", s.handleSearch)
	s.api(r, GroupAsk, defaultKB).Post("/v1/ask", s.handleAsk)
	s.api(r, GroupSearch, urlKB).Post("/v1/kb/{kb}/search", s.handleSearch)
	s.api(r, GroupAsk, urlKB).Post("/v1/kb/{kb}/ask", s.handleAsk)
	s.openAIRoutes(r)
	s.adminRoutes(r)
	s.documentRoutes(r)
	if s.cfg.Audit != nil {
		s.api(r, GroupAdmin, urlKB).Get("/v1/kb/{kb}/admin/audit", s.handleAudit)
	}
	if s.cfg.Conversations != nil {
		s.api(r, GroupAsk, defaultKB).Post("/v1/feedback", s.handleFeedback)
		s.api(r, GroupAsk, urlKB).Post("/v1/kb/{kb}/feedback", s.handleFeedback)
	}
	if s.cfg.Metrics != nil {
		s.api(r, GroupAdmin, nil).Get("/metrics", s.handleMetrics)
	}
	if s.cfg.Widget {
		s.widgetRoutes(r)
	}
	if s.cfg.Reports != nil {
		s.dashboardRoutes(r)
	}
	if s.cfg.Strategies != nil {
		s.api(r, GroupAdmin, urlKB).Post("/v1/kb/{kb}/admin/reload", s.handleStrategyReload)
	}
	s.channelRoutes(r)
	s.mux = r
	s.handler = r
}

// Handler returns the server's routes with their middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "server: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// cancelGrace is how long requests canceled at the end of a shutdown
// have to wrap up before their connections are closed.
const cancelGrace = 5 * time.Second

// errShuttingDown is the cause given to requests that outlive the
// shutdown grace period.
var errShuttingDown = quarry.Errorf(quarry.CodeUnavailable, "the server is shutting down")

// Serve serves on ln until ctx is canceled, then shuts down gracefully:
// it stops accepting connections, fails /readyz, and lets in-flight
// requests (streams included) finish for up to ShutdownTimeout. Requests
// still running after that have their context canceled (a stream ends
// with an error event) and get up to 5s more to return before their
// connections are closed. Serve closes ln. It returns nil after a shutdown, or the error
// that stopped it serving.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests must not die the moment ctx does: that is the point of a
	// graceful shutdown. They get their own cancelable base instead.
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelBase(nil)
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		// Above the real limit, which limitHeaders enforces with a JSON
		// 431; a guardedConn turns net/http's own 431 (and its other
		// plain-text errors) into JSON, and answers slow headers.
		MaxHeaderBytes: hardHeaderBytes(s.cfg.MaxHeaderBytes),
		ConnState:      connState,
		// Bounds reading the body too; net/http lifts the read deadline
		// once the body is read, so it does not cut long streams.
		ReadTimeout: s.cfg.Timeout,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return base },
	}

	served := make(chan error, 1)
	go func() { served <- hs.Serve(guardedListener{Listener: ln, s: s}) }()
	select {
	case err := <-served:
		return quarry.Errorf(quarry.CodeUnavailable, "server: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	s.log.Info("shutting down", slog.Duration("grace", s.cfg.ShutdownTimeout))
	if s.onShutdown != nil {
		s.onShutdown()
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	err := hs.Shutdown(graceCtx)
	cancel()
	if err != nil {
		s.log.Warn("shutdown grace period over, canceling remaining requests", slog.String("error", err.Error()))
		cancelBase(errShuttingDown)
		// Canceled handlers get a moment to send their error event and
		// return; connections still busy after that are closed.
		finalCtx, cancel := context.WithTimeout(context.Background(), cancelGrace)
		if err := hs.Shutdown(finalCtx); err != nil {
			s.log.Warn("closing remaining connections", slog.String("error", err.Error()))
		}
		cancel()
		hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return quarry.Errorf(quarry.CodeInternal, "server: serve on %s: %w", ln.Addr(), err)
	}
	s.log.Info("shut down")
	return nil
}

// backend resolves the backend for r.
func (s *Server) backend(r *http.Request) (Backend, error) {
	b, err := s.resolve(r)
	if err != nil {
		return Backend{}, fmt.Errorf("resolve backend: %w", err)
	}
	return b, nil
}

// writeJSON writes v as the JSON response. The body is encoded first, so
// a value that cannot be encoded becomes a clean 500 instead of half a
// response; it goes out with its Content-Length in one write, from a
// pooled buffer.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b := getBuffer()
	defer putBuffer(b)
	if err := encodeJSON(b, v); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "encode response",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("error", err.Error()))
		status = http.StatusInternalServerError
		b.Reset()
		_ = encodeJSON(b, errorBody(quarry.ErrInternal))
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	h["Content-Length"] = []string{strconv.Itoa(b.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // a failed write means the client is gone
}

// Header values shared by every JSON response (net/http only reads
// them).
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	nosniff         = []string{"nosniff"}
)

// marshal encodes v as one line of JSON, newline-terminated, without
// HTML escaping (this is an API, and "<" in a passage should read as
// "<").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeJSON(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// buffers recycles response buffers; one over maxPooledBuffer (a long
// answer) is left to the garbage collector rather than kept.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 256 << 10

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	buffers.Put(b)
}
