package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/kb"
	"github.com/quarry-kb/quarry/server"
	"github.com/quarry-kb/quarry/strategy"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "serve", "quarry serve [flags]",
		"Serve the HTTP API over every knowledge base of the data directory: POST /v1/search,\n"+
			"POST /v1/ask, /v1/admin/* (the default knowledge base), the same under /v1/kb/NAME/,\n"+
			"POST /v1/chat/completions (model = knowledge base), PUT and DELETE\n"+
			"/v1/kb/NAME/documents?path=PATH (a document, ingested at once), GET /healthz, GET /readyz. New\n"+
			"generations written by quarry ingest, reindex or rollback, and new knowledge bases,\n"+
			"are picked up without a restart. --rebuild-schedule runs full rebuilds (as quarry\n"+
			"reindex) of every knowledge base on a cron schedule.", &o, "addr", "vectors", "schedule", "gate", "chunk", "parse")
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

// serveHooks let tests reach inside a server run in-process.
type serveHooks struct {
	announce func(addr string)
	// engine is the base engine configuration (tests wrap vector stores).
	engine engineConfig
	// openSource opens the source of rebuilds (tests inject failures).
	openSource func(string) (fs.FS, error)
	// watchEvery is how often state files are polled; default
	// kb.DefaultWatchEvery.
	watchEvery time.Duration
}

func serveWith(ctx context.Context, env *Env, o options, hooks serveHooks) error {
	log := newLogger(env.Stderr, o.LogLevel)
	keys, audit, limits, err := authSetup(o, log)
	if err != nil {
		return err
	}
	cfg := hooks.engine
	gt, err := kb.LoadGate(o.GateQuestions, o.GateMargin)
	if err != nil {
		return err
	}
	// The configured store must be the one the generations use.
	vb := cfg.vectors
	if vb == nil {
		if vb, err = newBackend(env, o, kb.Default); err != nil {
			return err
		}
		defer vb.Close()
	}
	m, err := newManager(env, o, cfg, managerHooks{
		openSource: hooks.openSource, gate: gt, schedule: o.RebuildSchedule,
		readVectors: vb, watchEvery: hooks.watchEvery,
	})
	if err != nil {
		return err
	}
	defer m.Close()
	m.CleanAbandoned(ctx)
	if err := checkServable(ctx, m); err != nil {
		return err
	}
	op, err := openOperator(ctx, o, m)
	if err != nil {
		return err
	}
	defer op.Close()
	hand := &handoffs{data: o.Data, log: log}

	strats, err := newStrategies(o.Data, env.Getenv, log, func(ctx context.Context, name string) (strategy.Asker, error) {
		return m.Engine(ctx, name)
	})
	if err != nil {
		return err
	}
	defer strats.Close()
	if op.metrics != nil {
		if err := op.metrics.Registry().Register(strategyCollector{strats}); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}

	srv, err := server.New(server.Config{
		// reply strategies before retrieval, per knowledge base (strategy.go)
		Resolve: strats.resolve(func(r *http.Request) (server.Backend, error) {
			name := server.KnowledgeBase(r.Context())
			if name == "" {
				name = kb.Default
			}
			e, err := m.Engine(r.Context(), name)
			if err != nil {
				return server.Backend{}, err
			}
			return server.Backend{Searcher: e, Asker: e}, nil
		}),
		Strategies:         strats,
		Channels:           strats.channel,
		ListKnowledgeBases: func(context.Context) ([]string, error) { return m.List() },
		Ready:              m.Ready,
		Logger:             log,
		Admin:              adminAPI{m},
		Documents:          documentsAPI{m},
		// API keys, rate limits and the audit log (keys.go)
		Keys: keys, Audit: audit, RateLimit: limits,
		// chat completion usage, in the tokens chunk sizes are counted in
		CountTokens: ingest.CountTokens,
		// the conversation log, feedback, the dashboard, metrics, the
		// widget (conversations.go)
		Conversations: op.log, Reports: op.log, Metrics: op.metrics, Widget: true,
		Handoff: hand.get, Handoffs: strats.handoffFigures,
	})
	if err != nil {
		return err
	}
	// WeChat turns are logged like the server's own (strategy.go).
	strats.observe, strats.hashUser = srv.Observe, op.log.HashClient
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "listen on %s: %w", o.Addr, err)
	}
	addr := ln.Addr().String()
	names, _ := m.List()
	serving, _ := m.Serving(kb.Default)
	log.Info("serving", "addr", "http://"+addr, "data", o.Data, "knowledge_bases", names, "generation", serving,
		"vector_store", vb.Kind(), "rebuild_schedule", o.RebuildSchedule, "widget", "http://"+addr+server.WidgetPath())
	if hooks.announce != nil {
		hooks.announce(addr)
	}
	if env.Ready != nil {
		env.Ready(addr)
	}

	bgCtx, stopBg := context.WithCancel(ctx)
	wait := m.Serve(bgCtx)
	waitOp, err := op.run(bgCtx, o.MetricsAddr, log)
	if err != nil {
		stopBg()
		wait()
		ln.Close()
		return err
	}
	stratsDone := make(chan struct{})
	go func() { defer close(stratsDone); strats.watch(bgCtx, hooks.watchEvery) }()
	err = srv.Serve(ctx, ln)
	stopBg()
	wait()
	waitOp()
	<-stratsDone
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// checkServable refuses to start a server with nothing to serve: the
// default knowledge base must have a generation, unless another one has.
func checkServable(ctx context.Context, m *kb.Manager) error {
	if _, err := m.Engine(ctx, kb.Default); err == nil {
		return nil
	}
	_, derr := m.State(kb.Default)
	names, _ := m.List()
	for _, name := range names {
		if _, err := m.Engine(ctx, name); err == nil {
			return nil
		}
	}
	if derr != nil {
		return derr
	}
	_, err := m.Engine(ctx, kb.Default)
	return err
}

// documentsAPI serves PUT and DELETE /v1/kb/{kb}/documents from the
// knowledge base manager.
type documentsAPI struct{ m *kb.Manager }

func (d documentsAPI) PutDocument(ctx context.Context, name, path string, body io.Reader) (any, error) {
	return d.m.PutDocument(ctx, name, path, body)
}

func (d documentsAPI) DeleteDocument(ctx context.Context, name, path string) (any, error) {
	return d.m.DeleteDocument(ctx, name, path)
}

// adminAPI serves the admin routes from the knowledge base manager.
type adminAPI struct{ m *kb.Manager }

func (a adminAPI) Status(_ context.Context, name string) (any, error) { return a.m.Status(name) }

func (a adminAPI) Reindex(_ context.Context, name string) (any, error) {
	if err := a.m.StartReindex(name, "api"); err != nil {
		return nil, err
	}
	return a.m.Status(name)
}

func (a adminAPI) Rollback(ctx context.Context, name string) (any, error) {
	if _, err := a.m.Rollback(ctx, name); err != nil {
		return nil, err
	}
	return a.m.Status(name)
}
