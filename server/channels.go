package server

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
)

// StrategyReloader reloads a knowledge base's reply strategy, returning
// a report for the JSON response. An invalid strategy file is
// quarry.ErrInvalid naming its line; the previous strategy stays in
// force.
type StrategyReloader interface {
	ReloadStrategy(r *http.Request, kb string) (any, error)
}

// Channel serves a messaging platform's requests for one knowledge
// base. It writes its response only on success: on error it writes
// nothing and the server answers the error like any other (a bad
// signature is quarry.ErrForbidden).
type Channel interface {
	ServeChannel(w http.ResponseWriter, r *http.Request) error
}

// ChannelFunc finds the channel named channel ("wechat") of the
// knowledge base kb; quarry.ErrNotFound when it is not configured.
type ChannelFunc func(r *http.Request, channel, kb string) (Channel, error)

// channelPerAddr bounds the requests one address may make to the
// channel routes per minute; platforms send from many addresses.
const channelPerAddr = 600

// channelRoutes mounts the channel webhooks outside the API-key guard.
func (s *Server) channelRoutes(r chi.Router) {
	if s.cfg.Channels == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(httprate.Limit(channelPerAddr, time.Minute, httprate.WithKeyFuncs(func(r *http.Request) (string, error) {
			return clientAddr(r), nil
		})))
		r.Get("/v1/channels/{channel}/{kb}", s.handleChannel)
		r.Post("/v1/channels/{channel}/{kb}", s.handleChannel)
	})
}

func (s *Server) handleChannel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	ch, err := s.cfg.Channels(r, chi.URLParam(r, "channel"), chi.URLParam(r, "kb"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := ch.ServeChannel(w, r); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) handleStrategyReload(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Strategies.ReloadStrategy(r, chi.URLParam(r, "kb"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, rep)
}
