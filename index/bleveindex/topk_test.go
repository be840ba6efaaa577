package bleveindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

// referenceTop is the top k of q by bleve's searcher, document at a time
// with lengths from doc values (the path topK replaces), ordered by
// score then chunk ID.
func referenceTop(t *testing.T, ix *Index, q string, k int, s Scoring) []scoredDoc {
	t.Helper()
	r, err := ix.reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	found, err := ix.collect(context.Background(), r, &bm25Query{terms: ix.queryTerms(q), scoring: s}, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]scoredDoc, len(found))
	for i, h := range found {
		out[i] = scoredDoc{score: h.Score, id: h.ID}
	}
	slices.SortFunc(out, func(a, b scoredDoc) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out[:min(k, len(out))]
}

// The fast path returns the same chunks with the same scores, bit for
// bit, in the same order, as bleve's searcher: over several segments,
// with deleted and replaced chunks, ties at the k-th place, repeated
// query terms, fields left out of scoring, and every k.
func TestTopKMatchesSearcher(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int64
		minLen uint64
	}{
		{"uncached", 0, 0},
		// Every list cached, in a cache too small for all of them.
		{"cached, evicting", 16 << 10, 0},
		{"cached, non-empty lists only", 16 << 10, 1},
		{"cached, all fit", 64 << 20, 0},
		// Every query of two terms or more pruned (prune.go), lists
		// of an eighth of their segment or more dense.
		{"pruned, dense", 64 << 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "pruned") {
				lowerThresholds(t)
			}
			ix := openTest(t, Config{PostingsCacheBytes: -1})
			ix.postings.budget, ix.postings.minLen = tc.budget, tc.minLen
			testTopK(t, ix)
			if tc.budget > 0 && len(ix.postings.m) == 0 {
				t.Error("nothing was cached")
			}
			checkLRU(t, &ix.postings)
		})
	}
}

// checkLRU checks the cache's bookkeeping: the list holds exactly the
// map's entries, and bytes is their size, within the budget.
func checkLRU(t *testing.T, c *postingsCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		return
	}
	var n int
	var bytes int64
	for e := c.lru.next; e != &c.lru; e = e.next {
		if e.next.prev != e {
			t.Fatal("broken list")
		}
		if c.m[e.key] != e {
			t.Fatalf("listed entry %v is not in the map", e.key)
		}
		n++
		bytes += e.size()
	}
	if n != len(c.m) || bytes != c.bytes || bytes > c.budget {
		t.Errorf("%d listed, %d in the map; %d bytes listed, %d counted, budget %d", n, len(c.m), bytes, c.bytes, c.budget)
	}
}

// The postings cache drops the least recently used list, a lookup
// counting as a use.
func TestPostingsCacheLRU(t *testing.T) {
	list := func(n int) postings {
		return postings{nums: make([]uint32, n), freqs: make([]uint32, n)}
	}
	key := func(term string) postingsKey { return postingsKey{term: term} }
	one := list(10).size()
	c := &postingsCache{budget: 3 * one}
	for _, term := range []string{"a", "b", "c"} {
		c.put(key(term), list(10))
	}
	if _, ok := c.lookup(key("a")); !ok {
		t.Fatal("a not cached")
	}
	check := func(want ...string) { // looks up a to e in order
		t.Helper()
		for _, term := range []string{"a", "b", "c", "d", "e"} {
			_, ok := c.lookup(key(term))
			if ok != slices.Contains(want, term) {
				t.Errorf("%s cached: %v, want %v", term, ok, !ok)
			}
		}
	}
	c.put(key("d"), list(10)) // drops b, the least recently used
	check("a", "c", "d")
	c.put(key("e"), list(25)) // a list and a half: drops a and c, used before d
	check("d", "e")
	checkLRU(t, c)
	c.putEmpty(key("none"))
	if p, ok := c.lookup(key("none")); !ok || len(p.nums) != 0 {
		t.Errorf("empty list: %v %v", p, ok)
	}
	checkLRU(t, c)
}

