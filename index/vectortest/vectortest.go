// Package vectortest is the conformance suite that every index.VectorStore
// passes: the embedded store (index/memvec) and the Qdrant store run the
// very same cases, so callers can rely on one behaviour whatever the
// backend.
//
// The suite is backend-neutral: it makes no timing assumptions, does not
// rely on persistence, compares scores with a tolerance and avoids ties
// in every expected order. It does assume read-your-writes: once Upsert
// or DeleteDocs has returned, Search and Count see the change (for Qdrant,
// write with wait=true).
//
// The contract it checks, beyond the comments on index.VectorStore:
//   - dense cosine scores are cosine similarities; dense dot and sparse
//     scores are dot products; with Space.IDF, each query weight is
//     multiplied by ln(1 + (N - n + 0.5)/(n + 0.5)), N the points in the
//     store and n the points with that index nonzero (Qdrant's
//     Modifier.Idf), kept current across upserts and deletes;
//   - sparse search returns only points that share a nonzero index with
//     the query, so an empty sparse query returns no hits, and an empty
//     sparse vector (the embedding of an empty text) is stored but never
//     found;
//   - a vector of the wrong dimension or kind, a malformed sparse vector,
//     a non-finite value or an empty chunk ID is rejected with
//     quarry.ErrInvalid or quarry.ErrConflict, and a rejected batch
//     changes nothing (the whole batch is validated before any write);
//   - a canceled context is honoured (quarry.ErrorCode(err) is
//     quarry.CodeCanceled) and a call made with it changes nothing.
package vectortest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Spaces used by the suite. Backends whose open function needs to know
// the spaces in advance (to create collections, say) can range over it.
var (
	DenseCosine = index.Space{Embedder: "vectortest-dense", Dim: 4, Distance: "cosine"}
	DenseDot    = index.Space{Embedder: "vectortest-dense", Dim: 4, Distance: "dot"}
	Sparse      = index.Space{Embedder: "vectortest-sparse", Dim: 100, Sparse: true}
	SparseIDF   = index.Space{Embedder: "vectortest-sparse", Dim: 100, Sparse: true, IDF: true}
	Spaces      = []index.Space{DenseCosine, DenseDot, Sparse, SparseIDF}
)

// Run runs the conformance suite against the stores that open returns.
//
// open must return a new, empty store for space each time it is called
// (every subtest gets its own) and fail t if it cannot. Run closes each
// store when its subtest ends and reports a Close error; open registers
// any other cleanup (temporary directories, servers) on t itself.
func Run(t *testing.T, open func(t *testing.T, space index.Space) index.VectorStore) {
	t.Helper()
	s := &suite{open: open}
	cases := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Space", s.testSpace},
		{"EmptyStore", s.testEmptyStore},
		{"DenseCosine", s.testDenseCosine},
		{"DenseDot", s.testDenseDot},
		{"SparseDot", s.testSparseDot},
		{"SparseOnlyOverlapping", s.testSparseOnlyOverlapping},
		{"SparseIDF", s.testSparseIDF},
		{"SparseIDFFollowsChanges", s.testSparseIDFFollowsChanges},
		{"UpsertReplaces", s.testUpsertReplaces},
		{"DeleteDocs", s.testDeleteDocs},
		{"Count", s.testCount},
		{"Filter", s.testFilter},
		{"KLargerThanStore", s.testKLargerThanStore},
		{"ChunkRoundTrip", s.testChunkRoundTrip},
		{"RejectsBadVectors", s.testRejectsBadVectors},
		{"RejectsBadQueries", s.testRejectsBadQueries},
		{"ConcurrentSearchDuringUpsert", s.testConcurrent},
		{"CanceledContext", s.testCanceled},
	}
	for _, c := range cases {
		t.Run(c.name, c.fn)
	}
}

type suite struct {
	open func(t *testing.T, space index.Space) index.VectorStore
}

