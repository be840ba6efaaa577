package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
)

func runReindex(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "reindex", "quarry reindex [flags] [SOURCE_DIR]",
		"Rebuild the index from scratch from the recorded source folder (the one quarry ingest\n"+
			"or quarry demo last used; SOURCE_DIR replaces it) into a new generation, validate it and\n"+
			"switch to it atomically. A running server picks it up within a second. If anything\n"+
			"fails, the serving generation is untouched. Also the way to change the embedder or the\n"+
			"vector store. Safe to run from cron while quarry serve runs on the same --data.", &o, "chunk", "vectors", "gate")
	pf := providerFlags(fs, env, "embed")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(fs.Output(), "expected at most 1 argument, got %d\n\n", fs.NArg())
		fs.Usage()
		return errUsage
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	req := rebuildRequest{Trigger: "cli", engine: prov.apply(engineConfig{})}
	if fs.NArg() == 1 {
		src, err := sourceDir(fs.Arg(0))
		if err != nil {
			return err
		}
		req.Source = src
	}
	g, err := loadGate(o.GateQuestions, o.GateMargin)
	if err != nil {
		return err
	}
	req.Gate = g
	sum, st, err := reindex(ctx, env, o, req)
	if err != nil {
		return err
	}
	if err := sum.Write(env.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Switched to generation %s (%d documents, %d chunks, vectors in the %s store); the previous one, %s, is kept for quarry rollback.\n",
		st.Current, st.Info.Documents, st.Info.Chunks, st.Info.VectorStore, st.Previous)
	return nil
}

// rebuildRequest asks reindex for a full rebuild.
type rebuildRequest struct {
	Source  string // documents folder; "" for the recorded one
	Trigger string // "cli", "api" or "schedule", for the status
	Gate    *gate
	// lock is the writer lock when the caller already holds it (the
	// server takes it before answering 202); reindex releases it.
	lock *gen.Writer
	// open opens a source (default openSource); tests inject failures.
	open    func(src string) (fs.FS, error)
	serving func() (*engine, func(), error)
	engine  engineConfig
}

// reindex builds a complete new generation from the source (nothing is
// copied from the serving one), validates it (strictly: every file read,
// counts checked, the gate passed) and switches to it. It records when
// it started and how it ended in the knowledge base's rebuild.json, for
// GET /v1/admin/status.
func reindex(ctx context.Context, env *Env, o options, r rebuildRequest) (ingest.Summary, gen.State, error) {
	d, err := gen.Open(kbRoot(o.Data))
	if err != nil {
		if r.lock != nil {
			r.lock.Unlock()
		}
		return ingest.Summary{}, gen.State{}, err
	}
	w := r.lock
	if w == nil {
		if w, err = d.Lock(); err != nil {
			return ingest.Summary{}, gen.State{}, err
		}
	}
	defer w.Unlock()

	rec := loadRebuildRecord(d)
	now := time.Now().UTC()
	rec.LastStarted, rec.LastFinished, rec.LastTrigger = &now, nil, r.Trigger
	if err := saveRebuildRecord(d, rec); err != nil {
		warn(env, "recording the rebuild", err)
	}
	sum, st, err := rebuild(ctx, env, o, d, w, r)
	end := time.Now().UTC()
	rec.LastFinished = &end
	if err != nil {
		rec.LastError, rec.LastErrorAt = err.Error(), &end
	} else {
		rec.LastSuccess, rec.LastGeneration = &end, st.Current
		rec.LastError, rec.LastErrorAt = "", nil
	}
	if serr := saveRebuildRecord(d, rec); serr != nil {
		warn(env, "recording the rebuild", serr)
	}
	if err != nil {
		return sum, st, fmt.Errorf("rebuild failed, still serving the previous generation: %w", err)
	}
	return sum, st, nil
}

