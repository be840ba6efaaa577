package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
)

// handleSearch serves POST /v1/search.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	b, err := s.backend(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Searcher == nil {
		s.fail(w, r, errNoBackend("search"))
		return
	}
	var in searchRequestJSON
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := in.toRequest(s.cfg.MaxK)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	res, err := b.Searcher.Search(ctx, req)
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.cfg.Metrics.observeNotes(requestKB(r), res.Notes)
	s.writeJSON(w, r, http.StatusOK, toSearchResponse(res))
}

// handleAsk serves POST /v1/ask: a JSON answer, or an SSE stream when the
// client accepts text/event-stream.
func (s *Server) handleAsk(w http.ResponseWriter, r *http.Request) {
	b, err := s.backend(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Asker == nil {
		s.fail(w, r, errNoBackend("answering"))
		return
	}
	var in askRequestJSON
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := in.toRequest(s.cfg.MaxK)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	asker := s.observed(b.Asker, s.askMeta(r, requestKB(r), in.channel(), in.ConversationID))
	if acceptsEventStream(r) {
		s.streamAnswer(w, r, asker, req)
		return
	}

	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	// Nobody reads the events of a plain JSON answer; send only passes
	// on cancellation, so the Asker stops when the client leaves.
	ans, err := asker.Ask(ctx, req, func(quarry.Event) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, toAnswer(ans))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, statusJSON{Status: "ok"})
}

// handleReady serves GET /readyz: 200 while the readiness check passes,
// 503 with the reason otherwise, and 503 once shutdown has begun so load
// balancers stop sending traffic.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.writeJSON(w, r, http.StatusServiceUnavailable, errorBody(errShuttingDown))
		return
	}
	if s.cfg.Ready != nil {
		ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			err = classify(ctx, err)
			s.logError(r, http.StatusServiceUnavailable, err)
			msg := "not ready"
			if quarry.ErrorCode(err) != quarry.CodeInternal {
				msg += ": " + quarry.ErrorMessage(err)
			}
			s.writeJSON(w, r, http.StatusServiceUnavailable, errorJSON{Error: errorDetail{Code: quarry.CodeUnavailable, Message: msg}})
			return
		}
	}
	s.writeJSON(w, r, http.StatusOK, statusJSON{Status: "ok"})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, quarry.Errorf(quarry.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
}

// methodNotAllowed answers 405 with the Allow header chi would have set
// (a custom handler does not get chi's list, so it is looked up again).
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if s.mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	list := strings.Join(allowed, ", ")
	w.Header().Set("Allow", list)
	body := errorJSON{Error: errorDetail{
		Code:    "method_not_allowed",
		Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + list,
	}}
	s.writeJSON(w, r, http.StatusMethodNotAllowed, body)
}

// withTimeout bounds ctx by d; when the deadline passes the work is told
// so with a timeout error naming the limit.
func (s *Server) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	cause := s.timeoutCause
	if d != s.cfg.Timeout || cause == nil {
		cause = timeoutCause(d)
	}
	return context.WithTimeoutCause(ctx, d, cause)
}

func timeoutCause(d time.Duration) error {
	return quarry.Errorf(quarry.CodeTimeout, "the request took longer than the %s limit", d)
}

// acceptsEventStream reports whether the client asked for an SSE stream.
func acceptsEventStream(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(h, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}