// store opens a fresh store and closes it when t ends.
func (s *suite) store(t *testing.T, space index.Space) index.VectorStore {
	t.Helper()
	st := s.open(t, space)
	if st == nil {
		t.Fatalf("open(%+v) returned a nil store", space)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// Tolerance for score comparisons: stores compute in float32.
const tolerance = 1e-4

func near(got, want float64) bool {
	return math.Abs(got-want) <= tolerance*math.Max(1, math.Abs(want))
}

// chunk returns a chunk with every field set, derived from its doc and
// ordinal, so that round trips can be checked.
func chunk(docID string, ordinal int) quarry.Chunk {
	return quarry.Chunk{
		ID:      fmt.Sprintf("%s#%d", docID, ordinal),
		DocID:   docID,
		Path:    docID + ".md",
		Title:   "Title of " + docID,
		Ordinal: ordinal,
		Text:    fmt.Sprintf("text of chunk %d of %s", ordinal, docID),
		Tokens:  7 + ordinal,
		Lang:    "en",
	}
}

func dense(xs ...float32) index.Vector { return index.Vector{Dense: xs} }

// sparse builds a sparse vector from index, value pairs.
func sparse(pairs ...float64) index.Vector {
	v := index.Vector{Indices: []uint32{}, Values: []float32{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Indices = append(v.Indices, uint32(pairs[i]))
		v.Values = append(v.Values, float32(pairs[i+1]))
	}
	return v
}

func rec(docID string, ordinal int, v index.Vector) index.Record {
	return index.Record{Chunk: chunk(docID, ordinal), Vector: v}
}

func upsert(t *testing.T, st index.VectorStore, recs ...index.Record) {
	t.Helper()
	if err := st.Upsert(context.Background(), recs); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

func search(t *testing.T, st index.VectorStore, q index.Vector, k int, f index.Filter) []index.Hit {
	t.Helper()
	hits, err := st.Search(context.Background(), q, k, f)
	if err != nil {
		t.Fatalf("Search(k=%d, filter=%+v): %v", k, f, err)
	}
	checkSorted(t, hits)
	return hits
}

func count(t *testing.T, st index.VectorStore) int {
	t.Helper()
	n, err := st.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func wantCount(t *testing.T, st index.VectorStore, want int) {
	t.Helper()
	if got := count(t, st); got != want {
		t.Fatalf("Count = %d, want %d", got, want)
	}
}

func ids(hits []index.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.ID
	}
	return out
}

func checkSorted(t *testing.T, hits []index.Hit) {
	t.Helper()
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Fatalf("hits not best first: %s (%g) after %s (%g)",
				hits[i].Chunk.ID, hits[i].Score, hits[i-1].Chunk.ID, hits[i-1].Score)
		}
	}
}

// wantHits checks the order of hits and, when scores is not nil, their
// scores (by chunk ID) within tolerance.
func wantHits(t *testing.T, hits []index.Hit, order []string, scores map[string]float64) {
	t.Helper()
	got := ids(hits)
	if fmt.Sprint(got) != fmt.Sprint(order) {
		t.Fatalf("hits = %v, want %v (scores %v)", got, order, hitScores(hits))
	}
	for _, h := range hits {
		want, ok := scores[h.Chunk.ID]
		if scores != nil && !ok {
			t.Fatalf("no expected score for %s", h.Chunk.ID)
		}
		if ok && !near(h.Score, want) {
			t.Errorf("score of %s = %.6f, want %.6f", h.Chunk.ID, h.Score, want)
		}
	}
}

func hitScores(hits []index.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = fmt.Sprintf("%s=%.5f", h.Chunk.ID, h.Score)
	}
	return out
}

// wantCode fails unless err is one of the quarry codes in codes.
func wantCode(t *testing.T, what string, err error, codes ...*quarry.Error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, codes)
	}
	for _, c := range codes {
		if errors.Is(err, c) {
			return
		}
	}
	t.Fatalf("%s: error %q has code %q, want one of %v", what, err, quarry.ErrorCode(err), codes)
}

// Reference scoring, in float64.

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func cosine(a, b []float32) float64 {
	return dot(a, b) / math.Sqrt(dot(a, a)*dot(b, b))
}

// idf is Qdrant's inverse document frequency: n of N points have the
// index nonzero.
func idf(n, N int) float64 {
	return math.Log(1 + (float64(N)-float64(n)+0.5)/(float64(n)+0.5))
}

func (s *suite) testSpace(t *testing.T) {
	for _, space := range Spaces {
		t.Run(fmt.Sprintf("%s-%s-idf=%v", space.Embedder, space.Distance, space.IDF), func(t *testing.T) {
			st := s.store(t, space)
			if got := st.Space(); !got.Equal(space) {
				t.Fatalf("Space() = %+v, want %+v", got, space)
			}
		})
	}
}

