package memvec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/quarry-kb/quarry/index"
)

// copyDir copies the files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// testdata/v1-* are store directories written by the first snapshot
// format (commit 0e952b0), testdata/v2-* by the second (QMVSNAP2, commit
// 9811e3c, no block maxima), testdata/v3-sparse by the third (QMVSNAP3,
// commit dcae491, no dense lists), testdata/v4-* by the fourth
// (QMVSNAP4, commit 9f4e0db, chunks read whole at load): a snapshot after
// three upserts and a delete, and a log with an upsert, a replace and a delete after it.
// They open with what those writes left, and the first Close rewrites
// the snapshot in the current format, which opens the same again.
func TestOpenOlderFormats(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		space index.Space
	}{
		{"testdata/v1-sparse", sparseSpace}, {"testdata/v1-dense", denseSpace},
		{"testdata/v2-sparse", sparseSpace}, {"testdata/v2-dense", denseSpace},
		{"testdata/v3-sparse", sparseSpace},
		{"testdata/v4-sparse", sparseSpace}, {"testdata/v4-dense", denseSpace},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			ctx := context.Background()
			want := mustOpen(t, "", tc.space, Config{})
			mustUpsert(t, want, batch(tc.space, "alpha", 5)...)
			mustUpsert(t, want, batch(tc.space, "beta", 4)...)
			mustUpsert(t, want, batch(tc.space, "gamma", 3)...)
			if err := want.DeleteDocs(ctx, "beta"); err != nil {
				t.Fatal(err)
			}
			mustUpsert(t, want, batch(tc.space, "delta", 2)...)
			if err := want.Replace(ctx, []string{"alpha"}, batch(tc.space, "alpha", 2)); err != nil {
				t.Fatal(err)
			}
			if err := want.DeleteDocs(ctx, "gamma"); err != nil {
				t.Fatal(err)
			}
			wantHits := everything(t, want)
			if len(wantHits) != 4 {
				t.Fatalf("the reference store has %d points, want 4", len(wantHits))
			}

			dir := copyDir(t, tc.dir)
			ro := mustOpen(t, dir, tc.space, Config{ReadOnly: true})
			sameHits(t, "read-only, older format", everything(t, ro), wantHits)
			// The snapshot's lists get their dense form at load, not only
			// when it is rewritten (which a read-only store never does).
			dense := 0
			for _, p := range ro.post {
				if p.dense {
					dense++
				}
			}
			if tc.space.Sparse && dense == 0 {
				t.Fatal("no dense list after loading an older format")
			}
			s := mustOpen(t, dir, tc.space, Config{})
			sameHits(t, "older format", everything(t, s), wantHits)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, snapName))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(raw[:8]); got != snapMagicV2 {
				t.Fatalf("after Close the snapshot starts %q, want %q", got, snapMagicV2)
			}
			s = mustOpen(t, dir, tc.space, Config{})
			defer s.Close()
			sameHits(t, "rewritten", everything(t, s), wantHits)
			if st := s.Stats(); st.LogBytes != 0 || st.Points != 4 || st.Slots != 4 {
				t.Fatalf("Stats after the rewrite = %+v, want 4 points and an empty log", st)
			}
		})
	}
}

// sameHits compares hits by chunk, and by score within the tolerance of
// the stored values.
func sameHits(t *testing.T, what string, got, want []index.Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i].Chunk, want[i].Chunk) || math.Abs(got[i].Score-want[i].Score) > 1e-4*max(1, math.Abs(want[i].Score)) {
			t.Fatalf("%s: hit %d = %s %.6f, want %s %.6f", what, i, got[i].Chunk.ID, got[i].Score, want[i].Chunk.ID, want[i].Score)
		}
	}
}

// zipfStore fills a store with n points whose indices follow a Zipf law
// over dim, as hashed n-grams do, so that common indices have posting
// lists of many blocks; then tombstones every seventh document.
func zipfStore(t testing.TB, n, dim, nnz int) *Store {
	sp := index.Space{Embedder: "zipf", Dim: dim, Sparse: true, IDF: true}
	s := mustOpen(t, "", sp, Config{})
	rng := rand.New(rand.NewPCG(5, 6))
	z := rand.NewZipf(rng, 1.05, 4, uint64(dim-1))
	var recs []index.Record
	for i := range n {
		c := testChunk(fmt.Sprintf("doc%d", i), 0)
		recs = append(recs, index.Record{Chunk: c, Vector: zipfSparse(rng, z, nnz)})
		if len(recs) == 500 {
			mustUpsert(t, s, recs...)
			recs = recs[:0]
		}
	}
	mustUpsert(t, s, recs...)
	var gone []string
	for i := 0; i < n; i += 7 {
		gone = append(gone, fmt.Sprintf("doc%d", i))
	}
	s.mu.Lock()
	s.deleteDocs(gone) // no compaction: keep the tombstones in the lists
	s.mu.Unlock()
	return s
}

