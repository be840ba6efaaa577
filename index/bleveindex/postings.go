package bleveindex

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// postingsCache keeps the long posting lists that queries read, decoded
// (document numbers and frequencies in plain arrays), up to a memory
// budget, least recently used out first. A common word's list holds
// most of the chunks; decoding it through zap's iterator cost about 50 ns
// a posting and was most of a query at 100k chunks, where reading the
// arrays costs one or two. Segments never change, and their deletions
// change only by a new bitmap in a new snapshot, so a list is keyed by
// its segment, the deletion bitmap it was read under, the field and the
// term: a cached list is always the list the iterator would give.
type postingsCache struct {
	budget int64  // bytes; ≤ 0 disables the cache
	minLen uint64 // shortest list cached; 0 means minCachedPostings

	mu    sync.Mutex
	seen  []*scorch.SegmentSnapshot // at the last prune
	m     map[postingsKey]*postingsEntry
	bytes int64
	tick  uint64
}

type postingsKey struct {
	seg     segment.Segment
	deleted *roaring.Bitmap
	field   int
	term    string
}

// postings are a decoded posting list.
type postings struct {
	nums  []uint32
	freqs []uint32
}

type postingsEntry struct {
	postings
	used uint64
}

// minCachedPostings is the shortest list worth caching: shorter ones
// decode quickly and would only crowd the map.
const minCachedPostings = 2048

func (p postings) size() int64 { return int64(len(p.nums)+len(p.freqs))*4 + 96 }

// get returns the decoded list of key, decoding pl when it is not
// cached; ok is false when the list is not worth caching (the caller
// iterates pl itself).
func (c *postingsCache) get(ctx context.Context, key postingsKey, pl segment.PostingsList, count uint64, iter *segment.PostingsIterator) (postings, bool, error) {
	if c.budget <= 0 || count < cmp.Or(c.minLen, minCachedPostings) || int64(count)*8 > c.budget/4 {
		return postings{}, false, nil
	}
	c.mu.Lock()
	if e, ok := c.m[key]; ok {
		c.tick++
		e.used = c.tick
		c.mu.Unlock()
		return e.postings, true, nil
	}
	c.mu.Unlock()

	p := postings{nums: make([]uint32, 0, count), freqs: make([]uint32, 0, count)}
	*iter = pl.Iterator(true, false, false, *iter)
	for {
		x, err := (*iter).Next()
		if err != nil {
			return postings{}, false, err
		}
		if x == nil {
			break
		}
		if len(p.nums)%65536 == 65535 && ctx.Err() != nil {
			return postings{}, false, ctx.Err()
		}
		p.nums = append(p.nums, uint32(x.Number()))
		p.freqs = append(p.freqs, uint32(x.Frequency()))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[postingsKey]*postingsEntry{}
	}
	if _, ok := c.m[key]; !ok {
		c.tick++
		c.m[key] = &postingsEntry{postings: p, used: c.tick}
		c.bytes += p.size()
		for c.bytes > c.budget {
			c.evictLocked()
		}
	}
	return p, true, nil
}

// evictLocked drops the least recently used list.
func (c *postingsCache) evictLocked() {
	var oldest postingsKey
	var found *postingsEntry
	for k, e := range c.m {
		if found == nil || e.used < found.used {
			oldest, found = k, e
		}
	}
	if found == nil {
		c.bytes = 0
		return
	}
	delete(c.m, oldest)
	c.bytes -= found.size()
}

// prune drops the lists of segments that are not among segs, the
// segments of the latest snapshot, and lists read under an older
// deletion bitmap of a segment.
func (c *postingsCache) prune(segs []*scorch.SegmentSnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 || slices.Equal(c.seen, segs) {
		return
	}
	c.seen = slices.Clone(segs)
	live := make(map[segment.Segment]*roaring.Bitmap, len(segs))
	for _, ss := range segs {
		live[ss.Segment()] = ss.Deleted()
	}
	for k, e := range c.m {
		if d, ok := live[k.seg]; !ok || d != k.deleted {
			delete(c.m, k)
			c.bytes -= e.size()
		}
	}
}