func (s *suite) testEmptyStore(t *testing.T) {
	queries := map[string]index.Vector{
		"dense":  dense(1, 0, 0, 0),
		"sparse": sparse(1, 1),
	}
	for _, space := range []index.Space{DenseCosine, SparseIDF} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			wantCount(t, st, 0)
			q := queries["dense"]
			if space.Sparse {
				q = queries["sparse"]
			}
			if hits := search(t, st, q, 5, index.Filter{}); len(hits) != 0 {
				t.Fatalf("empty store returned %v", ids(hits))
			}
			if err := st.DeleteDocs(context.Background(), "no-such-doc"); err != nil {
				t.Fatalf("DeleteDocs of an unknown doc: %v", err)
			}
			if err := st.DeleteDocs(context.Background()); err != nil {
				t.Fatalf("DeleteDocs with no ids: %v", err)
			}
			if err := st.Upsert(context.Background(), nil); err != nil {
				t.Fatalf("Upsert of no records: %v", err)
			}
			wantCount(t, st, 0)
		})
	}
}

// denseSet has cosine and dot orders that differ: "a" points the same
// way as the query but is short, "b" is long but off to one side.
var (
	denseQuery = []float32{1, 2, 0, 1}
	denseSet   = map[string][]float32{
		"a": {0.1, 0.2, 0, 0.1}, // cos 1.000, dot 0.6
		"b": {10, 0, 0, 0},      // cos 0.408, dot 10
		"c": {0, 3, 3, 0},       // cos 0.577, dot 6
		"d": {1, 1, 1, 1},       // cos 0.816, dot 4
		"e": {0, 0, 5, -1},      // cos -0.080, dot -1
	}
)

func (s *suite) loadDense(t *testing.T, st index.VectorStore) {
	t.Helper()
	var recs []index.Record
	for _, doc := range []string{"a", "b", "c", "d", "e"} {
		recs = append(recs, rec(doc, 0, dense(denseSet[doc]...)))
	}
	upsert(t, st, recs...)
}

func (s *suite) testDenseCosine(t *testing.T) {
	st := s.store(t, DenseCosine)
	s.loadDense(t, st)
	scores := map[string]float64{}
	for doc, v := range denseSet {
		scores[doc+"#0"] = cosine(denseQuery, v)
	}
	hits := search(t, st, dense(denseQuery...), 5, index.Filter{})
	wantHits(t, hits, []string{"a#0", "d#0", "c#0", "b#0", "e#0"}, scores)

	// Scaling the query changes nothing under cosine.
	scaled := make([]float32, len(denseQuery))
	for i, x := range denseQuery {
		scaled[i] = 3 * x
	}
	hits = search(t, st, dense(scaled...), 3, index.Filter{})
	wantHits(t, hits, []string{"a#0", "d#0", "c#0"}, scores)
}

func (s *suite) testDenseDot(t *testing.T) {
	st := s.store(t, DenseDot)
	s.loadDense(t, st)
	scores := map[string]float64{}
	for doc, v := range denseSet {
		scores[doc+"#0"] = dot(denseQuery, v)
	}
	hits := search(t, st, dense(denseQuery...), 5, index.Filter{})
	wantHits(t, hits, []string{"b#0", "c#0", "d#0", "a#0", "e#0"}, scores)
}

func (s *suite) testSparseDot(t *testing.T) {
	st := s.store(t, Sparse)
	upsert(t, st,
		rec("p1", 0, sparse(3, 1, 7, 1)),    // 1 + 2 = 3
		rec("p2", 0, sparse(7, 2, 99, 5)),   // 4
		rec("p3", 0, sparse(50, 4, 3, 0.5)), // 2 + 0.5 = 2.5
		rec("p5", 0, sparse(3, 0.2)),        // 0.2
	)
	q := sparse(3, 1, 7, 2, 50, 0.5)
	hits := search(t, st, q, 10, index.Filter{})
	wantHits(t, hits, []string{"p2#0", "p1#0", "p3#0", "p5#0"},
		map[string]float64{"p2#0": 4, "p1#0": 3, "p3#0": 2.5, "p5#0": 0.2})

	// The order of a sparse vector's indices does not matter.
	q = sparse(50, 0.5, 7, 2, 3, 1)
	hits = search(t, st, q, 2, index.Filter{})
	wantHits(t, hits, []string{"p2#0", "p1#0"}, map[string]float64{"p2#0": 4, "p1#0": 3})
}