func testTopK(t *testing.T, ix *Index) {
	ctx := context.Background()
	for round := range 5 {
		chunks := synthetic(120, 30, uint64(round+1))
		// Identical chunks under different IDs: ties.
		for i := range 6 {
			c := chunks[i]
			c.ID, c.DocID = fmt.Sprintf("twin%d-%d#0", round, i), fmt.Sprintf("twin%d-%d", round, i)
			c.Text, c.Title, c.Heading = "w1 w2 twin words", "twin", ""
			chunks = append(chunks, c)
		}
		upsert(t, ix, chunks...)
		upsert(t, ix, helpCentre...)
		if round > 0 {
			if err := ix.DeleteDocs(ctx, fmt.Sprintf("doc%d-3", round), fmt.Sprintf("twin%d-1", round-1)); err != nil {
				t.Fatal(err)
			}
		}
		if round%2 == 0 {
			compareTopK(t, ix)
			// Deletions alone, no new segment: the cached lists of
			// the segments must not serve the deleted chunks.
			if err := ix.DeleteDocs(ctx, fmt.Sprintf("doc%d-5", round), fmt.Sprintf("twin%d-2", round)); err != nil {
				t.Fatal(err)
			}
			compareTopK(t, ix)
		}
	}
	r, _ := ix.reader()
	defer r.Close()
	if segs := countSegments(r); segs < 2 {
		t.Logf("only %d segment(s)", segs)
	}
}

func compareTopK(t *testing.T, ix *Index) {
	t.Helper()
	ctx := context.Background()
	queries := []string{"w1", "w1 w2", "w2 w1 w1 w3", "twin words", "w5 w7 w9 wa wb", "refund shipping", "退款", "zzzz", "w3 zzzz"}
	scorings := []Scoring{{}, {TitleBoost: -1, HeadingBoost: -1}, {K1: 0.9, B: 0.4, TitleBoost: 1, HeadingBoost: 1}, {B: -1}}
	for _, q := range queries {
		for _, sc := range scorings {
			for _, k := range []int{1, 2, 5, 10, 100, 1000} {
				want := referenceTop(t, ix, q, k, sc.withDefaults())
				got, err := ix.SearchScored(ctx, q, k, sc)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%q k=%d %+v: %d hits, want %d", q, k, sc, len(got), len(want))
				}
				for i := range got {
					if got[i].Chunk.ID != want[i].id || got[i].Score != want[i].score {
						t.Fatalf("%q k=%d %+v: hit %d is %s %v, want %s %v", q, k, sc, i, got[i].Chunk.ID, got[i].Score, want[i].id, want[i].score)
					}
				}
			}
		}
	}
}

// The fast path's scratch memory is reused across queries and
// snapshots of different sizes without leaking scores.
func TestTopKScratchReuse(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{})
	upsert(t, ix, synthetic(300, 20, 9)...)
	first, err := ix.Search(ctx, "w1 w2 w3", 20)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ix.Search(ctx, "w4 w5", 50); err != nil {
			t.Fatal(err)
		}
		again, err := ix.Search(ctx, "w1 w2 w3", 20)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			if again[i].Chunk.ID != first[i].Chunk.ID || again[i].Score != first[i].Score {
				t.Fatalf("hit %d: %s %v, first time %s %v", i, again[i].Chunk.ID, again[i].Score, first[i].Chunk.ID, first[i].Score)
			}
		}
	}
	// A smaller index after a bigger one.
	small := openTest(t, Config{})
	upsert(t, small, quarry.Chunk{ID: "a#0", DocID: "a", Path: "a.md", Text: "w1 alone", Lang: "en"})
	hits, err := small.Search(ctx, "w1", 10)
	if err != nil || len(hits) != 1 || hits[0].Chunk.ID != "a#0" {
		t.Fatalf("small index: %v %v", hits, err)
	}
}

