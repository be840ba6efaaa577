package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/server"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "serve", "quarry serve [flags]",
		"Serve the HTTP API (POST /v1/search, POST /v1/ask, GET /healthz, GET /readyz,\n"+
			"GET /v1/admin/status, POST /v1/admin/reindex) over the data directory. New generations\n"+
			"written by quarry ingest, reindex or rollback are picked up without a restart.\n"+
			"--rebuild-schedule runs full rebuilds (as quarry reindex) on a cron schedule.", &o, "addr", "vectors", "schedule", "gate", "chunk")
	pf := providerFlags(fs, env, "llm", "embed")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	return serveWith(ctx, env, o, serveHooks{engine: prov.apply(engineConfig{})})
}

// serve runs the HTTP server until ctx is done. announce, if set, is
// called once the server listens.
func serve(ctx context.Context, env *Env, o options, announce func(addr string)) error {
	return serveWith(ctx, env, o, serveHooks{announce: announce})
}

// serveHooks let tests reach inside a server run in-process.
type serveHooks struct {
	announce func(addr string)
	// engine is the base engine configuration (tests wrap vector stores).
	engine engineConfig
	// openSource opens the source of rebuilds (tests inject failures).
	openSource func(string) (fs.FS, error)
	// watchEvery is how often state.json is polled; default 1s.
	watchEvery time.Duration
}

func serveWith(ctx context.Context, env *Env, o options, hooks serveHooks) error {
	log := newLogger(env.Stderr, o.LogLevel)
	keys, audit, limits, err := authSetup(o, log)
	if err != nil {
		return err
	}
	cfg := hooks.engine
	if cfg.vectors == nil {
		vb, err := newBackend(env, o)
		if err != nil {
			return err
		}
		defer vb.Close()
		cfg.vectors = vb
	}
	gt, err := loadGate(o.GateQuestions, o.GateMargin)
	if err != nil {
		return err
	}
	d, err := gen.Open(kbRoot(o.Data))
	if err != nil {
		return err
	}
	cleanAbandoned(ctx, d, cfg.vectors, log)

	h, err := newHolder(ctx, d, cfg, log)
	if err != nil {
		return err
	}
	defer h.Close()

	rb, err := newRebuilder(ctx, rebuilderConfig{
		env: env, o: o, dir: d, holder: h, engine: cfg, log: log,
		schedule: o.RebuildSchedule, gate: gt, openSource: hooks.openSource,
	})
	if err != nil {
		return err
	}
	defer rb.Wait()

	srv, err := server.New(server.Config{
		Resolve: h.live.Resolve,
		Ready:   h.ready,
		Logger:  log,
		Admin:   rb,
		// API keys, rate limits and the audit log (keys.go)
		Keys: keys, Audit: audit, RateLimit: limits,
		// chat completion usage, in the tokens chunk sizes are counted in
		CountTokens: ingest.CountTokens,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "listen on %s: %w", o.Addr, err)
	}
	addr := ln.Addr().String()
	log.Info("serving", "addr", "http://"+addr, "data", o.Data, "generation", h.current().gen,
		"vector_store", cfg.vectors.Kind(), "rebuild_schedule", o.RebuildSchedule)
	if hooks.announce != nil {
		hooks.announce(addr)
	}
	if env.Ready != nil {
		env.Ready(addr)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.watch(watchCtx, cmpOr(hooks.watchEvery, time.Second)) }()
	if rb.sched != nil {
		wg.Add(1)
		go func() { defer wg.Done(); rb.loop(watchCtx) }()
	}
	err = srv.Serve(ctx, ln)
	stopWatch()
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// cleanAbandoned removes generations left half-built by a process that
// was killed, if no writer is at work: taking the writer lock does that
// for the directories; the vectors they left are dropped too.
func cleanAbandoned(ctx context.Context, d *gen.Dir, vb vectorBackend, log *slog.Logger) {
	w, err := d.Lock()
	if err != nil {
		if !errors.Is(err, quarry.ErrConflict) {
			log.Warn("could not check for abandoned generations", "err", err)
		}
		return // a writer is at work; it cleans up when it is done
	}
	defer w.Unlock()
	gens, err := d.Generations()
	if err == nil {
		err = vb.Cleanup(ctx, gens)
	}
	if err != nil {
		log.Warn("removing the vectors of abandoned generations", "err", err)
	}
}

// holder keeps the serving engine and swaps it when the data directory
// switches to another generation.
type holder struct {
	cfg  engineConfig
	log  *slog.Logger
	dir  *gen.Dir
	live *server.Live

	reloadMu sync.Mutex // one reload at a time (the watcher, a rebuild)

	mu       sync.Mutex
	eng      *engine
	versions int
	lastErr  error
}

func newHolder(ctx context.Context, d *gen.Dir, cfg engineConfig, log *slog.Logger) (*holder, error) {
	s, err := d.State()
	if err != nil {
		return nil, err
	}
	e, err := openEngine(ctx, s.Current, d.Path(s.Current), cfg)
	if err != nil {
		return nil, err
	}
	h := &holder{cfg: cfg, log: log, dir: d, eng: e, versions: s.Versions}
	h.live = server.NewLive(server.Backend{Searcher: e, Asker: e})
	return h, nil
}

func (h *holder) current() *engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.eng
}

// borrow lends the serving engine until release is called.
func (h *holder) borrow() (*engine, func(), error) {
	e := h.current()
	if e == nil || !e.acquire() {
		return nil, nil, errEngineClosed
	}
	return e, e.release, nil
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
	var lastLogged string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := h.reload(ctx); err != nil {
				if msg := err.Error(); msg != lastLogged { // once per distinct failure
					h.log.Error("loading new generation failed; still serving the previous one", "err", err)
					lastLogged = msg
				}
			} else {
				lastLogged = ""
			}
		}
	}
}

// reload opens the generation the state file names if it is not the one
// being served, and swaps it in.
func (h *holder) reload(ctx context.Context) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
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
	e, err := openEngine(ctx, s.Current, h.dir.Path(s.Current), h.cfg)
	if err != nil {
		h.mu.Lock()
		h.lastErr = err
		switch quarry.ErrorCode(err) {
		case quarry.CodeUnavailable, quarry.CodeTimeout, quarry.CodeCanceled:
			// Try again on the next tick: the generation may still be held
			// by an engine being retired, or the vector store be down.
		default:
			h.versions = s.Versions // don't retry a broken generation every second
		}
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
