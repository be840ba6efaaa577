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
	// Status reports on the index and its rebuilds.
	Status(ctx context.Context) (any, error)
	// Reindex starts a rebuild and returns at once, with the status.
	Reindex(ctx context.Context) (any, error)
}

// adminRoutes mounts GET /v1/admin/status and POST /v1/admin/reindex
// when Config.Admin is set.
//
// TODO(auth): the admin routes are unauthenticated for now; the listen
// address defaults to loopback. API keys with scopes will guard them
// (an "admin" scope), through Config.Middleware like the other /v1 routes.
func (s *Server) adminRoutes(r chi.Router) {
	if s.cfg.Admin == nil {
		return
	}
	r.Get("/v1/admin/status", s.handleAdminStatus)
	r.Post("/v1/admin/reindex", s.handleAdminReindex)
}

func (s *Server) handleAdminStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	st, err := s.cfg.Admin.Status(ctx)
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
	st, err := s.cfg.Admin.Reindex(ctx)
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, st)
}
