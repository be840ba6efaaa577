package main

import (
	"context"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
)

// rebuilder runs full rebuilds inside the server: on POST
// /v1/admin/reindex and on the --rebuild-schedule. One runs at a time:
// an in-process flag answers a second request at once, and the
// generations' writer lock keeps out a quarry ingest or reindex in
// another process (and makes this one wait its turn the same way). It is
// the server's Admin.
type rebuilder struct {
	rebuilderConfig
	ctx   context.Context // the server's lifetime: a rebuild outlives its request
	sched cron.Schedule   // nil without a schedule

	mu      sync.Mutex
	running bool
	nextRun time.Time
	wg      sync.WaitGroup
}

type rebuilderConfig struct {
	env        *Env
	o          options
	dir        *gen.Dir
	holder     *holder
	engine     engineConfig
	log        *slog.Logger
	schedule   string // cron spec; "" for none
	gate       *gate
	openSource func(string) (fs.FS, error)
}

func newRebuilder(ctx context.Context, cfg rebuilderConfig) (*rebuilder, error) {
	r := &rebuilder{rebuilderConfig: cfg, ctx: ctx}
	if cfg.schedule != "" {
		s, err := cron.ParseStandard(cfg.schedule)
		if err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "--rebuild-schedule %q: %w", cfg.schedule, err)
		}
		r.sched = s
		r.nextRun = s.Next(time.Now())
	}
	return r, nil
}

// Reindex starts a rebuild and returns the status; quarry.ErrConflict
// when one is already running, here or in another process.
func (r *rebuilder) Reindex(ctx context.Context) (any, error) {
	if err := r.start("api"); err != nil {
		return nil, err
	}
	return r.Status(ctx)
}

// start takes the writer lock and runs a rebuild in the background.
func (r *rebuilder) start(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return quarry.Errorf(quarry.CodeConflict, "a rebuild is already running")
	}
	if err := r.ctx.Err(); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "the server is shutting down")
	}
	w, err := r.dir.Lock()
	if err != nil {
		return err // quarry.ErrConflict while another process writes
	}
	r.running = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		start := time.Now()
		r.log.Info("rebuild started", "trigger", trigger)
		_, st, err := reindex(r.ctx, r.env, r.o, rebuildRequest{
			Trigger: trigger, Gate: r.gate, lock: w,
			open: r.openSource, serving: r.holder.borrow, engine: r.engine,
		})
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
		if err != nil {
			r.log.Error("rebuild failed; still serving the previous generation", "trigger", trigger, "err", err,
				"duration", time.Since(start).Round(time.Millisecond))
			return
		}
		r.log.Info("rebuild done", "trigger", trigger, "generation", st.Current, "documents", st.Info.Documents,
			"chunks", st.Info.Chunks, "duration", time.Since(start).Round(time.Millisecond))
		// Serve it now rather than at the next poll.
		if err := r.holder.reload(r.ctx); err != nil {
			r.log.Error("loading the rebuilt generation failed; still serving the previous one", "err", err)
		}
	}()
	return nil
}

// loop starts a rebuild at every time of the schedule until ctx ends.
func (r *rebuilder) loop(ctx context.Context) {
	for {
		r.mu.Lock()
		next := r.sched.Next(time.Now())
		r.nextRun = next
		r.mu.Unlock()
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := r.start("schedule"); err != nil {
			r.log.Warn("scheduled rebuild skipped", "err", err)
		}
	}
}

// Wait waits for a running rebuild to end (the server's context ending
// cancels it).
func (r *rebuilder) Wait() { r.wg.Wait() }

// adminStatus is the body of GET /v1/admin/status.
type adminStatus struct {
	Running         bool       `json:"running"`
	LastStarted     *time.Time `json:"last_started"`
	LastFinished    *time.Time `json:"last_finished"`
	LastSuccess     *time.Time `json:"last_success"`
	LastError       string     `json:"last_error"` // why the last rebuild failed; "" once one succeeds
	LastErrorAt     *time.Time `json:"last_error_at"`
	LastTrigger     string     `json:"last_trigger,omitempty"`
	Generation      genStatus  `json:"generation"`
	Documents       int        `json:"documents"`
	Chunks          int        `json:"chunks"`
	Built           *time.Time `json:"built"`
	IndexAgeSeconds float64    `json:"index_age_seconds"`
	Embedder        string     `json:"embedder"`
	VectorStore     string     `json:"vector_store"`
	Schedule        string     `json:"schedule"`
	NextRun         *time.Time `json:"next_run"`
	ReloadError     string     `json:"reload_error,omitempty"` // why the server does not serve Current yet
}

type genStatus struct {
	Current  string `json:"current"`  // named by state.json
	Previous string `json:"previous"` // kept for rollback
	Serving  string `json:"serving"`  // what this server answers from (follows Current within a second)
}

// Status reports on the index and its rebuilds, those run by other
// processes (quarry reindex from cron) included: they are read from the
// knowledge base's rebuild.json.
func (r *rebuilder) Status(context.Context) (any, error) {
	s, err := r.dir.State()
	if err != nil {
		return nil, err
	}
	rec := loadRebuildRecord(r.dir)
	busy, _ := r.dir.Busy()
	r.mu.Lock()
	st := adminStatus{
		Running:      r.running || busy,
		LastStarted:  rec.LastStarted,
		LastFinished: rec.LastFinished,
		LastSuccess:  rec.LastSuccess,
		LastError:    rec.LastError,
		LastErrorAt:  rec.LastErrorAt,
		LastTrigger:  rec.LastTrigger,
		Generation:   genStatus{Current: s.Current, Previous: s.Previous},
		Documents:    s.Info.Documents,
		Chunks:       s.Info.Chunks,
		Embedder:     s.Info.Embedder,
		VectorStore:  cmpOr(s.Info.VectorStore, storeEmbedded),
		Schedule:     r.schedule,
	}
	if r.sched != nil {
		next := r.nextRun
		st.NextRun = &next
	}
	r.mu.Unlock()
	if !s.Info.Built.IsZero() {
		built := s.Info.Built
		st.Built = &built
		st.IndexAgeSeconds = time.Since(built).Seconds()
	}
	r.holder.mu.Lock()
	if r.holder.eng != nil {
		st.Generation.Serving = r.holder.eng.gen
	}
	if r.holder.lastErr != nil {
		st.ReloadError = r.holder.lastErr.Error()
	}
	r.holder.mu.Unlock()
	return st, nil
}