// Search over posting lists of many blocks, with tombstones in them,
// returns what scoring every point from the block decoder's view of the
// lists returns; so it does once the common indices' lists are dense.
func TestSearchLongLists(t *testing.T) {
	s := zipfStore(t, 4000, 4000, 40)
	if st := s.Stats(); st.Slots == st.Points {
		t.Fatal("no tombstones: the test does not cover them")
	}
	long := 0
	for _, p := range s.post {
		long = max(long, len(p.blocks))
	}
	if long < 10 {
		t.Fatalf("longest posting list has %d blocks; the test needs long lists", long)
	}
	t.Run("gap-coded", func(t *testing.T) { checkLongLists(t, s) })
	dense, long := 0, 0
	for _, p := range s.post {
		p.reform()
		if p.dense {
			dense++
		}
		long = max(long, len(p.blocks))
	}
	if dense < 10 || long < 3 {
		t.Fatalf("%d dense lists, longest gap-coded one %d blocks; the test needs both", dense, long)
	}
	t.Run("reformed", func(t *testing.T) { checkLongLists(t, s) })
}

func checkLongLists(t *testing.T, s *Store) {
	rng := rand.New(rand.NewPCG(7, 8))
	z := rand.NewZipf(rng, 1.05, 4, uint64(s.space.Dim-1))
	ctx := context.Background()
	for qi := range 25 {
		v := zipfSparse(rng, z, 3+qi%20)
		q, err := s.prepareVector(v)
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint32]float64{}
		for i, ix := range q.idx {
			p := s.post[ix]
			if p == nil {
				continue
			}
			w := float64(q.vals[i]) * idf(s.liveIn(p), s.live)
			slots, vals := p.decodeAll(nil, nil)
			for j, slot := range slots {
				if s.alive[slot] {
					want[slot] += w * float64(vals[j])
				}
			}
		}
		for _, k := range []int{1, 10, 100} {
			got, err := s.Search(ctx, v, k, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != min(k, len(want)) {
				t.Fatalf("query %d k=%d: %d hits, want %d", qi, k, len(got), min(k, len(want)))
			}
			for i, h := range got {
				slot := slotOf(t, s, h.Chunk.ID)
				ws, ok := want[slot]
				if !ok || math.Abs(h.Score-ws) > 1e-5*ws {
					t.Fatalf("query %d k=%d: hit %d %s scores %v, want %v", qi, k, i, h.Chunk.ID, h.Score, ws)
				}
				// Nothing missed scores clearly above the last hit.
				if i == len(got)-1 {
					for slot, ws := range want {
						if ws > h.Score*(1+1e-5) && !slices.ContainsFunc(got, func(g index.Hit) bool { return slotOf(t, s, g.Chunk.ID) == slot }) {
							t.Fatalf("query %d k=%d: %s (score %v) missing", qi, k, s.field(&s.pts[slot], fieldID), ws)
						}
					}
				}
			}
		}
	}
}

