package memvec

import (
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sync"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// prepareVector validates v against the store's space and returns it in
// stored form. Wrong kind or dimension is quarry.ErrConflict (another
// embedder's vector); malformed vectors are quarry.ErrInvalid.
func (s *Store) prepareVector(v index.Vector) (prepared, error) {
	sp := s.space
	if !sp.Sparse {
		if v.Indices != nil || v.Values != nil {
			return prepared{}, quarry.Errorf(quarry.CodeConflict, "sparse vector, but the store holds dense vectors of %s", describe(sp))
		}
		if len(v.Dense) == 0 {
			return prepared{}, quarry.Errorf(quarry.CodeInvalid, "no vector")
		}
		if len(v.Dense) != sp.Dim {
			return prepared{}, quarry.Errorf(quarry.CodeConflict, "vector has %d dimensions, the store holds vectors of %s", len(v.Dense), describe(sp))
		}
		out := make([]float32, len(v.Dense))
		var norm float64
		for i, x := range v.Dense {
			if !finite(x) {
				return prepared{}, quarry.Errorf(quarry.CodeInvalid, "vector value %d is %v", i, x)
			}
			out[i] = x
			norm += float64(x) * float64(x)
		}
		if s.cosine && norm > 0 {
			inv := 1 / math.Sqrt(norm)
			for i := range out {
				out[i] = float32(float64(out[i]) * inv)
			}
		}
		return prepared{dense: out}, nil
	}
	if v.Dense != nil {
		return prepared{}, quarry.Errorf(quarry.CodeConflict, "dense vector, but the store holds sparse vectors of %s", describe(sp))
	}
	if len(v.Indices) != len(v.Values) {
		return prepared{}, quarry.Errorf(quarry.CodeInvalid, "sparse vector has %d indices but %d values", len(v.Indices), len(v.Values))
	}
	type pair struct {
		ix  uint32
		val float32
	}
	pairs := make([]pair, 0, len(v.Indices))
	for i, ix := range v.Indices {
		x := v.Values[i]
		if int64(ix) >= int64(sp.Dim) {
			return prepared{}, quarry.Errorf(quarry.CodeInvalid, "sparse index %d is out of range for %s", ix, describe(sp))
		}
		if !finite(x) {
			return prepared{}, quarry.Errorf(quarry.CodeInvalid, "sparse value at index %d is %v", ix, x)
		}
		pairs = append(pairs, pair{ix, x})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(a.ix, b.ix) })
	out := prepared{idx: make([]uint32, 0, len(pairs)), vals: make([]float32, 0, len(pairs))}
	for i, p := range pairs {
		if i > 0 && p.ix == pairs[i-1].ix {
			return prepared{}, quarry.Errorf(quarry.CodeInvalid, "sparse index %d appears twice", p.ix)
		}
		if p.val == 0 { // zeros score nothing and must not count for IDF
			continue
		}
		out.idx = append(out.idx, p.ix)
		out.vals = append(out.vals, p.val)
	}
	return out, nil
}

func finite(x float32) bool {
	return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
}

// Search returns at most k chunks nearest to v that match f, best first.
// Dense cosine scores are cosine similarities, dense dot and sparse
// scores dot products (with IDF-weighted query values when the space
// asks for IDF). Sparse search returns only points sharing a nonzero
// index with v. Equal scores are ordered by chunk ID.
func (s *Store) Search(ctx context.Context, v index.Vector, k int, f index.Filter) ([]index.Hit, error) {
	if err := ctxErr(ctx, "search"); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "memvec: search: k is %d, want at least 1", k)
	}
	q, err := s.prepareVector(v)
	if err != nil {
		return nil, quarry.Errorf(quarry.ErrorCode(err), "memvec: search: query: %w", err)
	}
	if s.cosine && !slices.ContainsFunc(q.dense, func(x float32) bool { return x != 0 }) {
		return nil, quarry.Errorf(quarry.CodeInvalid, "memvec: search: the query vector is zero, which has no cosine")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "search"); err != nil {
		return nil, err
	}
	m := newMatcher(f)
	var top []cand
	if s.space.Sparse {
		top, err = s.searchSparse(ctx, q, k, m)
	} else {
		top, err = s.searchDense(ctx, q.dense, k, m)
	}
	if err != nil {
		return nil, err
	}
	hits := make([]index.Hit, len(top))
	for i, c := range top {
		chunk, err := s.chunk(c.slot)
		if err != nil {
			return nil, quarry.Errorf(quarry.CodeInternal, "memvec: search: %w", err)
		}
		hits[i] = index.Hit{Chunk: chunk, Score: float64(c.score)}
	}
	return hits, nil
}

