package gen

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quarry-kb/quarry"
)

func mustLock(t *testing.T, d *Dir) *Writer {
	t.Helper()
	w, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Unlock() })
	return w
}

func build(t *testing.T, w *Writer, from, content string) string {
	t.Helper()
	g, dir, err := w.Begin(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if content != "" {
		if err := os.WriteFile(filepath.Join(dir, "sub", "data"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestLifecycle(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.State(); !errors.Is(err, quarry.ErrNotFound) {
		t.Fatalf("State of empty dir: %v, want ErrNotFound", err)
	}
	w := mustLock(t, d)
	g1 := build(t, w, "", "one")
	if _, err := w.Switch(Info{Gen: g1, Documents: 1, Chunks: 2}); err != nil {
		t.Fatal(err)
	}
	g2 := build(t, w, g1, "")
	if b, err := os.ReadFile(filepath.Join(d.Path(g2), "sub", "data")); err != nil || string(b) != "one" {
		t.Fatalf("copied generation data = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(d.Path(g2), buildingMark)); err != nil {
		t.Fatalf("new generation not marked as building: %v", err)
	}
	s, err := w.Switch(Info{Gen: g2})
	if err != nil {
		t.Fatal(err)
	}
	if s.Current != g2 || s.Previous != g1 || s.Versions != 2 {
		t.Fatalf("state after 2 switches = %+v", s)
	}
	if _, err := os.Stat(filepath.Join(d.Path(g2), buildingMark)); !os.IsNotExist(err) {
		t.Fatalf("switched generation still marked as building")
	}
	g3 := build(t, w, g2, "three")
	if _, err := w.Switch(Info{Gen: g3, VectorStore: "qdrant"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path(g1)); err != nil {
		t.Errorf("Switch removed generation %s before Prune: %v", g1, err)
	}
	half := build(t, w, g3, "") // being built: Prune must leave it
	removed, err := w.Prune()
	if err != nil || len(removed) != 1 || removed[0] != g1 {
		t.Fatalf("Prune = %v, %v; want [%s]", removed, err, g1)
	}
	if _, err := os.Stat(d.Path(g1)); !os.IsNotExist(err) {
		t.Errorf("generation %s not pruned", g1)
	}
	if _, err := os.Stat(d.Path(half)); err != nil {
		t.Errorf("Prune removed generation %s being built: %v", half, err)
	}
	if gens, err := d.Generations(); err != nil || len(gens) != 2 || gens[0] != g2 || gens[1] != g3 {
		t.Errorf("Generations = %v, %v; want [%s %s] (not the one being built)", gens, err, g2, g3)
	}
	if err := w.Abort(half); err != nil {
		t.Fatal(err)
	}
	if s, err := d.State(); err != nil || s.Info.VectorStore != "qdrant" {
		t.Errorf("state info = %+v, %v; want vector store recorded", s.Info, err)
	}
	s, err = w.Rollback()
	if err != nil {
		t.Fatal(err)
	}
	if s.Current != g2 || s.Previous != g3 || s.Info.Reason != "rollback" {
		t.Fatalf("after rollback: %+v", s)
	}
	s, err = w.Rollback()
	if err != nil || s.Current != g3 {
		t.Fatalf("rollback of rollback: %+v, %v", s, err)
	}
	if err := w.Abort(g3); !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("Abort of serving generation: %v, want ErrConflict", err)
	}
}

func TestLockAndAbandoned(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	g1 := build(t, w, "", "one")
	if _, err := w.Switch(Info{Gen: g1}); err != nil {
		t.Fatal(err)
	}
	half := build(t, w, g1, "half")
	if _, err := d.Lock(); !errors.Is(err, quarry.ErrConflict) {
		t.Fatalf("second Lock: %v, want ErrConflict", err)
	}
	if busy, err := d.Busy(); err != nil || !busy {
		t.Fatalf("Busy while locked = %v, %v; want true", busy, err)
	}
	w.Unlock() // the writer "crashes" leaving half built
	if busy, err := d.Busy(); err != nil || busy {
		t.Fatalf("Busy after unlock = %v, %v; want false", busy, err)
	}
	if _, err := os.Stat(d.Path(half)); err != nil {
		t.Fatalf("Busy cleaned up %s; only Lock should: %v", half, err)
	}
	w2 := mustLock(t, d)
	if _, err := os.Stat(d.Path(half)); !os.IsNotExist(err) {
		t.Fatalf("abandoned generation %s not removed", half)
	}
	s, err := d.State()
	if err != nil || s.Current != g1 {
		t.Fatalf("state after crash: %+v, %v", s, err)
	}
	if _, err := w2.Rollback(); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("Rollback with no previous: %v, want ErrNotFound", err)
	}
	next := build(t, w2, g1, "")
	if next == half {
		// reusing a number is fine, but the directory must be fresh
		if _, err := os.Stat(filepath.Join(d.Path(next), "sub", "data")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w2.Abort(next); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path(next)); !os.IsNotExist(err) {
		t.Error("aborted generation still on disk")
	}
}
