package bleveindex

import (
	"context"
	"fmt"
	"testing"

	"github.com/blevesearch/bleve/v2/index/scorch"
	bindex "github.com/blevesearch/bleve_index_api"
)

// Scores from the in-memory lengths equal scores from doc values, as
// segments come and go under writes and merges.
func TestLensCacheMatchesDocValues(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{})
	scores := func(q string, cached bool) map[string]float64 {
		t.Helper()
		r, err := ix.reader()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		bq := &bm25Query{terms: ix.queryTerms(q), scoring: ix.scoring}
		if cached {
			bq.lens = &ix.lens
		}
		found, err := ix.collect(ctx, r, bq, 100, false)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, h := range found {
			out[h.ID] = h.Score
		}
		return out
	}
	for round := range 6 {
		upsert(t, ix, helpCentre...)
		for i := range 5 {
			upsert(t, ix, chunk(fmt.Sprintf("r%d", round), i, "Refund round", fmt.Sprintf("refund shipping words %d %s", i, string(rune('a'+round)))))
		}
		if round%2 == 1 {
			if err := ix.DeleteDocs(ctx, fmt.Sprintf("r%d", round-1)); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{"refund", "shipping words", "退款", "round warranty"} {
			want, got := scores(q, false), scores(q, true)
			if len(want) == 0 || len(got) != len(want) {
				t.Fatalf("round %d %q: %d hits cached, %d from doc values", round, q, len(got), len(want))
			}
			for id, s := range want {
				if got[id] != s { // bit for bit: the same additions in the same order
					t.Errorf("round %d %q: %s scores %v cached, %v from doc values", round, q, id, got[id], s)
				}
			}
		}
	}
	ix.lens.mu.Lock()
	n := len(ix.lens.segs)
	ix.lens.mu.Unlock()
	r, _ := ix.reader()
	defer r.Close()
	if segs := countSegments(r); n > segs {
		t.Errorf("the cache holds %d segments, the index %d: gone segments are not dropped", n, segs)
	}
}

// countSegments returns the segments of a scorch reader.
func countSegments(r bindex.IndexReader) int {
	if snap, ok := r.(*scorch.IndexSnapshot); ok {
		return len(snap.Segments())
	}
	return 0
}
