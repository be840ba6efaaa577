package server

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Admin is what the admin routes need from the program that runs the
// server: a status report and a way to start a rebuild of the index.
// Both return a value encoded as the JSON response; errors are answered
// like any other (quarry.ErrConflict, a rebuild already running, is 409).
type Admin interface {
	// Status reports on knowledge base kb's index and its rebuilds.
	Status(ctx context.Context, kb string) (any, error)
	// Reindex starts a rebuild of kb and returns at once, with the
	// status.
	Reindex(ctx context.Context, kb string) (any, error)
	// Rollback switches kb back to its previous generation and returns
	// the status.
	Rollback(ctx context.Context, kb string) (any, error)
}

// adminRoutes mounts GET /v1/kb/{kb}/admin/status and POST
// /v1/kb/{kb}/admin/reindex and /v1/kb/{kb}/admin/rollback, and the
// same under /v1/admin/ for the default knowledge base, when
// Config.Admin is set.
//
// TODO(auth): the admin routes are unauthenticated for now; the listen
// address defaults to loopback. API keys with scopes will guard them
// (an "admin" scope), through Config.Middleware like the other /v1 routes.
func (s *Server) adminRoutes(r chi.Router) {
	if s.cfg.Admin == nil {
		return
	}
	for _, route := range []struct {
		prefix string
		kbOf   func(*http.Request) string
	}{{"/v1/admin", defaultKB}, {"/v1/kb/{kb}/admin", urlKB}} {
		a := s.api(r, GroupAdmin, route.kbOf)
		a.Get(route.prefix+"/status", s.handleAdminStatus)
		a.Post(route.prefix+"/reindex", s.handleAdminReindex)
		a.Post(route.prefix+"/rollback", s.handleAdminRollback)
	}
}

func (s *Server) handleAdminStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	st, err := s.cfg.Admin.Status(ctx, KnowledgeBase(r.Context()))
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}

// handleAdminReindex answers 202 Accepted: the rebuild runs on after the
// response, and GET /v1/admin/status tells how it went.
func (s *Server) handleAdminReindex(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	st, err := s.cfg.Admin.Reindex(ctx, KnowledgeBase(r.Context()))
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, st)
}

// handleAdminRollback switches the knowledge base back to its previous
// generation and answers with the status.
func (s *Server) handleAdminRollback(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	st, err := s.cfg.Admin.Rollback(ctx, KnowledgeBase(r.Context()))
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}