func (s *suite) testSparseOnlyOverlapping(t *testing.T) {
	for _, space := range []index.Space{Sparse, SparseIDF} {
		t.Run(fmt.Sprintf("idf=%v", space.IDF), func(t *testing.T) {
			st := s.store(t, space)
			upsert(t, st,
				rec("hit", 0, sparse(3, 1)),
				rec("miss", 0, sparse(1, 9, 2, 9)),
				rec("empty", 0, sparse()), // the embedding of an empty text
			)
			wantCount(t, st, 3)
			hits := search(t, st, sparse(3, 1, 4, 1), 10, index.Filter{})
			wantHits(t, hits, []string{"hit#0"}, nil)

			if hits := search(t, st, sparse(), 10, index.Filter{}); len(hits) != 0 {
				t.Fatalf("empty query returned %v", hitScores(hits))
			}
			if hits := search(t, st, sparse(77, 1), 10, index.Filter{}); len(hits) != 0 {
				t.Fatalf("query sharing no index returned %v", hitScores(hits))
			}
		})
	}
}

// IDF turns the order around: index 1 is in three of four points, index
// 2 in one, so a small weight on 2 beats a large weight on 1.
func (s *suite) testSparseIDF(t *testing.T) {
	for _, tc := range []struct {
		space  index.Space
		order  []string
		scores map[string]float64
	}{
		{
			space:  Sparse,
			order:  []string{"A#0", "C#0", "B#0", "D#0"},
			scores: map[string]float64{"A#0": 1, "B#0": 0.5, "C#0": 0.6, "D#0": 0.3},
		},
		{
			space: SparseIDF,
			order: []string{"B#0", "A#0", "C#0", "D#0"},
			scores: map[string]float64{
				"A#0": 1.0 * idf(3, 4), // 0.3567
				"B#0": 0.5 * idf(1, 4), // 0.6020
				"C#0": 0.6 * idf(3, 4), // 0.2140
				"D#0": 0.3 * idf(3, 4), // 0.1070
			},
		},
	} {
		t.Run(fmt.Sprintf("idf=%v", tc.space.IDF), func(t *testing.T) {
			st := s.store(t, tc.space)
			upsert(t, st,
				rec("A", 0, sparse(1, 1.0)),
				rec("B", 0, sparse(2, 0.5)),
				rec("C", 0, sparse(1, 0.6, 5, 1)),
				rec("D", 0, sparse(1, 0.3, 6, 1)),
			)
			hits := search(t, st, sparse(1, 1, 2, 1), 10, index.Filter{})
			wantHits(t, hits, tc.order, tc.scores)
		})
	}
}

// N and n follow deletes and upserts.
func (s *suite) testSparseIDFFollowsChanges(t *testing.T) {
	st := s.store(t, SparseIDF)
	upsert(t, st,
		rec("A", 0, sparse(1, 1.0)),
		rec("B", 0, sparse(2, 0.5)),
		rec("C", 0, sparse(1, 0.6, 5, 1)),
		rec("D", 0, sparse(1, 0.3, 6, 1)),
	)
	q := sparse(1, 1, 2, 1)

	// N = 2, n1 = n2 = 1: equal weights, A wins again.
	if err := st.DeleteDocs(context.Background(), "C", "D"); err != nil {
		t.Fatal(err)
	}
	wantHits(t, search(t, st, q, 10, index.Filter{}), []string{"A#0", "B#0"},
		map[string]float64{"A#0": 1.0 * idf(1, 2), "B#0": 0.5 * idf(1, 2)})

	// N = 3, n1 = 1, n2 = 2.
	upsert(t, st, rec("E", 0, sparse(2, 1, 9, 1)))
	wantHits(t, search(t, st, q, 10, index.Filter{}), []string{"A#0", "E#0", "B#0"},
		map[string]float64{"A#0": 1.0 * idf(1, 3), "E#0": 1.0 * idf(2, 3), "B#0": 0.5 * idf(2, 3)})

	// Replacing A by a vector without index 1: N = 3, n1 = 0, n2 = 3.
	upsert(t, st, rec("A", 0, sparse(2, 0.1)))
	wantHits(t, search(t, st, q, 10, index.Filter{}), []string{"E#0", "B#0", "A#0"},
		map[string]float64{"E#0": 1.0 * idf(3, 3), "B#0": 0.5 * idf(3, 3), "A#0": 0.1 * idf(3, 3)})
}

