package bleveindex

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2/search"
	bindex "github.com/blevesearch/bleve_index_api"
)

// Term at a time. With the field lengths in memory (lensCache), the
// searcher scores a query one term at a time into an array indexed by
// document number, instead of walking every posting list together in a
// heap, document at a time: no heap operation per posting, and each
// chunk's length normalisation read from memory. Terms are added in
// query-term order, so every chunk's sum is the same sequence of
// floating-point additions as the document-at-a-time path (its touched
// terms in order): scores are identical, bit for bit.

// accPool recycles score arrays; entries are zeroed after use.
var accPool sync.Pool

// taat is the state of a term-at-a-time search.
type taat struct {
	acc   []float64 // by document number; > 0 for matching chunks
	order []uint64  // matching document numbers, ascending
	next  int       // index into order of the next result
	id    []byte    // scratch for Next's IndexInternalID
}

// accumulate scores every matching chunk. It consumes the cursors.
func (s *bm25Searcher) accumulate(ctx context.Context) error {
	total := s.cached.total()
	t := &taat{}
	if a, ok := accPool.Get().(*[]float64); ok && uint64(cap(*a)) >= total {
		t.acc = (*a)[:total]
	} else {
		t.acc = make([]float64, total)
	}
	s.taat = t
	type posting struct {
		num  uint64
		freq uint64
	}
	var lists [len(searchFields)][]posting
	for _, c := range s.cursors {
		lists[c.field] = slices.Grow(lists[c.field], int(c.reader.Count()))
	}
	var tfd bindex.TermFieldDoc
	n := 0
	for term := range s.terms {
		for f := range lists {
			lists[f] = lists[f][:0]
		}
		for _, c := range s.cursors {
			if c.term != term {
				continue
			}
			for {
				d, err := c.reader.Next(&tfd)
				if err != nil {
					return err
				}
				if d == nil {
					break
				}
				if n++; n%65536 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				lists[c.field] = append(lists[c.field], posting{d.ID.Value(), d.Freq})
			}
		}
		// Merge the term's fields by document number.
		var at [len(searchFields)]int
		for {
			num, any := ^uint64(0), false
			for f := range lists {
				if at[f] < len(lists[f]) && lists[f][at[f]].num < num {
					num, any = lists[f][at[f]].num, true
				}
			}
			if !any {
				break
			}
			var tf float64
			for f := range lists {
				var freq uint64
				if at[f] < len(lists[f]) && lists[f][at[f]].num == num {
					freq = lists[f][at[f]].freq
					at[f]++
				}
				tf += s.weights[f] * float64(freq)
			}
			if num >= total {
				return fmt.Errorf("bleveindex: document number %d beyond the snapshot's %d", num, total)
			}
			l, ok := s.cached.getNum(num)
			if !ok {
				return fmt.Errorf("bleveindex: chunk without field lengths (index written by another program?)")
			}
			var dl float64
			for i, w := range s.weights {
				dl += w * float64(l[i])
			}
			norm := s.k1 * (1 - s.b + s.b*dl/s.avgdl)
			if t.acc[num] == 0 {
				t.order = append(t.order, num)
			}
			t.acc[num] += s.terms[term].weight * tf / (tf + norm)
		}
	}
	if len(t.order) > len(t.acc)/32 {
		// Many matches: reading them off the array in order is cheaper
		// than sorting.
		t.order = t.order[:0]
		for num, v := range t.acc {
			if v != 0 {
				t.order = append(t.order, uint64(num))
			}
		}
	} else {
		slices.Sort(t.order)
	}
	return nil
}

// nextTAAT returns the next matching chunk in document order.
func (s *bm25Searcher) nextTAAT(ctx *search.SearchContext) *search.DocumentMatch {
	t := s.taat
	if t.next >= len(t.order) {
		return nil
	}
	num := t.order[t.next]
	t.next++
	rv := ctx.DocumentMatchPool.Get()
	rv.IndexInternalID = bindex.NewIndexInternalID(rv.IndexInternalID[:0], num)
	rv.Score = t.acc[num]
	return rv
}

// advanceTAAT skips to the first matching chunk at or after id.
func (s *bm25Searcher) advanceTAAT(ctx *search.SearchContext, id bindex.IndexInternalID) *search.DocumentMatch {
	t := s.taat
	v := id.Value()
	for t.next < len(t.order) && t.order[t.next] < v {
		t.next++
	}
	return s.nextTAAT(ctx)
}

// release returns the score array to the pool, zeroed.
func (t *taat) release() {
	for _, num := range t.order {
		t.acc[num] = 0
	}
	a := t.acc[:0]
	accPool.Put(&a)
	t.acc, t.order = nil, nil
}

// total is the number of document numbers of the snapshot.
func (s *snapLens) total() uint64 {
	if len(s.offsets) == 0 {
		return 0
	}
	last := len(s.offsets) - 1
	return s.offsets[last] + uint64(len(s.lens[last]))
}
