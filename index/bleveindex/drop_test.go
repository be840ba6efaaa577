package bleveindex

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2/index/scorch"
)

// Dropping a segment's mapped pages from the resident set changes no
// result: a later read maps them again.
func TestDropSegmentPages(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "kw")
	ix, err := Open(dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	upsert(t, ix, synthetic(2000, 40, 5)...)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, the segments are the mapped files.
	ix, err = Open(dir, Config{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	queries := []string{"w1 w2 w7", "w3", "w0 w1 w2 w3 w4"}
	search := func() [][]string {
		var out [][]string
		for _, q := range queries {
			hits, err := ix.Search(ctx, q, 20)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ids(hits))
		}
		return out
	}
	before := search()
	r, err := ix.reader()
	if err != nil {
		t.Fatal(err)
	}
	mapped := 0
	for _, ss := range r.(*scorch.IndexSnapshot).Segments() {
		if m, ok := ss.Segment().(interface{ Data() []byte }); ok && len(m.Data()) > 0 {
			mapped++
		}
		dropSegment(ss.Segment())
	}
	r.Close()
	if mapped == 0 {
		t.Fatal("no segment is a mapped file")
	}
	ix.decoded.Store(dropEvery) // the next query drops the pages again
	after := search()
	for i := range before {
		if len(after[i]) != len(before[i]) {
			t.Fatalf("%q: %v after dropping, %v before", queries[i], after[i], before[i])
		}
		for j := range before[i] {
			if after[i][j] != before[i][j] {
				t.Fatalf("%q: %v after dropping, %v before", queries[i], after[i], before[i])
			}
		}
	}
}
