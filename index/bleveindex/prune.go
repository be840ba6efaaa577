package bleveindex

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// Exact dynamic pruning (MaxScore, term at a time). A term adds at most
// its weight qtf·idf to a chunk's score (tf/(tf+norm) ≤ 1). The terms
// are scored rarest (heaviest) first, each over its whole lists, until
// the k-th best partial score θ exceeds what the remaining terms could
// add together: a chunk none of the scored terms matched can then no
// longer reach the top k, nor tie with it, so the remaining terms (the
// common ones, with lists covering much of the index) are only looked
// up for the chunks already scored, and a chunk whose partial score plus
// the remaining terms' weights stays below θ is dropped. At 1M chunks
// most synthetic queries hold a rare word and a few common ones, whose
// lists were most of the work.
//
// The partial sums are added in another order than the query's, so they
// may differ from the scores of the full path in the last bits: the
// chunks within a relative 1e-9 of the k-th are rescored from their
// postings, term by term in query order, the same additions as the full
// path (TestPrunedMatchesFull), and only those scores are returned.

// slack is the relative margin kept between a bound and θ: far above
// the rounding of a sum of a few terms, far below any real difference.
const slack = 1e-9

// pruneFrom is the fewest postings a query must hold to be pruned:
// below it, scoring every posting costs less than the bookkeeping
// (finding θ, rescoring the top), as on SciFact's 5,183 abstracts.
var pruneFrom uint64 = 1 << 16 // a variable for tests

// postingsOf is the number of postings of lists.
func postingsOf(lists [][]plist) uint64 {
	var n uint64
	for _, ls := range lists {
		for _, l := range ls {
			n += l.count
		}
	}
	return n
}

// prunable tells whether every list of the query may be cached: the
// pruned path looks postings up by document number, which needs the
// list decoded.
func (ix *Index) prunable(lists [][]plist) bool {
	for _, ls := range lists {
		for _, l := range ls {
			if l.pl != nil && !ix.postings.enabled(l.count) {
				return false
			}
		}
	}
	return true
}

// pruner is the state of one pruned query.
type pruner struct {
	ix      *Index
	ctx     context.Context
	segs    []*scorch.SegmentSnapshot
	lens    *snapLens
	lists   [][]plist
	terms   []queryTerm
	tw      []float64 // qtf·idf, each term's bound
	weights [len(searchFields)]float64
	sc      Scoring
	avgdl   float64

	acc     []float64 // partial scores; -1 for chunks dropped
	tf      []float64 // within a segment, zero between uses
	touched []uint32
	order   []uint64 // every document number written in acc
	cands   []uint64 // scratch for the candidates
	iter    segment.PostingsIterator
	count   int // postings read, for context checks
}

// run scores the query and returns the document numbers whose exact
// scores, in acc, decide the top k (every chunk at or above the k-th).
func (p *pruner) run(k int) ([]uint64, error) {
	byBound := make([]int, len(p.tw))
	for i := range byBound {
		byBound[i] = i
	}
	slices.SortStableFunc(byBound, func(a, b int) int { return cmp.Compare(p.tw[b], p.tw[a]) })
	// rest[i] bounds what the terms byBound[i:] add to a chunk.
	rest := make([]float64, len(byBound)+1)
	for i := len(byBound) - 1; i >= 0; i-- {
		rest[i] = rest[i+1] + p.tw[byBound[i]]
	}

	i := 0
	var theta float64
	for ; i < len(byBound); i++ {
		// θ ≤ the best partial score ≤ the scored terms' bounds: only
		// then is it worth finding.
		if i > 0 && rest[i] < rest[0]-rest[i] {
			if kth, n := kthBest(p.acc, p.order, k); n == k && rest[i] < kth*(1-slack) {
				theta = kth
				break
			}
		}
		if err := p.score(byBound[i], nil); err != nil {
			return nil, err
		}
	}
	cands := p.order
	if i < len(byBound) {
		p.ix.pruned.Add(1)
		cands = p.candidates(theta, rest[i])
	}
	for ; i < len(byBound); i++ {
		if err := p.score(byBound[i], cands); err != nil {
			return nil, err
		}
		if kth, n := kthBest(p.acc, cands, k); n == k {
			cands = p.drop(cands, kth, rest[i+1])
		}
	}

	// The chunks that may be among the top k, rescored exactly.
	kth, n := kthBest(p.acc, cands, k)
	if n == 0 {
		return nil, nil
	}
	var top []uint64
	for _, num := range cands {
		if p.acc[num] >= kth*(1-slack) {
			top = append(top, num)
		}
	}
	slices.Sort(top)
	if err := p.rescore(top); err != nil {
		return nil, err
	}
	return top, nil
}

// candidates returns the scored chunks that may still reach θ with rest
// more, in document order, and marks the others dropped.
func (p *pruner) candidates(theta, rest float64) []uint64 {
	out := p.cands[:0]
	if len(p.order) > len(p.acc)/32 {
		// Many: reading them off the array in order is cheaper than
		// sorting. Those that cannot reach θ are dropped on the way.
		bar := theta*(1-slack) - rest
		out = slices.Grow(out, len(p.order))
		for num, v := range p.acc {
			if v > 0 {
				if v < bar {
					p.acc[num] = -1
					continue
				}
				out = append(out, uint64(num))
			}
		}
	} else {
		out = append(out, p.order...)
		slices.Sort(out)
		out = p.drop(out, theta, rest)
	}
	p.cands = out
	return out
}

// drop keeps the candidates whose partial score plus rest may reach θ,
// in place, and marks the others dropped.
func (p *pruner) drop(cands []uint64, theta, rest float64) []uint64 {
	kept := cands[:0]
	for _, num := range cands {
		if p.acc[num]+rest < theta*(1-slack) {
			p.acc[num] = -1
			continue
		}
		kept = append(kept, num)
	}
	return kept
}

