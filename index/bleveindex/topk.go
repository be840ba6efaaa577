package bleveindex

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2/index/scorch"
	bindex "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// The fast path of Search. On a scorch snapshot whose field lengths are
// in the lens cache, topK scores straight from the segments' posting
// lists, term at a time into an array by document number (as taat.go
// does under bleve's searcher interface), then picks the top k from the
// array itself. Going through bleve's searcher and TopN collector cost
// more than the scoring at 100k chunks: a DocumentMatch per matching
// chunk, the postings of each term copied into growing slices, and the
// collector reading external IDs. The arithmetic is the same, in the
// same order (per chunk: fields in searchFields order within a term,
// terms in query order), so scores are identical, bit for bit, to the
// document-at-a-time path (TestTopKMatchesSearcher).

// scoredDoc is a document number of a snapshot with its score.
type scoredDoc struct {
	num   uint64
	score float64
	id    string // set for ties at the k-th score only
}

// topkScratch is the per-query memory of topK, pooled: the score array
// by document number, the within-segment term frequencies, and the list
// of matching documents.
type topkScratch struct {
	acc     []float64
	tf      []float64
	touched []uint32
	order   []uint64
	cands   []uint64
}

var topkPool = sync.Pool{New: func() any { return &topkScratch{} }}

// grow returns s resized to n, zeroed (the caller keeps it zeroed after
// use).
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// topK returns the matching documents of snap with the k best scores,
// best first, plus every other document that ties with the k-th (their
// IDs set, for search to order by ID). ok is false when the snapshot's
// lengths are not in the cache; the caller then takes bleve's path.
func (ix *Index) topK(ctx context.Context, snap *scorch.IndexSnapshot, terms []queryTerm, sc Scoring, k int) (top []scoredDoc, ok bool, err error) {
	lens, err := ix.lens.forSnapshot(snap)
	if err != nil || lens == nil {
		return nil, false, err
	}
	st, err := readStats(snap)
	if err != nil {
		return nil, false, err
	}
	weights := sc.weights()
	n, avgdl := collection(st, weights)
	if n == 0 {
		return []scoredDoc{}, true, nil
	}
	segs := snap.Segments()
	if len(segs) != len(lens.lens) {
		return nil, false, nil
	}
	ix.postings.prune(segs)

	// The posting lists of every term, field and segment, and the terms'
	// weights (idf from the document frequency over all segments). A
	// list in the postings cache is taken from there, without asking the
	// segment's dictionary.
	dicts := make([]segment.TermDictionary, len(segs)*len(searchFields))
	dict := func(i, f int) (segment.TermDictionary, error) {
		d := &dicts[i*len(searchFields)+f]
		if *d == nil {
			var err error
			if *d, err = segs[i].Segment().Dictionary(searchFields[f]); err != nil {
				return nil, err
			}
		}
		return *d, nil
	}
	lists := make([][]plist, len(terms))
	tw := make([]float64, len(terms))
	maxSeg := 0
	for _, ss := range segs {
		maxSeg = max(maxSeg, int(ss.Segment().Count()))
	}
	var term []byte
	for t, qt := range terms {
		// By segment, then by field: the order the lists are scored in.
		var counts [len(searchFields)]uint64
		term = append(term[:0], qt.term...)
		for i, ss := range segs {
			for f, w := range weights {
				if w == 0 {
					continue
				}
				key := postingsKey{ss.Segment(), ss.Deleted(), f, qt.term}
				if p, ok := ix.postings.lookup(key); ok {
					if m := uint64(p.len()); m > 0 {
						counts[f] += m
						lists[t] = append(lists[t], plist{seg: i, field: f, p: p, count: m})
					}
					continue
				}
				d, err := dict(i, f)
				if err != nil {
					return nil, false, err
				}
				pl, err := d.PostingsList(term, ss.Deleted(), nil)
				if err != nil {
					return nil, false, err
				}
				m := pl.Count()
				if m == 0 {
					ix.postings.putEmpty(key)
					continue
				}
				counts[f] += m
				lists[t] = append(lists[t], plist{seg: i, field: f, pl: pl, count: m})
			}
		}
		if df := slices.Max(counts[:]); df > 0 {
			tw[t] = idf(n, df) * float64(qt.qtf)
		}
	}

	var fromSegments uint64
	for _, ls := range lists {
		for _, l := range ls {
			if l.pl != nil {
				fromSegments += l.count
			}
		}
	}
	defer ix.readFromSegments(segs, int(fromSegments))

	// At most a few queries hold a score array at once: the array has a
	// slot for every chunk (8 MB at 1M chunks), and 64 clients each with
	// their own would take half a gigabyte to gain nothing on the cores
	// there are.
	select {
	case ix.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-ix.slots }()
	sp := topkPool.Get().(*topkScratch)
	sp.acc = grow(sp.acc, int(lens.total()))
	sp.tf = grow(sp.tf, maxSeg)
	acc, tf := sp.acc, sp.tf
	order := sp.order[:0]
	clean := false // tf is all zero again: the scratch may be reused
	defer func() {
		if !clean {
			return
		}
		for _, num := range order {
			acc[num] = 0
		}
		sp.order = order[:0]
		topkPool.Put(sp)
	}()

	if len(terms) > 1 && ix.prunable(lists) && postingsOf(lists) >= pruneFrom {
		pr := &pruner{ix: ix, ctx: ctx, segs: segs, lens: lens, lists: lists, terms: terms, tw: tw,
			weights: weights, sc: sc, avgdl: avgdl, acc: acc, tf: tf, touched: sp.touched[:0], order: order, cands: sp.cands}
		top, err := pr.run(k)
		order, sp.touched, sp.cands = pr.order, pr.touched[:0], pr.cands[:0]
		if err != nil {
			return nil, false, err
		}
		clean = true
		return selectTop(snap, acc, top, k)
	}

	var iter segment.PostingsIterator
	postings := 0
	for t := range terms {
		for ls := lists[t]; len(ls) > 0; {
			// The lists of one segment, in field order: each chunk's tf
			// is summed field by field, then saturated.
			seg, j := ls[0].seg, 1
			for j < len(ls) && ls[j].seg == seg {
				j++
			}
			sl := lens.lens[seg]
			touched := sp.touched[:0]
			for _, l := range ls[:j] {
				w := weights[l.field]
				p, cached := l.p, l.pl == nil
				if !cached {
					key := postingsKey{segs[seg].Segment(), segs[seg].Deleted(), l.field, terms[t].term}
					var err error
					if p, cached, err = ix.postings.get(ctx, key, l.pl, l.count, &iter); err != nil {
						return nil, false, err
					}
				}
				if cached && p.dense != nil {
					if len(p.dense) > len(sl) {
						return nil, false, fmt.Errorf("bleveindex: a list of %d documents in a segment of %d", len(p.dense), len(sl))
					}
					for d, v := range p.dense {
						if v != 0 {
							if tf[d] == 0 {
								touched = append(touched, uint32(d))
							}
							tf[d] += w * float64(v)
						}
					}
					continue
				}
				if cached {
					for x, d := range p.nums {
						if d >= uint32(len(sl)) {
							return nil, false, fmt.Errorf("bleveindex: document number %d beyond its segment's %d", d, len(sl))
						}
						if tf[d] == 0 {
							touched = append(touched, d)
						}
						tf[d] += w * float64(p.freqs[x])
					}
					continue
				}
				iter = l.pl.Iterator(true, false, false, iter)
				for {
					p, err := iter.Next()
					if err != nil {
						return nil, false, err
					}
					if p == nil {
						break
					}
					if postings++; postings%65536 == 0 && ctx.Err() != nil {
						return nil, false, ctx.Err()
					}
					d := p.Number()
					if d >= uint64(len(sl)) {
						return nil, false, fmt.Errorf("bleveindex: document number %d beyond its segment's %d", d, len(sl))
					}
					if tf[d] == 0 {
						touched = append(touched, uint32(d))
					}
					tf[d] += w * float64(p.Frequency())
				}
			}
			off := lens.offsets[seg]
			for _, d := range touched {
				f := tf[d]
				tf[d] = 0
				var dl float64
				for i, w := range weights {
					dl += w * float64(sl[d][i])
				}
				norm := sc.K1 * (1 - sc.B + sc.B*dl/avgdl)
				num := off + uint64(d)
				if acc[num] == 0 {
					order = append(order, num)
				}
				acc[num] += tw[t] * f / (f + norm)
			}
			sp.touched = touched
			ls = ls[j:]
		}
	}
	clean = true
	return selectTop(snap, acc, order, k)
}

