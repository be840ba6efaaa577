package bleveindex

import (
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"

	"github.com/quarry-kb/quarry/internal/fsx"
)

// Bleve maps its segment files into memory, and every page a query
// reads stays in the process's resident set: at 1M chunks, decoding the
// common words' lists and reading every chunk's field lengths left
// 0.9 GB of the 1.1 GB of segments resident, though the decoded lists
// are in the postings cache and the lengths in the lens cache. Those
// pages are dropped from the resident set (they stay in the page cache;
// a later read maps them again, a minor fault) after the lengths of a
// segment are read, and whenever queries have decoded dropEvery postings
// since the last drop.

// dropEvery is how many postings decoded from the segments make their
// pages dropped (about 20 MB of postings).
const dropEvery = 8 << 20

// dropSegment drops the resident pages of a segment's file mapping. The
// caller holds a snapshot holding sg, so the mapping cannot be unmapped
// (and its addresses reused) meanwhile.
func dropSegment(sg segment.Segment) {
	if m, ok := sg.(interface{ Data() []byte }); ok {
		fsx.DropPages(m.Data())
	}
}

// readFromSegments counts n postings decoded from segs, a snapshot's
// segments the caller holds, and drops their pages every dropEvery.
func (ix *Index) readFromSegments(segs []*scorch.SegmentSnapshot, n int) {
	if n <= 0 || ix.decoded.Add(int64(n)) < dropEvery {
		return
	}
	ix.decoded.Store(0)
	for _, ss := range segs {
		dropSegment(ss.Segment())
	}
}
