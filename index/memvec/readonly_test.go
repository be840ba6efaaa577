package memvec

import (
	"context"
	"errors"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// A read-only open shares the directory with the open writer, sees what
// it logged, and refuses writes.
func TestReadOnlyBesideWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sp := index.Space{Embedder: "t", Dim: 2}
	w, err := Open(dir, sp, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := func(id string) index.Record {
		return index.Record{Chunk: quarry.Chunk{ID: id, DocID: "d" + id, Text: id}, Vector: index.Vector{Dense: []float32{1, 0}}}
	}
	if err := w.Upsert(ctx, []index.Record{rec("a"), rec("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, sp, Config{}); err == nil {
		t.Fatal("a second writer opened the store")
	}
	r, err := Open(dir, sp, Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open beside a writer: %v", err)
	}
	defer r.Close()
	if n, err := r.Count(ctx); err != nil || n != 2 {
		t.Errorf("read-only count = %d, %v; want 2", n, err)
	}
	if err := r.Upsert(ctx, []index.Record{rec("c")}); !errors.Is(err, quarry.ErrUnavailable) {
		t.Errorf("read-only upsert: err = %v", err)
	}
	if _, err := Open(t.TempDir(), sp, Config{ReadOnly: true}); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("read-only open of an empty directory: err = %v", err)
	}
}