// kthBest returns the k-th best score of the documents nums in acc (the
// lowest, when there are fewer than k) and how many of the k there are.
func kthBest(acc []float64, nums []uint64, k int) (float64, int) {
	// A min-heap of the k best scores seen.
	h := make([]float64, 0, k)
	for _, num := range nums {
		v := acc[num]
		if len(h) < k {
			h = append(h, v)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if h[p] <= h[i] {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			continue
		}
		if v <= h[0] {
			continue
		}
		h[0] = v
		for i := 0; ; {
			l, m := 2*i+1, i
			if l < len(h) && h[l] < h[m] {
				m = l
			}
			if l+1 < len(h) && h[l+1] < h[m] {
				m = l + 1
			}
			if m == i {
				break
			}
			h[m], h[i] = h[i], h[m]
			i = m
		}
	}
	if len(h) == 0 {
		return 0, 0
	}
	return h[0], len(h)
}

// plist is a posting list of one term in one segment's field.
type plist struct {
	seg, field int
	pl         segment.PostingsList // nil when p holds the list
	p          postings
	count      uint64
}

// selectTop picks the documents with the k best scores from acc, plus
// those tying with the k-th, which get their IDs.
func selectTop(snap *scorch.IndexSnapshot, acc []float64, order []uint64, k int) ([]scoredDoc, bool, error) {
	kth, n := kthBest(acc, order, k)
	if n == 0 {
		return []scoredDoc{}, true, nil
	}
	var top []scoredDoc
	ties := 0
	for _, num := range order {
		if v := acc[num]; v >= kth {
			top = append(top, scoredDoc{num: num, score: v})
			if v == kth {
				ties++
			}
		}
	}
	if len(top) > k && ties > 1 {
		for i := range top {
			if top[i].score == kth {
				id, err := snap.ExternalID(bindex.NewIndexInternalID(nil, top[i].num))
				if err != nil {
					return nil, false, err
				}
				top[i].id = id
			}
		}
	}
	slices.SortFunc(top, func(a, b scoredDoc) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return top[:min(k, len(top))], true, nil
}

// collection returns the number of chunks N and the BM25F average
// length of the collection statistics st under field weights w (n is 0
// when nothing can match).
func collection(st stats, w [len(searchFields)]float64) (n, avgdl float64) {
	var sumLen float64
	for i, wi := range w {
		if wi == 0 {
			continue
		}
		n = math.Max(n, float64(st.Fields[i].Docs))
		sumLen += wi * float64(st.Fields[i].Len)
	}
	if n == 0 || sumLen == 0 {
		return 0, 0
	}
	return n, sumLen / n
}

// idf is Lucene's BM25 idf of a term in df of n chunks. Statistics and
// postings are written in one batch, so df ≤ n; the guard keeps idf
// positive should that ever not hold.
func idf(n float64, df uint64) float64 {
	fdf := math.Min(float64(df), n)
	return math.Log(1 + (n-fdf+0.5)/(fdf+0.5))
}