func rebuild(ctx context.Context, env *Env, o options, d *gen.Dir, w *gen.Writer, r rebuildRequest) (ingest.Summary, gen.State, error) {
	src := r.Source
	if src == "" {
		var err error
		if src, err = recordedSource(d); err != nil {
			return ingest.Summary{}, gen.State{}, err
		}
	}
	open := r.open
	if open == nil {
		open = openSource
	}
	fsys, err := open(src)
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	b := buildOptions{
		Fresh: true, Strict: true, Reason: "reindex", Source: src, Gate: r.Gate,
		serving: r.serving, engine: r.engine,
	}
	if b.engine.vectors == nil {
		vb, err := newBackend(env, o)
		if err != nil {
			return ingest.Summary{}, gen.State{}, err
		}
		defer vb.Close()
		b.engine.vectors = vb
	}
	return buildLocked(ctx, env, o, d, w, fsys, b)
}

// rebuildRecordFile, in the knowledge base's root, remembers the last
// rebuild, whichever process ran it.
const rebuildRecordFile = "rebuild.json"

type rebuildRecord struct {
	LastStarted    *time.Time `json:"last_started,omitempty"`
	LastFinished   *time.Time `json:"last_finished,omitempty"`
	LastSuccess    *time.Time `json:"last_success,omitempty"`
	LastError      string     `json:"last_error,omitempty"` // why the last rebuild failed; cleared by a success
	LastErrorAt    *time.Time `json:"last_error_at,omitempty"`
	LastTrigger    string     `json:"last_trigger,omitempty"`
	LastGeneration string     `json:"last_generation,omitempty"` // made by the last successful rebuild
}

// loadRebuildRecord reads rebuild.json; a missing or unreadable one is
// an empty record (it is a report, not state anything depends on).
func loadRebuildRecord(d *gen.Dir) rebuildRecord {
	var r rebuildRecord
	if b, err := os.ReadFile(filepath.Join(d.Root(), rebuildRecordFile)); err == nil {
		_ = json.Unmarshal(b, &r)
	}
	return r
}

func saveRebuildRecord(d *gen.Dir, r rebuildRecord) error {
	return writeJSONFile(filepath.Join(d.Root(), rebuildRecordFile), r)
}

func runRollback(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "rollback", "quarry rollback [flags]",
		"Switch serving back to the previous generation (the one before the last ingest or\n"+
			"reindex). A running server picks it up within a second. Rolling back twice undoes the\n"+
			"first rollback.", &o, "vectors")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	vb, err := newBackend(env, o)
	if err != nil {
		return err
	}
	defer vb.Close()
	st, err := rollback(ctx, env, o, vb)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Rolled back to generation %s (%d documents, %d chunks); %s is now the previous generation.\n",
		st.Current, st.Info.Documents, st.Info.Chunks, st.Previous)
	return nil
}

// rollback switches to the previous generation, the vector backend's
// pointer first (as publish does), state.json second.
func rollback(ctx context.Context, env *Env, o options, vb vectorBackend) (gen.State, error) {
	d, err := gen.Open(kbRoot(o.Data))
	if err != nil {
		return gen.State{}, err
	}
	w, err := d.Lock()
	if err != nil {
		return gen.State{}, err
	}
	defer w.Unlock()
	s, err := d.State()
	if err != nil {
		return gen.State{}, err
	}
	if s.Previous == "" {
		return gen.State{}, quarry.Errorf(quarry.CodeNotFound, "there is no previous generation to roll back to (generation %s is the only one)", s.Current)
	}
	rec, err := readVectorsRecord(d.Path(s.Previous))
	if err != nil {
		return gen.State{}, err
	}
	if err := checkRecordKind(s.Previous, rec, vb.Kind()); err != nil {
		return gen.State{}, err
	}
	undo, err := vb.Publish(ctx, s.Previous)
	if err != nil {
		return gen.State{}, err
	}
	st, err := w.Rollback()
	if err != nil {
		if uerr := undo(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, fmt.Errorf("switching the %s store back: %w", vb.Kind(), uerr))
		}
		return gen.State{}, err
	}
	return st, nil
}