// Postings survive a checkpoint and reopen exactly: the lists, their
// scales and the IDF counts.
func TestSnapshotKeepsPostings(t *testing.T) {
	dir := t.TempDir()
	src := zipfStore(t, 3000, 4000, 30)
	s := mustOpen(t, dir, src.space, Config{})
	src.mu.Lock()
	var recs []index.Record
	for slot := range src.pts {
		if src.alive[slot] {
			c, err := src.chunk(uint32(slot))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, index.Record{Chunk: c})
		}
	}
	src.mu.Unlock()
	// Re-add the live points with their stored vectors, read back from the lists.
	vecs := map[uint32]*index.Vector{}
	for ix, p := range src.post {
		slots, vals := p.decodeAll(nil, nil)
		for i, slot := range slots {
			if !src.alive[slot] {
				continue
			}
			v := vecs[slot]
			if v == nil {
				v = &index.Vector{}
				vecs[slot] = v
			}
			v.Indices = append(v.Indices, ix)
			v.Values = append(v.Values, vals[i])
		}
	}
	for i := range recs {
		slot := slotOf(t, src, recs[i].Chunk.ID)
		if v := vecs[slot]; v != nil {
			recs[i].Vector = *v
		} else {
			recs[i].Vector = index.Vector{Indices: []uint32{}, Values: []float32{}}
		}
	}
	mustUpsert(t, s, recs...)
	if err := s.DeleteDocs(context.Background(), "doc1", "doc2"); err != nil {
		t.Fatal(err)
	}
	q := index.Vector{Indices: []uint32{4, 5, 6, 9, 30, 200}, Values: []float32{1, 0.5, 0.25, 1, 2, 0.1}}
	before, err := s.Search(context.Background(), q, 50, index.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, src.space, Config{})
	defer s.Close()
	after, err := s.Search(context.Background(), q, 50, index.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(before) < 50 {
		t.Fatalf("only %d hits", len(before))
	}
	sameHits(t, "after reopen", after, before)
	if st := s.Stats(); st.Slots != st.Points || st.Points != len(recs)-2 {
		t.Fatalf("Stats = %+v, want %d points and no tombstones", st, len(recs)-2)
	}
}

// A common index's list turns dense at a checkpoint, stays dense while
// appends keep it at least a quarter full, turns back into gaps when one
// would not, and turns dense again at the compaction that deletes the
// points without it; every search meanwhile returns what the reference
// model does, for positive values and for values of either sign.
func TestDenseLists(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			sp := index.Space{Embedder: "dense-lists", Dim: 50, Sparse: true, IDF: true}
			s := mustOpen(t, t.TempDir(), sp, Config{})
			defer func() { s.Close() }()
			m := &model{space: sp, recs: map[string]index.Record{}}
			rng := rand.New(rand.NewPCG(9, 10))
			val := func() float32 {
				x := float32(0.1 + rng.Float64())
				if signed && rng.IntN(3) == 0 {
					x = -x
				}
				return x
			}
			add := func(doc string, n int, common bool) {
				var recs []index.Record
				for i := range n {
					var v index.Vector
					if common {
						v.Indices, v.Values = append(v.Indices, 0), append(v.Values, val())
					}
					for _, ix := range rng.Perm(49)[:3] {
						v.Indices, v.Values = append(v.Indices, uint32(1+ix)), append(v.Values, val())
					}
					recs = append(recs, index.Record{Chunk: testChunk(doc, i), Vector: v})
				}
				mustUpsert(t, s, recs...)
				for _, r := range recs {
					m.recs[r.Chunk.ID] = r
				}
			}
			form := func(what string, dense bool) {
				t.Helper()
				if p := s.post[0]; p.dense != dense {
					t.Fatalf("%s: index 0's list dense = %v, want %v", what, p.dense, dense)
				}
				for q := range 20 {
					v := index.Vector{Indices: []uint32{0}, Values: []float32{val()}}
					for _, ix := range rng.Perm(49)[:q%5] {
						v.Indices, v.Values = append(v.Indices, uint32(1+ix)), append(v.Values, val())
					}
					got, err := s.Search(context.Background(), v, 10, index.Filter{})
					if err != nil {
						t.Fatal(err)
					}
					sameHits(t, fmt.Sprintf("%s, query %v", what, v), got, m.search(v, 10, index.Filter{}))
				}
			}
			add("z", 50, false) // the common index's list starts at slot 50
			add("a", 300, true)
			form("appended", false)
			if err := s.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			form("after a checkpoint", true)
			add("b", 100, true)
			form("appended to dense", true)
			add("c", 1500, false)
			add("d", 1, true) // 401 postings over 1901 slots
			form("below a quarter full", false)
			if err := s.DeleteDocs(context.Background(), "c"); err != nil {
				t.Fatal(err)
			}
			for id, r := range m.recs {
				if r.Chunk.DocID == "c" {
					delete(m.recs, id)
				}
			}
			if st := s.Stats(); st.Slots != st.Points {
				t.Fatalf("Stats = %+v: no compaction", st)
			}
			form("compacted", true)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, s.dir, sp, Config{})
			form("reopened", true)
		})
	}
}

// slotOf returns the slot of chunk id in s.
func slotOf(t testing.TB, s *Store, id string) uint32 {
	t.Helper()
	slot, ok := s.ids.get(id, s)
	if !ok {
		t.Fatalf("no chunk %q", id)
	}
	return slot
}