// matcher applies a Filter to stored chunks.
type matcher struct {
	docs map[string]bool
	lang string
}

func newMatcher(f index.Filter) *matcher {
	m := &matcher{lang: f.Lang}
	if len(f.DocIDs) > 0 {
		m.docs = make(map[string]bool, len(f.DocIDs))
		for _, d := range f.DocIDs {
			m.docs[d] = true
		}
	}
	return m
}

func (m *matcher) all() bool { return m.docs == nil && m.lang == "" }

func (m *matcher) match(s *Store, p *point) bool {
	return (m.docs == nil || m.docs[s.field(p, fieldDoc)]) && (m.lang == "" || s.field(p, fieldLang) == m.lang)
}

// checkEvery is how many points a scan handles between context checks.
const checkEvery = 2048

// parallelFloats is the scan size (points × dimensions) from which a
// dense search is split over workers.
const parallelFloats = 1 << 18

func (s *Store) searchDense(ctx context.Context, q []float32, k int, m *matcher) ([]cand, error) {
	dim := s.space.Dim
	// With a document filter, scan only those documents' points.
	var slots []uint32
	if m.docs != nil {
		for d := range m.docs {
			slots = s.docSlots(slots, d)
		}
		slices.Sort(slots)
	}
	n := len(s.pts)
	if m.docs != nil {
		n = len(slots)
	}
	scan := func(lo, hi int, h *topK) error {
		done := ctx.Done()
		for i := lo; i < hi; i++ {
			if (i-lo)%checkEvery == checkEvery-1 {
				select {
				case <-done:
					return ctxErr(ctx, "search")
				default:
				}
			}
			slot := uint32(i)
			if m.docs != nil {
				slot = slots[i]
			} else if !s.alive[slot] {
				continue
			}
			if m.lang != "" && s.field(&s.pts[slot], fieldLang) != m.lang {
				continue
			}
			off := int(slot) * dim
			h.push(cand{score: dot(q, s.slab[off:off+dim]), slot: slot})
		}
		return nil
	}
	workers := min(s.cfg.Workers, n*dim/parallelFloats+1)
	if workers <= 1 {
		h := newTopK(k, s)
		if err := scan(0, n, h); err != nil {
			return nil, err
		}
		return h.sorted(), nil
	}
	heaps := make([]*topK, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		heaps[w] = newTopK(k, s)
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = scan(lo, hi, heaps[w])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	h := heaps[0]
	for _, o := range heaps[1:] {
		for _, c := range o.items {
			h.push(c)
		}
	}
	return h.sorted(), nil
}

// dot is the inner product, unrolled so that independent sums pipeline;
// reslicing as it goes lets the compiler drop bounds checks.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(a) >= 8 && len(b) >= 8 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		s4 += a[4] * b[4]
		s5 += a[5] * b[5]
		s6 += a[6] * b[6]
		s7 += a[7] * b[7]
		a, b = a[8:], b[8:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3) + (s4 + s5) + (s6 + s7)
}

// idf is Qdrant's inverse document frequency of an index that n of N
// points have nonzero.
func idf(n, N int) float64 {
	return math.Log(1 + (float64(N)-float64(n)+0.5)/(float64(n)+0.5))
}