func (s *suite) testUpsertReplaces(t *testing.T) {
	for _, space := range []index.Space{DenseCosine, Sparse} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			vx, vy, q := dense(1, 0, 0, 0), dense(0, 1, 0, 0), dense(0, 1, 0, 0)
			if space.Sparse {
				vx, vy, q = sparse(10, 1), sparse(20, 1), sparse(20, 1)
			}
			old := rec("doc", 0, vx)
			old.Chunk.Text = "old text"
			other := rec("other", 0, vx)
			upsert(t, st, old, other)

			replaced := rec("doc", 0, vy)
			replaced.Chunk.Text = "new text"
			replaced.Chunk.Tokens = 99
			upsert(t, st, replaced)
			wantCount(t, st, 2)

			hits := search(t, st, q, 10, index.Filter{})
			if len(hits) == 0 || hits[0].Chunk.ID != "doc#0" {
				t.Fatalf("hits = %v, want doc#0 first", hitScores(hits))
			}
			if hits[0].Chunk != replaced.Chunk {
				t.Fatalf("replaced chunk = %+v, want %+v", hits[0].Chunk, replaced.Chunk)
			}
			if !near(hits[0].Score, 1) {
				t.Fatalf("score of replaced vector = %g, want 1", hits[0].Score)
			}
			for _, h := range hits {
				if h.Chunk.Text == "old text" {
					t.Fatalf("the old version is still found: %+v", h)
				}
			}
		})
	}
}

func (s *suite) testDeleteDocs(t *testing.T) {
	for _, space := range []index.Space{DenseDot, SparseIDF} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			v := func(i int) index.Vector {
				if space.Sparse {
					return sparse(1, float64(i+1), float64(10+i), 1)
				}
				return dense(1, float32(i), 0, 0)
			}
			var recs []index.Record
			for i := 0; i < 3; i++ {
				recs = append(recs, rec("d1", i, v(i)))
			}
			for i := 0; i < 2; i++ {
				recs = append(recs, rec("d2", i, v(3+i)))
			}
			recs = append(recs, rec("d3", 0, v(5)))
			upsert(t, st, recs...)
			wantCount(t, st, 6)

			if err := st.DeleteDocs(context.Background(), "d1", "unknown"); err != nil {
				t.Fatal(err)
			}
			wantCount(t, st, 3)
			// Scores rise with i: d3#0 > d2#1 > d2#0.
			q := dense(0.1, 1, 0, 0)
			if space.Sparse {
				q = v(0)
			}
			hits := search(t, st, q, 10, index.Filter{})
			wantHits(t, hits, []string{"d3#0", "d2#1", "d2#0"}, nil)

			if err := st.DeleteDocs(context.Background(), "d3", "d2"); err != nil {
				t.Fatal(err)
			}
			wantCount(t, st, 0)
			if hits := search(t, st, q, 10, index.Filter{}); len(hits) != 0 {
				t.Fatalf("after deleting everything: %v", ids(hits))
			}

			// A deleted chunk can come back.
			upsert(t, st, rec("d1", 1, v(1)))
			wantHits(t, search(t, st, q, 10, index.Filter{}), []string{"d1#1"}, nil)
		})
	}
}

func (s *suite) testCount(t *testing.T) {
	st := s.store(t, DenseCosine)
	wantCount(t, st, 0)
	var recs []index.Record
	for i := 0; i < 25; i++ {
		recs = append(recs, rec(fmt.Sprintf("doc%d", i%5), i, dense(1, float32(i), 0, 0)))
	}
	upsert(t, st, recs...)
	wantCount(t, st, 25)
	upsert(t, st, recs[:10]...) // replacements
	wantCount(t, st, 25)
	// The same chunk twice in one batch counts once.
	upsert(t, st, rec("twice", 0, dense(1, 0, 0, 0)), rec("twice", 0, dense(0, 1, 0, 0)))
	wantCount(t, st, 26)
	if err := st.DeleteDocs(context.Background(), "doc0", "doc1"); err != nil {
		t.Fatal(err)
	}
	wantCount(t, st, 16)
}

