package kb

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

// RebuildRequest asks for a full rebuild.
type RebuildRequest struct {
	// Source is the documents folder; "" rebuilds from the recorded
	// sources. A folder given here replaces the recorded source of the
	// knowledge base's root (prefix "").
	Source  string
	Trigger string // "cli", "api" or "schedule", for the status
	// lock is the writer lock when the caller already holds it (the
	// server takes it before answering 202); Reindex releases it.
	lock *gen.Writer
}

// Reindex builds a complete new generation of knowledge base name from
// its sources (nothing is copied from the serving one), validates it
// (strictly: every file read, counts checked, the gate passed) and
// switches to it. It records when it started and how it ended in the
// knowledge base's rebuild.json, for the admin status.
func (m *Manager) Reindex(ctx context.Context, name string, r RebuildRequest) (ingest.Summary, gen.State, error) {
	d, err := m.existing(name)
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
		m.warn("recording the rebuild", err)
	}
	sum, st, err := m.rebuild(ctx, name, d, w, r)
	end := time.Now().UTC()
	rec.LastFinished = &end
	if err != nil {
		rec.LastError, rec.LastErrorAt = err.Error(), &end
	} else {
		rec.LastSuccess, rec.LastGeneration = &end, st.Current
		rec.LastError, rec.LastErrorAt = "", nil
	}
	if serr := saveRebuildRecord(d, rec); serr != nil {
		m.warn("recording the rebuild", serr)
	}
	if err != nil {
		return sum, st, fmt.Errorf("rebuild failed, still serving the previous generation: %w", err)
	}
	m.notify(ctx, name)
	return sum, st, nil
}

func (m *Manager) rebuild(ctx context.Context, name string, d *gen.Dir, w *gen.Writer, r RebuildRequest) (ingest.Summary, gen.State, error) {
	var srcs []Source
	if r.Source != "" {
		root := Source{Path: r.Source}
		if have, err := loadSources(d); err == nil {
			for _, s := range have {
				switch {
				case s.Prefix != "":
					srcs = append(srcs, s)
				case sameSource(s.Path, r.Source):
					// The same folder named again keeps its exclusions.
					root.Exclude, root.FollowSymlinks = s.Exclude, s.FollowSymlinks
				}
			}
		}
		srcs = append([]Source{root}, srcs...)
	} else {
		var err error
		if srcs, err = loadSources(d); err != nil {
			return ingest.Summary{}, gen.State{}, err
		}
	}
	fsys, err := m.openSources(srcs)
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	b := BuildOptions{Fresh: true, Strict: true, Reason: "reindex", Gate: m.cfg.Gate}
	if r.Source != "" {
		b.Source, b.Exclude, b.FollowSymlinks = r.Source, srcs[0].Exclude, srcs[0].FollowSymlinks
	}
	b.sources = srcs
	vb, err := m.vectors(name)
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	defer vb.Close()
	return m.buildLocked(ctx, name, d, w, vb, fsys, b)
}

// openSources opens the sources of a rebuild as one tree: each mounted
// at its prefix.
func (m *Manager) openSources(srcs []Source) (fs.FS, error) {
	if len(srcs) == 1 && srcs[0].Prefix == "" {
		return m.cfg.OpenSource(srcs[0].Path)
	}
	u := unionFS{}
	for _, s := range srcs {
		fsys, err := m.cfg.OpenSource(s.Path)
		if err != nil {
			return nil, err
		}
		if s.Prefix == "" {
			u.root = fsys
			continue
		}
		u.mounts = append(u.mounts, mountFS{fsys: fsys, prefix: s.Prefix})
	}
	return u, nil
}

// rebuildRecordFile, in the knowledge base's root, remembers the last
// rebuild, whichever process ran it.
const rebuildRecordFile = "rebuild.json"

// RebuildRecord is the content of rebuild.json.
type RebuildRecord struct {
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
func loadRebuildRecord(d *gen.Dir) RebuildRecord {
	var r RebuildRecord
	if b, err := os.ReadFile(filepath.Join(d.Root(), rebuildRecordFile)); err == nil {
		_ = json.Unmarshal(b, &r)
	}
	return r
}

func saveRebuildRecord(d *gen.Dir, r RebuildRecord) error {
	return writeJSONFile(filepath.Join(d.Root(), rebuildRecordFile), r)
}

// Rollback switches knowledge base name to its previous generation, the
// vector backend's pointer first (as publish does), state.json second.
func (m *Manager) Rollback(ctx context.Context, name string) (gen.State, error) {
	d, err := m.existing(name)
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
	vb, err := m.vectors(name)
	if err != nil {
		return gen.State{}, err
	}
	defer vb.Close()
	rec, err := ReadVectorsRecord(d.Path(s.Previous))
	if err != nil {
		return gen.State{}, err
	}
	if err := CheckRecordKind(s.Previous, rec, vb.Kind()); err != nil {
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
	m.notify(ctx, name)
	return st, nil
}

// sameSource reports whether two recorded source paths name the same
// folder.
func sameSource(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
