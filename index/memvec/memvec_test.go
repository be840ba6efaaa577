package memvec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/quarry-kb/quarry"

	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/vectortest"
)

func TestConformanceMemory(t *testing.T) {
	vectortest.Run(t, func(t *testing.T, space index.Space) index.VectorStore {
		s, err := Open("", space, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceDisk(t *testing.T) {
	vectortest.Run(t, func(t *testing.T, space index.Space) index.VectorStore {
		s, err := Open(t.TempDir(), space, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// model is a brute-force reference store.
type model struct {
	space index.Space
	recs  map[string]index.Record
}

func (m *model) search(q index.Vector, k int, f index.Filter) []index.Hit {
	var hits []index.Hit
	df := map[uint32]int{}
	for _, r := range m.recs {
		for i, ix := range r.Vector.Indices {
			if r.Vector.Values[i] != 0 {
				df[ix]++
			}
		}
	}
	for _, r := range m.recs {
		if len(f.DocIDs) > 0 && !slices.Contains(f.DocIDs, r.Chunk.DocID) || f.Lang != "" && f.Lang != r.Chunk.Lang {
			continue
		}
		var score float64
		if m.space.Sparse {
			overlap := false
			for i, qi := range q.Indices {
				for j, ix := range r.Vector.Indices {
					if ix == qi && r.Vector.Values[j] != 0 {
						w := float64(q.Values[i])
						if m.space.IDF {
							w *= idf(df[ix], len(m.recs))
						}
						score += w * float64(r.Vector.Values[j])
						overlap = true
					}
				}
			}
			if !overlap {
				continue
			}
		} else {
			var dot, nq, nv float64
			for i, x := range q.Dense {
				y := float64(r.Vector.Dense[i])
				dot += float64(x) * y
				nq += float64(x) * float64(x)
				nv += y * y
			}
			score = dot / math.Sqrt(nq*nv)
		}
		hits = append(hits, index.Hit{Chunk: r.Chunk, Score: score})
	}
	slices.SortFunc(hits, func(a, b index.Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Chunk.ID, b.Chunk.ID)
	})
	return hits[:min(k, len(hits))]
}

func randomVector(rng *rand.Rand, sp index.Space) index.Vector {
	if !sp.Sparse {
		v := make([]float32, sp.Dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return index.Vector{Dense: v}
	}
	perm := rng.Perm(sp.Dim)[:1+rng.IntN(8)]
	v := index.Vector{}
	for _, ix := range perm {
		x := float32(0.1 + rng.Float64())
		if sp.Embedder == "ref-signed" && rng.IntN(3) == 0 {
			x = -x // scores of either sign, and sums that cancel
		}
		v.Indices = append(v.Indices, uint32(ix))
		v.Values = append(v.Values, x)
	}
	return v
}

// Random upserts, replacements and deletes, enough to force compactions,
// checked against a brute-force model.
func TestMatchesReference(t *testing.T) {
	for _, sp := range []index.Space{
		{Embedder: "ref-dense", Dim: 8},
		{Embedder: "ref-sparse", Dim: 40, Sparse: true, IDF: true},
		{Embedder: "ref-signed", Dim: 40, Sparse: true},
	} {
		t.Run(sp.Embedder, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			s := mustOpen(t, t.TempDir(), sp, Config{Workers: 2})
			defer s.Close()
			m := &model{space: sp, recs: map[string]index.Record{}}
			ctx := context.Background()
			compactions, lastSlots := 0, 0
			for step := range 1500 {
				switch rng.IntN(10) {
				case 0: // delete a couple of docs
					docs := []string{fmt.Sprintf("d%d", rng.IntN(30)), fmt.Sprintf("d%d", rng.IntN(30))}
					if err := s.DeleteDocs(ctx, docs...); err != nil {
						t.Fatal(err)
					}
					for id, r := range m.recs {
						if slices.Contains(docs, r.Chunk.DocID) {
							delete(m.recs, id)
						}
					}
				default: // upsert a small batch, often replacing
					var recs []index.Record
					for range 1 + rng.IntN(4) {
						doc := fmt.Sprintf("d%d", rng.IntN(30))
						c := testChunk(doc, rng.IntN(12))
						c.Lang = []string{"en", "zh"}[rng.IntN(2)]
						recs = append(recs, index.Record{Chunk: c, Vector: randomVector(rng, sp)})
					}
					if err := s.Upsert(ctx, recs); err != nil {
						t.Fatal(err)
					}
					for _, r := range recs {
						m.recs[r.Chunk.ID] = r
					}
				}
				if slots := s.Stats().Slots; slots < lastSlots {
					compactions++
					lastSlots = slots
				} else {
					lastSlots = slots
				}
				if step%25 != 0 {
					continue
				}
				q := randomVector(rng, sp)
				for _, f := range []index.Filter{{}, {Lang: "zh"}, {DocIDs: []string{"d1", "d2", "d3"}}, {DocIDs: []string{"d4"}, Lang: "en"}} {
					got, err := s.Search(ctx, q, 7, f)
					if err != nil {
						t.Fatal(err)
					}
					want := m.search(q, 7, f)
					if len(got) != len(want) {
						t.Fatalf("step %d filter %+v: %d hits, want %d", step, f, len(got), len(want))
					}
					for i := range got {
						// Sparse values are stored to 15 bits of their list's
						// scale: a relative tolerance, as in index/vectortest.
						if got[i].Chunk != want[i].Chunk || math.Abs(got[i].Score-want[i].Score) > 1e-4*max(1, math.Abs(want[i].Score)) {
							t.Fatalf("step %d filter %+v: hit %d = %s %.5f, want %s %.5f",
								step, f, i, got[i].Chunk.ID, got[i].Score, want[i].Chunk.ID, want[i].Score)
						}
					}
				}
				if n, _ := s.Count(ctx); n != len(m.recs) {
					t.Fatalf("step %d: Count = %d, want %d", step, n, len(m.recs))
				}
			}
			if compactions == 0 {
				t.Fatal("no compaction happened; the test does not cover it")
			}
		})
	}
}

// A point that shares an index with a sparse query is a hit even when
// its score is zero or negative (the search cannot tell it from its sum
// then), and one that shares none is not, in a store holding negative
// values and with a query holding them.
func TestSparseSignedScores(t *testing.T) {
	sp := index.Space{Embedder: "signed", Dim: 10, Sparse: true}
	s := mustOpen(t, "", sp, Config{})
	vec := func(pairs ...float32) index.Vector {
		var v index.Vector
		for i := 0; i < len(pairs); i += 2 {
			v.Indices = append(v.Indices, uint32(pairs[i]))
			v.Values = append(v.Values, pairs[i+1])
		}
		return v
	}
	mustUpsert(t, s,
		index.Record{Chunk: testChunk("pos", 0), Vector: vec(1, 1, 2, 1)},   // q: 1 + 0.5 = 1.5
		index.Record{Chunk: testChunk("zero", 0), Vector: vec(1, 1, 3, 2)},  // 1 - 1 = 0
		index.Record{Chunk: testChunk("neg", 0), Vector: vec(3, 1)},         // -0.5
		index.Record{Chunk: testChunk("other", 0), Vector: vec(4, 1, 5, 1)}, // shares nothing
	)
	for _, tc := range []struct {
		q    index.Vector
		want []string
	}{
		{vec(1, 1, 2, 0.5, 3, -0.5), []string{"pos#0", "zero#0", "neg#0"}},
		// All-positive query values over a store that holds a negative
		// one elsewhere: "neg" still shares index 3 only with other queries.
		{vec(1, 1, 2, 0.5), []string{"pos#0", "zero#0"}},
		{vec(3, -1), []string{"neg#0", "zero#0"}},
	} {
		hits, err := s.Search(context.Background(), tc.q, 10, index.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.Chunk.ID)
		}
		// zero scores 0 and neg -0.5 for the first query; for the last,
		// neg scores -1 and zero -2: ranked below 0 but returned.
		if !slices.Equal(got, tc.want) {
			t.Fatalf("query %v: hits %v, want %v", tc.q, got, tc.want)
		}
	}
}

// A dense search split over workers returns what a single scan returns.
func TestParallelDenseSearch(t *testing.T) {
	sp := index.Space{Embedder: "par", Dim: 128, Distance: "dot"}
	rng := rand.New(rand.NewPCG(3, 4))
	serial := mustOpen(t, "", sp, Config{Workers: 1})
	parallel := mustOpen(t, "", sp, Config{Workers: 4})
	var recs []index.Record
	for i := range 3000 { // 384k floats: over the parallel threshold
		c := testChunk(fmt.Sprintf("d%d", i/10), i%10)
		c.Lang = []string{"en", "zh", "en"}[i%3]
		recs = append(recs, index.Record{Chunk: c, Vector: randomVector(rng, sp)})
	}
	mustUpsert(t, serial, recs...)
	mustUpsert(t, parallel, recs...)
	if 3000*128/parallelFloats+1 < 2 {
		t.Fatal("the store is too small to be searched in parallel")
	}
	for _, f := range []index.Filter{{}, {Lang: "zh"}} {
		q := randomVector(rng, sp)
		a, err := serial.Search(context.Background(), q, 25, f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parallel.Search(context.Background(), q, 25, f)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) || len(a) != 25 {
			t.Fatalf("filter %+v: parallel search differs from serial", f)
		}
	}
}

func TestSearchArguments(t *testing.T) {
	s := mustOpen(t, "", denseSpace, Config{})
	mustUpsert(t, s, batch(denseSpace, "a", 3)...)
	ctx := context.Background()
	if _, err := s.Search(ctx, testQuery(denseSpace), 0, index.Filter{}); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("k=0: %v, want ErrInvalid", err)
	}
	if _, err := s.Search(ctx, index.Vector{Dense: []float32{0, 0, 0}}, 3, index.Filter{}); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("zero cosine query: %v, want ErrInvalid", err)
	}
	bad := testRecord(denseSpace, "b", 0)
	bad.Chunk.DocID = ""
	if err := s.Upsert(ctx, []index.Record{bad}); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("chunk without doc: %v, want ErrInvalid", err)
	}
}

func TestOpenRejectsBadSpace(t *testing.T) {
	for _, sp := range []index.Space{
		{Dim: 3},
		{Embedder: "x"},
		{Embedder: "x", Dim: 3, Distance: "euclid"},
		{Embedder: "x", Dim: 3, IDF: true},
		{Embedder: "x", Dim: 3, Sparse: true, Distance: "cosine"},
	} {
		if _, err := Open("", sp, Config{}); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("Open(%+v) = %v, want ErrInvalid", sp, err)
		}
	}
}

func TestDeadlineIsTimeout(t *testing.T) {
	s := mustOpen(t, "", denseSpace, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()
	_, err := s.Search(ctx, testQuery(denseSpace), 1, index.Filter{})
	if !errors.Is(err, quarry.ErrTimeout) {
		t.Fatalf("Search past its deadline = %v, want ErrTimeout", err)
	}
}