func (s *suite) testFilter(t *testing.T) {
	for _, space := range []index.Space{DenseDot, Sparse} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			// Scores rise with the ordinal so that orders are unambiguous.
			v := func(i int) index.Vector {
				if space.Sparse {
					return sparse(5, float64(i+1))
				}
				return dense(float32(i+1), 0, 0, 0)
			}
			q := v(0)
			var recs []index.Record
			i := 0
			for _, d := range []struct{ doc, lang string }{{"en1", "en"}, {"zh1", "zh"}, {"en2", "en"}} {
				for ord := 0; ord < 2; ord++ {
					r := rec(d.doc, ord, v(i))
					r.Chunk.Lang = d.lang
					recs = append(recs, r)
					i++
				}
			}
			upsert(t, st, recs...)

			for _, tc := range []struct {
				name   string
				filter index.Filter
				want   []string
			}{
				{"none", index.Filter{}, []string{"en2#1", "en2#0", "zh1#1", "zh1#0", "en1#1", "en1#0"}},
				{"one doc", index.Filter{DocIDs: []string{"zh1"}}, []string{"zh1#1", "zh1#0"}},
				{"two docs", index.Filter{DocIDs: []string{"en1", "zh1"}}, []string{"zh1#1", "zh1#0", "en1#1", "en1#0"}},
				{"unknown doc", index.Filter{DocIDs: []string{"nope"}}, nil},
				{"lang", index.Filter{Lang: "en"}, []string{"en2#1", "en2#0", "en1#1", "en1#0"}},
				{"lang zh", index.Filter{Lang: "zh"}, []string{"zh1#1", "zh1#0"}},
				{"doc and lang", index.Filter{DocIDs: []string{"en1", "zh1"}, Lang: "en"}, []string{"en1#1", "en1#0"}},
				{"doc and other lang", index.Filter{DocIDs: []string{"en1"}, Lang: "zh"}, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					hits := search(t, st, q, 10, tc.filter)
					wantHits(t, hits, tc.want, nil)
					// k applies after the filter.
					if len(tc.want) > 1 {
						hits = search(t, st, q, 1, tc.filter)
						wantHits(t, hits, tc.want[:1], nil)
					}
				})
			}
		})
	}
}

func (s *suite) testKLargerThanStore(t *testing.T) {
	for _, space := range []index.Space{DenseCosine, SparseIDF} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			v := func(i int) index.Vector {
				if space.Sparse {
					return sparse(1, float64(i+1), float64(10+i), 1)
				}
				return dense(1, float32(i), 0, 0)
			}
			upsert(t, st, rec("x", 0, v(0)), rec("x", 1, v(1)), rec("x", 2, v(2)))
			q := dense(1, 0.1, 0, 0)
			if space.Sparse {
				q = sparse(1, 1)
			}
			hits := search(t, st, q, 1000, index.Filter{})
			if len(hits) != 3 {
				t.Fatalf("k=1000 over 3 points returned %d hits: %v", len(hits), hitScores(hits))
			}
			top := search(t, st, q, 1, index.Filter{})
			if len(top) != 1 || top[0].Chunk.ID != hits[0].Chunk.ID {
				t.Fatalf("k=1 returned %v, want [%s]", ids(top), hits[0].Chunk.ID)
			}
		})
	}
}