// list returns the decoded postings of l.
func (p *pruner) list(t int, l *plist) (postings, error) {
	if l.pl == nil {
		return l.p, nil
	}
	key := postingsKey{p.segs[l.seg].Segment(), p.segs[l.seg].Deleted(), l.field, p.terms[t].term}
	pp, ok, err := p.ix.postings.get(p.ctx, key, l.pl, l.count, &p.iter)
	if err != nil {
		return postings{}, err
	}
	if !ok {
		return postings{}, fmt.Errorf("bleveindex: a list of %d postings not cached", l.count)
	}
	l.p, l.pl = pp, nil
	return pp, nil
}

// score adds term t's scores: to every chunk its lists hold when cands
// is nil, else to the candidates cands (in document order) only.
func (p *pruner) score(t int, cands []uint64) error {
	acc, tf, w := p.acc, p.tf, p.weights
	ls := p.lists[t]
	for len(ls) > 0 {
		seg, j := ls[0].seg, 1
		for j < len(ls) && ls[j].seg == seg {
			j++
		}
		sl := p.lens.lens[seg]
		off := p.lens.offsets[seg]
		var in []uint64 // the candidates of this segment
		if cands != nil {
			lo, _ := slices.BinarySearch(cands, off)
			hi, _ := slices.BinarySearch(cands, off+uint64(len(sl)))
			if in = cands[lo:hi]; len(in) == 0 {
				ls = ls[j:]
				continue
			}
		}
		touched := p.touched[:0]
		for x := range ls[:j] {
			l := &ls[x]
			pp, err := p.list(t, l)
			if err != nil {
				return err
			}
			if pp.n() > len(sl) || (pp.dense == nil && len(pp.nums) > 0 && int(pp.nums[len(pp.nums)-1]) >= len(sl)) {
				return fmt.Errorf("bleveindex: postings beyond their segment's %d documents", len(sl))
			}
			if p.count += pp.n(); p.count >= 1<<20 {
				p.count = 0
				if err := p.ctx.Err(); err != nil {
					return err
				}
			}
			wf := w[l.field]
			switch {
			case cands == nil && pp.dense != nil:
				for d, v := range pp.dense {
					if v != 0 {
						if tf[d] == 0 {
							touched = append(touched, uint32(d))
						}
						tf[d] += wf * float64(v)
					}
				}
			case cands == nil:
				for x, d := range pp.nums {
					if tf[d] == 0 {
						touched = append(touched, d)
					}
					tf[d] += wf * float64(pp.freqs[x])
				}
			case pp.dense != nil:
				for _, num := range in {
					d := uint32(num - off)
					if v := pp.dense[d]; v != 0 {
						if tf[d] == 0 {
							touched = append(touched, d)
						}
						tf[d] += wf * float64(v)
					}
				}
			case len(pp.nums) > 16*len(in):
				// Few candidates in a long list: search it.
				nums := pp.nums
				base := 0
				for _, num := range in {
					d := uint32(num - off)
					x, found := slices.BinarySearch(nums[base:], d)
					base += x
					if found {
						if tf[d] == 0 {
							touched = append(touched, d)
						}
						tf[d] += wf * float64(pp.freqs[base])
					}
				}
			default:
				cacc := acc[off : off+uint64(len(sl))]
				for x, d := range pp.nums {
					if cacc[d] > 0 {
						if tf[d] == 0 {
							touched = append(touched, d)
						}
						tf[d] += wf * float64(pp.freqs[x])
					}
				}
			}
		}
		tw := p.tw[t]
		for _, d := range touched {
			f := tf[d]
			tf[d] = 0
			norm := p.norm(sl, d)
			num := off + uint64(d)
			if acc[num] == 0 {
				p.order = append(p.order, num)
			}
			acc[num] += tw * f / (f + norm)
		}
		p.touched = touched
		ls = ls[j:]
	}
	return nil
}

// norm is BM25's length normalisation of document d of a segment.
func (p *pruner) norm(sl []lengths32, d uint32) float64 {
	var dl float64
	for i, w := range p.weights {
		dl += w * float64(sl[d][i])
	}
	return p.sc.K1 * (1 - p.sc.B + p.sc.B*dl/p.avgdl)
}

// rescore sets the scores of nums (in document order) in acc to their
// exact values: each term's share summed in query order, as the full
// path adds them.
func (p *pruner) rescore(nums []uint64) error {
	at := make([]int, len(p.lists)) // per term, its first list of the segment
	seg := -1
	var sl []lengths32
	var off uint64
	for _, num := range nums {
		if seg < 0 || num >= off+uint64(len(sl)) {
			seg = sort.Search(len(p.lens.offsets), func(x int) bool { return p.lens.offsets[x] > num }) - 1
			sl, off = p.lens.lens[seg], p.lens.offsets[seg]
			for t, ls := range p.lists {
				at[t] = sort.Search(len(ls), func(x int) bool { return ls[x].seg >= seg })
			}
		}
		d := uint32(num - off)
		var s float64
		for t, ls := range p.lists {
			var f float64
			for x := at[t]; x < len(ls) && ls[x].seg == seg; x++ {
				pp, err := p.list(t, &ls[x])
				if err != nil {
					return err
				}
				if v := pp.freq(d); v != 0 {
					f += p.weights[ls[x].field] * float64(v)
				}
			}
			if f != 0 {
				norm := p.norm(sl, d)
				s += p.tw[t] * f / (f + norm)
			}
		}
		p.acc[num] = s
	}
	return nil
}
