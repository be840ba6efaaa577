package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"
)

// Knowledge bases in routes. Every /v1 route belongs to a route group
// (GroupSearch, GroupAsk, GroupAdmin, GroupModels) and names the
// knowledge base it works on: /v1/kb/{kb}/... by the chi URL parameter
// "kb", /v1/search, /v1/ask and /v1/admin/* the default one, and
// POST /v1/chat/completions by its "model". Both are in the request's
// context (RouteGroup, KnowledgeBase) before Config.Middleware and
// Config.GroupMiddleware run, so one middleware can check a caller's
// scopes and knowledge bases for every route.

// Route groups, for middleware (API key scopes).
const (
	GroupSearch = "search" // POST /v1/search, /v1/kb/{kb}/search
	GroupAsk    = "ask"    // POST /v1/ask, /v1/kb/{kb}/ask, /v1/chat/completions
	GroupAdmin  = "admin"  // /v1/admin/*, /v1/kb/{kb}/admin/*
	GroupIngest = "ingest" // PUT, DELETE /v1/kb/{kb}/documents
	GroupModels = "models" // GET /v1/models, /v1/models/{model}
)

// KBParam is the chi URL parameter naming the knowledge base in
// /v1/kb/{kb}/... routes.
const KBParam = "kb"

type routeGroupKey struct{}

// RouteGroup returns the route group of the request ctx belongs to, or
// "" outside /v1.
func RouteGroup(ctx context.Context) string {
	g, _ := ctx.Value(routeGroupKey{}).(string)
	return g
}

type kbFilterKey struct{}

// WithKnowledgeBaseFilter returns ctx with a filter on the knowledge
// bases the request may see: GET /v1/models lists only those allow
// accepts, and GET /v1/models/{model} finds only those. Middleware sets
// it (for example to the knowledge bases of the caller's API key).
func WithKnowledgeBaseFilter(ctx context.Context, allow func(kb string) bool) context.Context {
	return context.WithValue(ctx, kbFilterKey{}, allow)
}

// knowledgeBaseAllowed applies the request's filter, if any.
func knowledgeBaseAllowed(ctx context.Context, kb string) bool {
	allow, _ := ctx.Value(kbFilterKey{}).(func(string) bool)
	return allow == nil || allow(kb)
}

// withKB returns r with its route group and knowledge base in the
// context.
func withKB(r *http.Request, group, kb string) *http.Request {
	ctx := context.WithValue(r.Context(), routeGroupKey{}, group)
	if kb != "" {
		ctx = context.WithValue(ctx, knowledgeBaseKey{}, kb)
	}
	return r.WithContext(ctx)
}

// api returns the router for the routes of group whose knowledge base
// kbOf finds: it tags requests, then runs the configured middleware.
func (s *Server) api(r chi.Router, group string, kbOf func(*http.Request) string) chi.Router {
	tag := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kb := ""
			if kbOf != nil {
				kb = kbOf(r)
			}
			next.ServeHTTP(w, withKB(r, group, kb))
		})
	}
	mws := append([]func(http.Handler) http.Handler{tag, s.authenticate}, s.cfg.Middleware...)
	mws = append(mws, s.cfg.GroupMiddleware[group]...)
	return r.With(mws...)
}

func defaultKB(*http.Request) string { return DefaultKnowledgeBase }

func urlKB(r *http.Request) string { return chi.URLParam(r, KBParam) }

// chatKB finds the knowledge base of a chat completion, its "model",
// reading the body ahead of the handler (and putting it back). A body
// over the limit or not JSON names none; the handler reports why.
func (s *Server) chatKB(r *http.Request) string {
	if r.Body == nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil || int64(len(b)) > s.cfg.MaxBodyBytes {
		return ""
	}
	var in struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(b, &in) != nil || in.Model == "" {
		return ""
	}
	if kb, ok := s.knowledgeBase(r.Context(), in.Model); ok {
		return kb
	}
	return in.Model
}

type readCloser struct {
	io.Reader
	io.Closer
}

// knowledgeBases lists the knowledge bases offered as models.
func (s *Server) knowledgeBases(ctx context.Context) []string {
	if s.cfg.ListKnowledgeBases != nil {
		if kbs, err := s.cfg.ListKnowledgeBases(ctx); err == nil && len(kbs) > 0 {
			return kbs
		}
	}
	if len(s.cfg.KnowledgeBases) == 0 {
		return []string{DefaultKnowledgeBase}
	}
	return s.cfg.KnowledgeBases
}

// knowledgeBase returns the knowledge base model names, or false. The
// alias stands for the default knowledge base, or the first one when
// there is no default.
func (s *Server) knowledgeBase(ctx context.Context, model string) (string, bool) {
	kbs := s.knowledgeBases(ctx)
	if slices.Contains(kbs, model) {
		return model, true
	}
	if model == ModelAlias {
		if slices.Contains(kbs, DefaultKnowledgeBase) {
			return DefaultKnowledgeBase, true
		}
		return kbs[0], true
	}
	return "", false
}