func (s *suite) testChunkRoundTrip(t *testing.T) {
	full := quarry.Chunk{
		ID:      "docs/指南.md#12",
		DocID:   "docs/指南.md",
		Path:    "docs/指南.md",
		Title:   "退款指南 — Refund guide",
		Heading: "Policies > Refunds > 退款时限",
		Page:    3,
		Ordinal: 12,
		Text:    "退款须在购买后 30 天内申请。\nRefunds: \"within 30 days\" <b>&amp;</b>\ttab\x00nul 🙂",
		Tokens:  42,
		Lang:    "zh",
	}
	for _, space := range []index.Space{DenseCosine, SparseIDF} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			v := dense(0.5, 0.5, 0.5, 0.5)
			if space.Sparse {
				v = sparse(0, 0.25, 42, 1, 99, 2)
			}
			upsert(t, st, index.Record{Chunk: full, Vector: v})
			hits := search(t, st, v, 1, index.Filter{})
			if len(hits) != 1 {
				t.Fatalf("got %d hits, want 1", len(hits))
			}
			if hits[0].Chunk != full {
				t.Fatalf("chunk did not round-trip:\n got %+v\nwant %+v", hits[0].Chunk, full)
			}
			// Zero-valued optional fields round-trip as zero.
			bare := quarry.Chunk{ID: "bare#0", DocID: "bare"}
			upsert(t, st, index.Record{Chunk: bare, Vector: v})
			hits = search(t, st, v, 10, index.Filter{DocIDs: []string{"bare"}})
			if len(hits) != 1 || hits[0].Chunk != bare {
				t.Fatalf("bare chunk did not round-trip: %+v", hits)
			}
		})
	}
}

func (s *suite) testRejectsBadVectors(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name  string
		space index.Space
		rec   index.Record
	}{
		{"dense too short", DenseCosine, rec("bad", 0, dense(1, 2, 3))},
		{"dense too long", DenseCosine, rec("bad", 0, dense(1, 2, 3, 4, 5))},
		{"sparse into dense", DenseCosine, rec("bad", 0, sparse(1, 1))},
		{"no vector into dense", DenseDot, rec("bad", 0, index.Vector{})},
		{"dense NaN", DenseCosine, rec("bad", 0, dense(1, nan, 0, 0))},
		{"dense Inf", DenseDot, rec("bad", 0, dense(inf, 0, 0, 0))},
		{"dense into sparse", Sparse, rec("bad", 0, dense(1, 2, 3, 4))},
		{"sparse index out of range", Sparse, rec("bad", 0, sparse(100, 1))},
		{"sparse lengths differ", SparseIDF, rec("bad", 0, index.Vector{Indices: []uint32{1, 2}, Values: []float32{1}})},
		{"sparse duplicate index", SparseIDF, rec("bad", 0, sparse(4, 1, 4, 2))},
		{"sparse NaN", Sparse, rec("bad", 0, sparse(4, math.NaN()))},
		{"empty chunk id", DenseCosine, index.Record{Chunk: quarry.Chunk{DocID: "bad"}, Vector: dense(1, 0, 0, 0)}},
		{"empty chunk id sparse", Sparse, index.Record{Chunk: quarry.Chunk{DocID: "bad"}, Vector: sparse(1, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t, tc.space)
			good := func(doc string) index.Record {
				if tc.space.Sparse {
					return rec(doc, 0, sparse(1, 1))
				}
				return rec(doc, 0, dense(1, 0, 0, 0))
			}
			upsert(t, st, good("kept"))
			// The bad record comes last: nothing of the batch may land.
			err := st.Upsert(context.Background(), []index.Record{good("batch"), tc.rec})
			wantCode(t, "Upsert("+tc.name+")", err, quarry.ErrInvalid, quarry.ErrConflict)
			wantCount(t, st, 1)
			q := good("q").Vector
			wantHits(t, search(t, st, q, 10, index.Filter{}), []string{"kept#0"}, nil)
		})
	}
}

func (s *suite) testRejectsBadQueries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		space index.Space
		q     index.Vector
	}{
		{"dense wrong dim", DenseCosine, dense(1, 0, 0)},
		{"sparse query into dense", DenseDot, sparse(1, 1)},
		{"no query vector", DenseCosine, index.Vector{}},
		{"dense query into sparse", SparseIDF, dense(1, 0, 0, 0)},
		{"sparse index out of range", Sparse, sparse(1000, 1)},
		{"sparse lengths differ", Sparse, index.Vector{Indices: []uint32{1}, Values: []float32{1, 2}}},
		{"sparse NaN", SparseIDF, sparse(1, math.NaN())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t, tc.space)
			good := rec("kept", 0, dense(1, 0, 0, 0))
			if tc.space.Sparse {
				good = rec("kept", 0, sparse(1, 1))
			}
			upsert(t, st, good)
			_, err := st.Search(context.Background(), tc.q, 5, index.Filter{})
			wantCode(t, "Search("+tc.name+")", err, quarry.ErrInvalid, quarry.ErrConflict)
		})
	}
}

