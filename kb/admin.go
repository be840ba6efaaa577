package kb

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

// rebuilder runs full rebuilds inside the server: on the admin route and
// on the schedule. One runs at a time per knowledge base: an in-process
// flag answers a second request at once, and the generations' writer
// lock keeps out a quarry ingest or reindex in another process.
type rebuilder struct {
	m        *Manager
	schedule string
	sched    cron.Schedule // nil without a schedule

	mu      sync.Mutex
	ctx     context.Context // the server's lifetime: a rebuild outlives its request
	running map[string]bool
	nextRun time.Time
	wg      sync.WaitGroup
}

func newRebuilder(m *Manager, schedule string) (*rebuilder, error) {
	r := &rebuilder{m: m, schedule: schedule, running: map[string]bool{}, ctx: context.Background()}
	if schedule != "" {
		s, err := cron.ParseStandard(schedule)
		if err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "--rebuild-schedule %q: %w", schedule, err)
		}
		r.sched = s
		r.nextRun = s.Next(time.Now())
	}
	return r, nil
}

// StartReindex starts a rebuild of knowledge base name in the background
// (it runs until done or until the context of Run ends);
// quarry.ErrConflict when one is already running, here or in another
// process.
func (m *Manager) StartReindex(name, trigger string) error {
	return m.rb.start(name, trigger)
}

func (r *rebuilder) start(name, trigger string) error {
	d, err := r.m.existing(name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name] {
		return quarry.Errorf(quarry.CodeConflict, "a rebuild of knowledge base %q is already running", name)
	}
	if err := r.ctx.Err(); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "the server is shutting down")
	}
	w, err := d.Lock()
	if err != nil {
		return err // quarry.ErrConflict while another process writes
	}
	r.running[name] = true
	r.wg.Add(1)
	ctx := r.ctx
	go func() {
		defer r.wg.Done()
		start := time.Now()
		log := r.m.log.With("kb", name, "trigger", trigger)
		log.Info("rebuild started")
		sum, st, err := r.m.Reindex(ctx, name, RebuildRequest{Trigger: trigger, lock: w})
		for _, sk := range sum.Skipped {
			level := slog.LevelWarn
			if ingest.Routine(sk.Kind) {
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "file skipped", "path", sk.Path, "kind", sk.Kind, "reason", sk.Reason)
		}
		r.mu.Lock()
		delete(r.running, name)
		r.mu.Unlock()
		if err != nil {
			log.Error("rebuild failed; still serving the previous generation", "err", err,
				"duration", time.Since(start).Round(time.Millisecond))
			return
		}
		log.Info("rebuild done", "generation", st.Current, "documents", st.Info.Documents,
			"chunks", st.Info.Chunks, "duration", time.Since(start).Round(time.Millisecond))
	}()
	return nil
}

// Serve starts serving in the background until ctx ends: the watcher
// (see Watch) and the rebuild schedule (every knowledge base with a
// recorded source, one after the other). Rebuilds started by
// StartReindex run under ctx too. wait waits for all of it to end.
func (m *Manager) Serve(ctx context.Context) (wait func()) {
	r := m.rb
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Watch(ctx) }()
	if r.sched != nil {
		wg.Add(1)
		go func() { defer wg.Done(); m.schedule(ctx) }()
	}
	return func() { wg.Wait(); r.Wait() }
}

func (m *Manager) schedule(ctx context.Context) {
	r := m.rb
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
		names, _ := m.List()
		for _, name := range names {
			d, err := m.existing(name)
			if err != nil {
				continue
			}
			if _, err := loadSources(d); err != nil {
				continue // nothing to rebuild from
			}
			if err := r.start(name, "schedule"); err != nil {
				m.log.Warn("scheduled rebuild skipped", "kb", name, "err", err)
			}
		}
	}
}

// Wait waits for running rebuilds to end (the context of Run ending
// cancels them).
func (r *rebuilder) Wait() { r.wg.Wait() }

// Status is the admin status of a knowledge base (GET
// /v1/kb/{kb}/admin/status).
type Status struct {
	KB              string     `json:"kb"`
	Running         bool       `json:"running"`
	LastStarted     *time.Time `json:"last_started"`
	LastFinished    *time.Time `json:"last_finished"`
	LastSuccess     *time.Time `json:"last_success"`
	LastError       string     `json:"last_error"` // why the last rebuild failed; "" once one succeeds
	LastErrorAt     *time.Time `json:"last_error_at"`
	LastTrigger     string     `json:"last_trigger,omitempty"`
	Generation      GenStatus  `json:"generation"`
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

// GenStatus names the generations of a knowledge base.
type GenStatus struct {
	Current  string `json:"current"`  // named by state.json
	Previous string `json:"previous"` // kept for rollback
	Serving  string `json:"serving"`  // what this server answers from (follows Current within moments)
}

// Status reports on knowledge base name and its rebuilds, those run by
// other processes (quarry reindex from cron) included: they are read
// from the knowledge base's rebuild.json.
func (m *Manager) Status(name string) (Status, error) {
	d, err := m.existing(name)
	if err != nil {
		return Status{}, err
	}
	s, err := d.State()
	if err != nil {
		return Status{}, err
	}
	rec := loadRebuildRecord(d)
	busy, _ := d.Busy()
	r := m.rb
	r.mu.Lock()
	st := Status{
		KB:           name,
		Running:      r.running[name] || busy,
		LastStarted:  rec.LastStarted,
		LastFinished: rec.LastFinished,
		LastSuccess:  rec.LastSuccess,
		LastError:    scrubPaths(rec.LastError),
		LastErrorAt:  rec.LastErrorAt,
		LastTrigger:  rec.LastTrigger,
		Generation:   GenStatus{Current: s.Current, Previous: s.Previous},
		Documents:    s.Info.Documents,
		Chunks:       s.Info.Chunks,
		Embedder:     s.Info.Embedder,
		VectorStore:  s.Info.VectorStore,
		Schedule:     r.schedule,
	}
	if st.VectorStore == "" {
		st.VectorStore = StoreEmbedded
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
	serving, rerr := m.Serving(name)
	st.Generation.Serving = serving
	if rerr != nil {
		st.ReloadError = scrubPaths(rerr.Error())
	}
	return st, nil
}

// absPath matches an absolute file path in an error message.
var absPath = regexp.MustCompile(`(^|[\s"'(=])(/[^\s"':,;)]+)`)

// scrubPaths replaces the absolute file paths in a message meant for
// API callers by their last element: the server's file layout is not
// theirs to see (the full message is in the server's log).
func scrubPaths(msg string) string {
	return absPath.ReplaceAllStringFunc(msg, func(m string) string {
		i := strings.IndexByte(m, '/')
		return m[:i] + ".../" + filepath.Base(m[i:])
	})
}
