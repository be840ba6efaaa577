package bleveindex

import (
	"sync"

	"github.com/blevesearch/bleve/v2/index/scorch"
	bindex "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// lensCache keeps the field lengths of every chunk of each segment in
// memory. BM25F needs a chunk's lengths to score it; reading them from
// doc values for every matching chunk cost about a third of a query.
// Segments never change once written (merging makes new ones), so the
// lengths of a segment are read once, on first use, and dropped when
// the segment is no longer in the index. Twelve bytes a chunk.
type lensCache struct {
	mu   sync.Mutex
	segs map[segment.Segment]*segLens
}

type segLens struct {
	once sync.Once
	lens []lengths32
	err  error
}

// lengths32 is lengths in less memory.
type lengths32 [len(searchFields)]uint32

// snapLens are the lengths of a snapshot's segments, for one query.
type snapLens struct {
	offsets []uint64 // first document number of each segment
	lens    [][]lengths32
	cur     int // segment of the last lookup: queries visit documents in order
}

// forSnapshot returns the lengths of every segment of snap, reading
// those it has not seen, and forgets segments that are gone. It returns
// nil (use doc values) when a segment cannot visit its doc values.
func (c *lensCache) forSnapshot(snap *scorch.IndexSnapshot) (*snapLens, error) {
	segs := snap.Segments()
	out := &snapLens{offsets: make([]uint64, len(segs)), lens: make([][]lengths32, len(segs))}
	c.mu.Lock()
	if c.segs == nil {
		c.segs = map[segment.Segment]*segLens{}
	}
	live := make(map[segment.Segment]bool, len(segs))
	entries := make([]*segLens, len(segs))
	for i, ss := range segs {
		sg := ss.Segment()
		live[sg] = true
		e := c.segs[sg]
		if e == nil {
			e = &segLens{}
			c.segs[sg] = e
		}
		entries[i] = e
	}
	for sg := range c.segs {
		if !live[sg] {
			delete(c.segs, sg)
		}
	}
	c.mu.Unlock()

	var running uint64
	for i, ss := range segs {
		sg := ss.Segment()
		out.offsets[i] = running
		running += sg.Count()
		e := entries[i]
		e.once.Do(func() {
			e.lens, e.err = readSegLens(sg)
			dropSegment(sg) // the doc values' pages: see drop.go
		})
		if e.err != nil {
			return nil, e.err
		}
		if e.lens == nil {
			return nil, nil
		}
		out.lens[i] = e.lens
	}
	return out, nil
}

// readSegLens reads the lengths of every document of a segment from its
// doc values; nil when the segment has none to visit.
func readSegLens(sg segment.Segment) ([]lengths32, error) {
	dvv, ok := sg.(segment.DocValueVisitable)
	if !ok {
		return nil, nil
	}
	n := sg.Count()
	out := make([]lengths32, n)
	fields := []string{fieldLens}
	var state segment.DocVisitState
	for d := uint64(0); d < n; d++ {
		var err error
		state, err = dvv.VisitDocValues(d, fields, func(field string, term []byte) {
			if field == fieldLens {
				if l, ok := decodeLengths(term); ok {
					for i, x := range l {
						out[d][i] = uint32(x)
					}
				}
			}
		}, state)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// get returns the lengths of the document with internal id.
func (s *snapLens) get(id bindex.IndexInternalID) (lengths, bool) {
	return s.getNum(id.Value())
}

// getNum returns the lengths of document number num.
func (s *snapLens) getNum(num uint64) (lengths, bool) {
	i := s.cur
	if i >= len(s.offsets) || num < s.offsets[i] {
		i = 0
	}
	for i+1 < len(s.offsets) && num >= s.offsets[i+1] {
		i++
	}
	s.cur = i
	local := num - s.offsets[i]
	if local >= uint64(len(s.lens[i])) {
		return lengths{}, false
	}
	var l lengths
	for f, x := range s.lens[i][local] {
		l[f] = int(x)
	}
	return l, true
}