// Searches run while batches are upserted and deleted; run with -race.
// Every result must be well formed, and the final state exact.
func (s *suite) testConcurrent(t *testing.T) {
	for _, space := range []index.Space{DenseCosine, SparseIDF} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			v := func(i int) index.Vector {
				if space.Sparse {
					return sparse(float64(i%7), 1, float64(10+i%50), float64(1+i%3))
				}
				return dense(1, float32(i%10), float32(i%3), 0.5)
			}
			q := v(1)
			const batches, perBatch, readers, searches = 20, 10, 3, 30
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 1+readers)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := 0; b < batches; b++ {
					var recs []index.Record
					for i := 0; i < perBatch; i++ {
						recs = append(recs, rec(fmt.Sprintf("doc%d", b), i, v(b*perBatch+i)))
					}
					if err := st.Upsert(ctx, recs); err != nil {
						errs <- fmt.Errorf("Upsert batch %d: %w", b, err)
						return
					}
					if b%4 == 3 { // delete the previous batch's doc
						if err := st.DeleteDocs(ctx, fmt.Sprintf("doc%d", b-1)); err != nil {
							errs <- fmt.Errorf("DeleteDocs: %w", err)
							return
						}
					}
				}
			}()
			for r := 0; r < readers; r++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < searches; i++ {
						hits, err := st.Search(ctx, q, 5, index.Filter{})
						if err != nil {
							errs <- fmt.Errorf("Search: %w", err)
							return
						}
						if err := wellFormed(hits, 5); err != nil {
							errs <- err
							return
						}
						if _, err := st.Count(ctx); err != nil {
							errs <- fmt.Errorf("Count: %w", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			deleted := batches / 4
			wantCount(t, st, (batches-deleted)*perBatch)
			hits := search(t, st, q, 1000, index.Filter{})
			seen := map[string]bool{}
			for _, h := range hits {
				if seen[h.Chunk.ID] {
					t.Fatalf("%s returned twice", h.Chunk.ID)
				}
				seen[h.Chunk.ID] = true
				var b int
				fmt.Sscanf(h.Chunk.DocID, "doc%d", &b)
				if b%4 == 2 {
					t.Fatalf("%s of a deleted doc returned", h.Chunk.ID)
				}
			}
		})
	}
}

func wellFormed(hits []index.Hit, k int) error {
	if len(hits) > k {
		return fmt.Errorf("%d hits for k=%d", len(hits), k)
	}
	seen := map[string]bool{}
	for i, h := range hits {
		if h.Chunk.ID == "" || h.Chunk.DocID == "" {
			return fmt.Errorf("hit %d has no chunk: %+v", i, h)
		}
		if seen[h.Chunk.ID] {
			return fmt.Errorf("%s returned twice", h.Chunk.ID)
		}
		seen[h.Chunk.ID] = true
		if i > 0 && h.Score > hits[i-1].Score {
			return fmt.Errorf("hits not best first: %v", hitScores(hits))
		}
		if math.IsNaN(h.Score) {
			return fmt.Errorf("NaN score for %s", h.Chunk.ID)
		}
	}
	return nil
}

func (s *suite) testCanceled(t *testing.T) {
	for _, space := range []index.Space{DenseCosine, SparseIDF} {
		t.Run(space.Embedder, func(t *testing.T) {
			st := s.store(t, space)
			v := dense(1, 0, 0, 0)
			if space.Sparse {
				v = sparse(1, 1)
			}
			upsert(t, st, rec("kept", 0, v))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()

			canceled := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s with a canceled context: no error", what)
				}
				if code := quarry.ErrorCode(err); code != quarry.CodeCanceled {
					t.Fatalf("%s with a canceled context: %q has code %q, want %q", what, err, code, quarry.CodeCanceled)
				}
			}
			canceled("Upsert", st.Upsert(ctx, []index.Record{rec("new", 0, v)}))
			canceled("DeleteDocs", st.DeleteDocs(ctx, "kept"))
			_, err := st.Search(ctx, v, 5, index.Filter{})
			canceled("Search", err)
			_, err = st.Count(ctx)
			canceled("Count", err)

			// Nothing changed.
			wantHits(t, search(t, st, v, 10, index.Filter{}), []string{"kept#0"}, nil)
		})
	}
}