// Queries wait for one of a bounded number of score arrays, and give up
// when their context ends while waiting.
func TestTopKSlotsBounded(t *testing.T) {
	ix := openTest(t, Config{})
	upsert(t, ix, synthetic(50, 20, 3)...)
	for range cap(ix.slots) { // every slot taken
		ix.slots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ix.Search(ctx, "w1 w2", 10); quarry.ErrorCode(err) != quarry.CodeTimeout {
		t.Fatalf("search with every slot taken: %v, want a timeout", err)
	}
	<-ix.slots // one free again
	if hits, err := ix.Search(context.Background(), "w1 w2", 10); err != nil || len(hits) == 0 {
		t.Fatalf("search with a free slot: %d hits, %v", len(hits), err)
	}
}

// SearchRanking ranks as bleve's searcher does (same IDs, same scores,
// same order), its Load reads back the chunks that were indexed, in any
// order, and it reads them from the snapshot it ranked on: chunks
// deleted or replaced after the ranking still load as they were.
func TestSearchRanking(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{})
	indexed := map[string]quarry.Chunk{}
	for round := range 3 {
		chunks := append(synthetic(80, 30, uint64(round+1)), helpCentre...)
		for i := range chunks {
			chunks[i].Page, chunks[i].Tokens, chunks[i].Heading = i%3, 10+i, fmt.Sprintf("h%d", i%4)
			indexed[chunks[i].ID] = chunks[i]
		}
		upsert(t, ix, chunks...) // several segments
	}
	queries := []string{"w1", "w1 w2", "w2 w1 w1 w3", "w5 w7 w9 wa wb", "refund shipping", "退款", "zzzz"}
	for _, q := range queries {
		for _, k := range []int{1, 3, 10, 100} {
			want := referenceTop(t, ix, q, k, ix.Scoring())
			rk, err := ix.SearchRanking(ctx, q, k)
			if err != nil {
				t.Fatal(err)
			}
			if len(rk.Hits) != len(want) {
				t.Fatalf("%q k=%d: %d hits, want %d", q, k, len(rk.Hits), len(want))
			}
			for i, h := range rk.Hits {
				if h.Chunk.ID != want[i].id || h.Score != want[i].score {
					t.Fatalf("%q k=%d: hit %d is %s %v, want %s %v", q, k, i, h.Chunk.ID, h.Score, want[i].id, want[i].score)
				}
			}
			for i := len(rk.Hits) - 1; i >= 0; i-- { // any order
				c, err := rk.Load(i)
				if err != nil {
					t.Fatal(err)
				}
				if c != indexed[want[i].id] {
					t.Fatalf("%q k=%d: hit %d loads %+v, want %+v", q, k, i, c, indexed[want[i].id])
				}
			}
			if _, err := rk.Load(len(rk.Hits)); err == nil {
				t.Errorf("%q k=%d: Load past the hits gives no error", q, k)
			}
			rk.Release()
		}
	}

	rk, err := ix.SearchRanking(ctx, "refund", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rk.Release()
	if len(rk.Hits) == 0 {
		t.Fatal("no hits for refund")
	}
	var docs []string
	for _, h := range rk.Hits {
		docs = append(docs, indexed[h.Chunk.ID].DocID)
	}
	if err := ix.DeleteDocs(ctx, docs...); err != nil {
		t.Fatal(err)
	}
	after, err := ix.Search(ctx, "refund", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Fatalf("deleted chunks still found: %v", ids(after))
	}
	for i, h := range rk.Hits {
		c, err := rk.Load(i)
		if err != nil {
			t.Fatal(err)
		}
		if c != indexed[h.Chunk.ID] {
			t.Errorf("hit %d loads %+v after the deletion, want %+v", i, c, indexed[h.Chunk.ID])
		}
	}
}

// A ranking outlives the index's Close: its snapshot keeps the segments
// it reads (a leg abandoned by the retriever may report after the
// engine closed the index).
func TestSearchRankingAfterClose(t *testing.T) {
	ix, err := Open(t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	upsert(t, ix, helpCentre...)
	rk, err := ix.SearchRanking(context.Background(), "refund", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if len(rk.Hits) == 0 {
		t.Fatal("no hits for refund")
	}
	for i, h := range rk.Hits {
		c, err := rk.Load(i)
		if err != nil || c.ID != h.Chunk.ID || c.Text == "" {
			t.Errorf("hit %d after Close: %+v, %v", i, c, err)
		}
	}
	rk.Release()
	if _, err := ix.SearchRanking(context.Background(), "refund", 10); !errors.Is(err, quarry.ErrUnavailable) {
		t.Errorf("ranking on a closed index: %v, want unavailable", err)
	}
}

// The pruned path (prune.go) returns what the full term-at-a-time path
// returns, bit for bit, on an index where it prunes: common words with
// rare ones, twins tying at the k-th place, several segments and
// deletions, every scoring and k 1, 10 and 100.
func TestPrunedMatchesFull(t *testing.T) {
	lowerThresholds(t)
	ctx := context.Background()
	ix := openTest(t, Config{})
	r := rand.New(rand.NewPCG(3, 4))
	var queries []string
	for round := range 4 {
		chunks := synthetic(1500, 40, uint64(round+11))
		// Twins: the same text under other IDs, so that scores tie,
		// also at the k-th place.
		for i := range 60 {
			c := chunks[r.IntN(len(chunks))]
			c.ID, c.DocID = fmt.Sprintf("twin%d-%d#0", round, i), fmt.Sprintf("twin%d-%d", round, i)
			chunks = append(chunks, c)
		}
		upsert(t, ix, chunks...)
		if round > 0 {
			if err := ix.DeleteDocs(ctx, fmt.Sprintf("doc%d-7", round+10), fmt.Sprintf("twin%d-3", round-1)); err != nil {
				t.Fatal(err)
			}
		}
		for range 40 {
			words := strings.Fields(chunks[r.IntN(len(chunks))].Text)
			n := 2 + r.IntN(4)
			at := r.IntN(len(words) - n)
			queries = append(queries, strings.Join(words[at:at+n], " "))
		}
	}
	queries = append(queries, "w0 w1 w2", "w0 w1 w2 w3 w4 w5", "w0 w0 w1 w9999", "w1 zzzz")
	scorings := []Scoring{{}, {TitleBoost: -1, HeadingBoost: -1}, {K1: 0.9, B: 0.4, TitleBoost: 1, HeadingBoost: 1}, {B: -1}}
	before := ix.pruned.Load()
	for _, q := range queries {
		for _, sc := range scorings {
			for _, k := range []int{1, 10, 100} {
				ix.postings.budget = -1 // the full path
				want, err := ix.SearchScored(ctx, q, k, sc)
				if err != nil {
					t.Fatal(err)
				}
				ix.postings.budget = 64 << 20
				got, err := ix.SearchScored(ctx, q, k, sc)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%q k=%d %+v: %d hits, want %d", q, k, sc, len(got), len(want))
				}
				for i := range got {
					if got[i].Chunk.ID != want[i].Chunk.ID || got[i].Score != want[i].Score {
						t.Fatalf("%q k=%d %+v: hit %d is %s %v, want %s %v", q, k, sc, i, got[i].Chunk.ID, got[i].Score, want[i].Chunk.ID, want[i].Score)
					}
				}
			}
		}
	}
	dense := 0
	for _, e := range ix.postings.m {
		if e.dense != nil {
			dense++
		}
	}
	t.Logf("%d of %d cached lists dense", dense, len(ix.postings.m))
	if dense == 0 {
		t.Error("no list dense")
	}
	n := ix.pruned.Load() - before
	t.Logf("%d of %d searches pruned", n, len(queries)*len(scorings)*3)
	if n < int64(len(queries)) {
		t.Errorf("only %d searches pruned", n)
	}
}

// lowerThresholds makes every query of two terms or more take the
// pruned path and lists of an eighth of their segment dense, however
// small the index, until t ends.
func lowerThresholds(t *testing.T) {
	p, d := pruneFrom, denseFrom
	pruneFrom, denseFrom = 0, 0
	t.Cleanup(func() { pruneFrom, denseFrom = p, d })
}
