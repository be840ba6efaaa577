package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/server"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "serve", "quarry serve [flags]",
		"Serve the HTTP API (POST /v1/search, POST /v1/ask, GET /healthz, GET /readyz) over the\n"+
			"data directory. New generations written by quarry ingest are picked up without a restart.", &o, "addr")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return serve(ctx, env, o, nil)
}

// serve runs the HTTP server until ctx is done. announce, if set, is
// called once the server listens.
func serve(ctx context.Context, env *Env, o options, announce func(addr string)) error {
	log := newLogger(env.Stderr, o.LogLevel)
	cfg := engineConfig{}
	h, err := newHolder(o.Data, cfg, log)
	if err != nil {
		return err
	}
	defer h.Close()

	srv, err := server.New(server.Config{
		Resolve: h.live.Resolve,
		Ready:   h.ready,
		Logger:  log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "listen on %s: %w", o.Addr, err)
	}
	addr := ln.Addr().String()
	log.Info("serving", "addr", "http://"+addr, "data", o.Data, "generation", h.current().gen)
	if announce != nil {
		announce(addr)
	}
	if env.Ready != nil {
		env.Ready(addr)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.watch(watchCtx, time.Second) }()
	err = srv.Serve(ctx, ln)
	stopWatch()
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// holder keeps the serving engine and swaps it when the data directory
// switches to another generation.
type holder struct {
	data string
	cfg  engineConfig
	log  *slog.Logger
	dir  *gen.Dir
	live *server.Live

	mu       sync.Mutex
	eng      *engine
	versions int
	lastErr  error
}

func newHolder(data string, cfg engineConfig, log *slog.Logger) (*holder, error) {
	d, err := gen.Open(kbRoot(data))
	if err != nil {
		return nil, err
	}
	s, err := d.State()
	if err != nil {
		return nil, err
	}
	e, err := openEngine(s.Current, d.Path(s.Current), cfg)
	if err != nil {
		return nil, err
	}
	h := &holder{data: data, cfg: cfg, log: log, dir: d, eng: e, versions: s.Versions}
	h.live = server.NewLive(server.Backend{Searcher: e, Asker: e})
	return h, nil
}

func (h *holder) current() *engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.eng
}

func (h *holder) ready(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.eng == nil {
		return quarry.Errorf(quarry.CodeUnavailable, "no index loaded")
	}
	return nil
}

// watch polls the state file and switches engines when it changes.
func (h *holder) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := h.reload(); err != nil {
				h.log.Error("loading new generation failed; still serving the previous one", "err", err)
			}
		}
	}
}

// reload opens the generation the state file names if it is not the one
// being served, and swaps it in.
func (h *holder) reload() error {
	s, err := h.dir.State()
	if err != nil {
		return err
	}
	h.mu.Lock()
	same := s.Versions == h.versions || (h.eng != nil && s.Current == h.eng.gen)
	if same {
		h.versions = s.Versions
	}
	h.mu.Unlock()
	if same {
		return nil
	}
	e, err := openEngine(s.Current, h.dir.Path(s.Current), h.cfg)
	if err != nil {
		h.mu.Lock()
		h.lastErr = err
		h.versions = s.Versions // don't retry a broken generation every second
		h.mu.Unlock()
		return fmt.Errorf("generation %s: %w", s.Current, err)
	}
	h.mu.Lock()
	old := h.eng
	h.eng = e
	h.versions = s.Versions
	h.lastErr = nil
	h.mu.Unlock()
	h.live.Swap(server.Backend{Searcher: e, Asker: e})
	h.log.Info("switched generation", "from", old.gen, "to", e.gen, "documents", s.Info.Documents, "chunks", s.Info.Chunks)
	old.retire(2*time.Second, h.log)
	return nil
}

// Close closes the serving engine.
func (h *holder) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.eng == nil {
		return nil
	}
	err := h.eng.Close()
	h.eng = nil
	return err
}