// scratch is a sparse search's score accumulator, reused across
// searches. stamp marks the slots the current search has touched, for
// the searches that need to know (see sparseExhaustive).
type scratch struct {
	acc     []float32
	stamp   []uint32
	gen     uint32
	touched []uint32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// term is one query index with its posting list: a stored value q
// contributes q × step to a point's score.
type term struct {
	p    *posting
	step float32
}

func (s *Store) searchSparse(ctx context.Context, q prepared, k int, m *matcher) ([]cand, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	terms := make([]term, 0, len(q.idx))
	for i, ix := range q.idx {
		p := s.post[ix]
		if p == nil || p.n == 0 {
			continue
		}
		w := q.vals[i]
		if s.space.IDF {
			n := s.liveIn(p)
			if n == 0 {
				continue
			}
			w = float32(float64(w) * idf(n, s.live))
		}
		terms = append(terms, term{p: p, step: w * p.scale / qmax})
	}
	if len(terms) == 0 {
		return nil, nil
	}
	return s.sparseExhaustive(ctx, sc, terms, k, m)
}

// sparseExhaustive scores every point that shares an index with the
// query, term at a time, adding each list in one pass straight into the
// accumulator: a dense list (a common index) as a plain multiply-add
// loop over its slots, a gap-coded one (a rarer index) by decoding its
// gaps. Per term the sums are added in the same order whatever a list's
// form, so the scores do not depend on it.
//
// Two ways of skipping work were tried and cost more than they saved
// (BENCHMARKS.md, "The sparse leg's CPU per query"): a document-at-a-time
// MaxScore search with block maxima (at k = 100 it pruned too little to
// pay for keeping dozens of cursors in step: four times this on
// SciFact), and a term-at-a-time one that, once the bounds of the
// remaining terms fall below the k-th best score, looks the remaining
// dense lists up only at the surviving candidates (scattered lookups
// cost several times a sequential pass per slot, and the candidates are
// still thousands when it starts: 2.5 times this on SciFact, a fifth
// less at 100k chunks). The snapshot keeps the block maxima for a
// better one.
//
// When every contribution is positive (no negative stored or query
// values: the default embedder's case), a point shares an index with the
// query exactly when its score is above zero, so the accumulator is
// cleared up front and the decoding loop does nothing but add; the
// candidates are then the positive scores. Otherwise each slot's first
// touch is stamped and listed, as zero or negative sums must still count.
func (s *Store) sparseExhaustive(ctx context.Context, sc *scratch, terms []term, k int, m *matcher) ([]cand, error) {
	n := len(s.pts)
	if len(sc.acc) < n {
		sc.acc = make([]float32, n+n/4)
		sc.stamp = nil
	}
	positive := true
	for _, t := range terms {
		if t.p.neg || !(t.step > 0) {
			positive = false
			break
		}
	}
	acc := sc.acc[:n]
	if positive {
		clear(acc)
	} else {
		if len(sc.stamp) < len(sc.acc) {
			sc.stamp = make([]uint32, len(sc.acc))
			sc.gen = 0
		}
		sc.gen++
		if sc.gen == 0 { // wrapped: old stamps could collide
			clear(sc.stamp)
			sc.gen = 1
		}
		sc.touched = sc.touched[:0]
	}
	done := ctx.Done()
	for i, t := range terms {
		if i%16 == 15 {
			select {
			case <-done:
				return nil, ctxErr(ctx, "search")
			default:
			}
		}
		switch {
		case t.p.dense && positive:
			addDense(acc, t.p.data, t.p.base, t.step)
		case t.p.dense:
			sc.addDenseStamped(acc, t.p.data, t.p.base, t.step)
		case positive:
			addList(acc, t.p.data, t.step)
		default:
			sc.addListStamped(acc, t.p.data, t.step)
		}
	}
	h := newTopK(k, s)
	all := m.all()
	consider := func(slot uint32) {
		if !s.alive[slot] || !all && !m.match(s, &s.pts[slot]) {
			return
		}
		h.push(cand{score: acc[slot], slot: slot})
	}
	if !positive {
		for _, slot := range sc.touched {
			consider(slot)
		}
		return h.sorted(), nil
	}
	for slot, x := range acc {
		// Below the worst kept score a point cannot enter (a tie might,
		// on its chunk ID: push decides).
		if x > 0 && (len(h.items) < k || x >= h.items[0].score) {
			consider(uint32(slot))
		}
	}
	return h.sorted(), nil
}

// addDense adds step × value of every slot of a dense list's data
// (from slot base on) to acc. A slot without the index holds 0, which
// adds nothing.
func addDense(acc []float32, data []byte, base uint32, step float32) {
	if uint64(base) >= uint64(len(acc)) {
		return
	}
	acc = acc[base:]
	m := min(len(acc), len(data)/2)
	acc, data = acc[:m], data[:2*m]
	// Eight slots an instruction where the CPU has AVX2 (dense_amd64.s).
	w := addDenseWide(acc, data, step)
	acc, data = acc[w:], data[2*w:]
	// Four slots a round: independent sums that pipeline. Each product
	// is rounded to float32 before the sum (the explicit conversion
	// forbids fusing the two), as the wide loop does.
	for len(acc) >= 4 && len(data) >= 8 {
		acc[0] += float32(step * float32(int16(binary.LittleEndian.Uint16(data[0:]))))
		acc[1] += float32(step * float32(int16(binary.LittleEndian.Uint16(data[2:]))))
		acc[2] += float32(step * float32(int16(binary.LittleEndian.Uint16(data[4:]))))
		acc[3] += float32(step * float32(int16(binary.LittleEndian.Uint16(data[6:]))))
		acc, data = acc[4:], data[8:]
	}
	for i := range acc {
		acc[i] += float32(step * float32(int16(binary.LittleEndian.Uint16(data[2*i:]))))
	}
}

// addDenseStamped is addDense that also stamps and lists each slot the
// search touches first (a nonzero value), starting its sum at zero.
func (sc *scratch) addDenseStamped(acc []float32, data []byte, base uint32, step float32) {
	stamp, gen := sc.stamp[:len(acc)], sc.gen
	for i := 0; i+1 < len(data); i += 2 {
		q := int16(binary.LittleEndian.Uint16(data[i:]))
		if q == 0 {
			continue
		}
		slot := uint64(base) + uint64(i/2)
		if slot >= uint64(len(acc)) {
			return
		}
		if stamp[slot] != gen {
			stamp[slot] = gen
			acc[slot] = 0
			sc.touched = append(sc.touched, uint32(slot))
		}
		acc[slot] += step * float32(q)
	}
}

// addList adds step × value of every posting of a gap-coded list's data
// to acc.
// Each block's first gap counts from the last slot of the block before,
// so a list is one run of gaps: it is decoded without the block table.
// Malformed data ends the list early (see blockBuf.decode) or adds to a
// slot twice, never outside acc.
func addList(acc []float32, data []byte, step float32) {
	slot := uint(0) // unsigned: slot < len(acc) is then the whole bounds check
	for len(data) >= 3 {
		g := uint(data[0])
		if g < 0x80 { // most gaps take one byte
			slot += g
			if slot >= uint(len(acc)) {
				return
			}
			acc[slot] += step * float32(int16(uint16(data[1])|uint16(data[2])<<8))
			data = data[3:]
			continue
		}
		if len(data) >= 4 && data[1] < 0x80 { // and most others two
			slot += g&0x7f | uint(data[1])<<7
			if slot >= uint(len(acc)) {
				return
			}
			acc[slot] += step * float32(int16(uint16(data[2])|uint16(data[3])<<8))
			data = data[4:]
			continue
		}
		gap, k := binary.Uvarint(data)
		if k <= 0 || len(data) < k+2 || gap >= uint64(len(acc)) {
			return
		}
		slot += uint(gap)
		if slot >= uint(len(acc)) {
			return
		}
		acc[slot] += step * float32(int16(binary.LittleEndian.Uint16(data[k:])))
		data = data[k+2:]
	}
}

// addListStamped is addList that also stamps and lists each slot the
// search touches first, starting its sum at zero.
func (sc *scratch) addListStamped(acc []float32, data []byte, step float32) {
	stamp, gen := sc.stamp[:len(acc)], sc.gen
	slot := 0
	for len(data) >= 3 {
		gap, k := uint64(data[0]), 1
		if gap >= 0x80 {
			gap, k = binary.Uvarint(data)
			if k <= 0 || len(data) < k+2 || gap >= uint64(len(acc)) {
				return
			}
		}
		slot += int(gap)
		if slot >= len(acc) {
			return
		}
		if stamp[slot] != gen {
			stamp[slot] = gen
			acc[slot] = 0
			sc.touched = append(sc.touched, uint32(slot))
		}
		acc[slot] += step * float32(int16(binary.LittleEndian.Uint16(data[k:])))
		data = data[k+2:]
	}
}

// cand is a scored point.
type cand struct {
	score float32
	slot  uint32
}

// topK keeps the k best candidates in a min-heap whose root is the
// worst kept. Ties are broken by chunk ID (smaller is better) so results
// do not depend on slot numbers.
type topK struct {
	k     int
	items []cand
	s     *Store
}

func newTopK(k int, s *Store) *topK {
	return &topK{k: k, items: make([]cand, 0, min(k, 1024)), s: s}
}

// worse reports whether a ranks below b.
func (h *topK) worse(a, b cand) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	s := h.s
	pa, pb := &s.pts[a.slot], &s.pts[b.slot]
	if pa.c != nil && pb.c != nil {
		return pa.c.ID > pb.c.ID
	}
	return s.field(pa, fieldID) > s.field(pb, fieldID)
}

func (h *topK) push(c cand) {
	if len(h.items) < h.k {
		h.items = append(h.items, c)
		h.up(len(h.items) - 1)
		return
	}
	if c.score < h.items[0].score || !h.worse(h.items[0], c) {
		return
	}
	h.items[0] = c
	h.down(0)
}

func (h *topK) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.worse(h.items[i], h.items[parent]) {
			return
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *topK) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		least := l
		if r := l + 1; r < n && h.worse(h.items[r], h.items[l]) {
			least = r
		}
		if !h.worse(h.items[least], h.items[i]) {
			return
		}
		h.items[i], h.items[least] = h.items[least], h.items[i]
		i = least
	}
}

// sorted returns the kept candidates, best first.
func (h *topK) sorted() []cand {
	out := slices.Clone(h.items)
	slices.SortFunc(out, func(a, b cand) int {
		switch {
		case h.worse(b, a):
			return -1
		case h.worse(a, b):
			return 1
		}
		return 0
	})
	return out
}
