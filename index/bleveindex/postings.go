package bleveindex

import (
	"context"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// postingsCache keeps the posting lists that queries read, decoded
// (document numbers and frequencies in plain arrays), up to a memory
// budget, least recently used out first. Decoding a list through zap
// (finding the term in the segment's dictionary, reading its roaring
// bitmap, then the iterator at about 50 ns a posting) was most of a
// keyword query; reading the arrays costs one or two. A term a segment's
// field lacks is kept too, as an empty list, so that the dictionary is
// not asked again. Segments never change, and their deletions change
// only by a new bitmap in a new snapshot, so a list is keyed by its
// segment, the deletion bitmap it was read under, the field and the
// term: a cached list is always the list the iterator would give.
//
// A list covering an eighth or more of a large segment is kept dense, a
// byte of frequency for every document of the segment: at 1M chunks the
// common words' lists are most of what queries read, and in eight bytes
// a posting 128 MiB held only about sixteen whole-corpus lists, so they
// were decoded again on most queries. Dense, a list covering the whole
// corpus takes 1 MB, and a document's frequency is found in O(1), which
// the pruned path (prune.go) uses to look candidates up.
type postingsCache struct {
	budget int64  // bytes; ≤ 0 disables the cache
	minLen uint64 // shortest list cached (0: every list, empty ones too)

	mu    sync.Mutex
	seen  []*scorch.SegmentSnapshot // at the last prune
	m     map[postingsKey]*postingsEntry
	lru   postingsEntry // sentinel: lru.next is the most recently used
	bytes int64
}

type postingsKey struct {
	seg     segment.Segment
	deleted *roaring.Bitmap
	field   int
	term    string
}

// postings are a decoded posting list: document numbers and
// frequencies, or, for a list that covers much of its segment, the
// frequency of every document of the segment (0 where absent).
type postings struct {
	nums  []uint32
	freqs []uint32
	dense []uint8
	count int // postings in dense
}

// len is the number of postings.
func (p postings) len() int {
	if p.dense != nil {
		return p.count
	}
	return len(p.nums)
}

// n is the length of the list's arrays.
func (p postings) n() int {
	if p.dense != nil {
		return len(p.dense)
	}
	return len(p.nums)
}

// freq returns the frequency of document d in the list, 0 when absent.
func (p postings) freq(d uint32) uint32 {
	if p.dense != nil {
		if int(d) < len(p.dense) {
			return uint32(p.dense[d])
		}
		return 0
	}
	if x, ok := slices.BinarySearch(p.nums, d); ok {
		return p.freqs[x]
	}
	return 0
}

type postingsEntry struct {
	postings
	key        postingsKey
	prev, next *postingsEntry
}

// size is what a list costs: its arrays, the entry and its map slot.
func (p postings) size() int64 { return int64(len(p.nums)+len(p.freqs))*4 + int64(len(p.dense)) + 160 }

// enabled tells whether a list of count postings may be cached.
func (c *postingsCache) enabled(count uint64) bool {
	return c.budget > 0 && count >= c.minLen && int64(count)*8 <= c.budget/4
}

// lookup returns the cached list of key, if any, and marks it used.
func (c *postingsCache) lookup(key postingsKey) (postings, bool) {
	if c.budget <= 0 {
		return postings{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return postings{}, false
	}
	c.unlinkLocked(e)
	c.pushLocked(e)
	return e.postings, true
}

// get returns the decoded list of key, decoding pl when it is not
// cached; ok is false when the list is not worth caching (the caller
// iterates pl itself).
func (c *postingsCache) get(ctx context.Context, key postingsKey, pl segment.PostingsList, count uint64, iter *segment.PostingsIterator) (postings, bool, error) {
	if !c.enabled(count) {
		return postings{}, false, nil
	}
	if p, ok := c.lookup(key); ok {
		return p, true, nil
	}
	p, err := decodeDense(ctx, key.seg.Count(), pl, count, iter)
	if err != nil {
		return postings{}, false, err
	}
	if p.dense == nil {
		p = postings{nums: make([]uint32, 0, count), freqs: make([]uint32, 0, count)}
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
	}
	c.put(key, p)
	return p, true, nil
}

// denseFrom is the smallest segment whose lists may be dense: below it
// they take little memory either way, and reading a list of an eighth
// of the segment costs less than scanning every document's byte.
var denseFrom uint64 = 1 << 15 // a variable for tests

// decodeDense decodes pl as a dense list when that takes less memory (a
// byte a document of the segment against eight a posting) and every
// frequency fits in a byte; otherwise it returns no list.
func decodeDense(ctx context.Context, docs uint64, pl segment.PostingsList, count uint64, iter *segment.PostingsIterator) (postings, error) {
	if count*8 < docs || docs < denseFrom || docs > 1<<32 {
		return postings{}, nil
	}
	dense := make([]uint8, docs)
	*iter = pl.Iterator(true, false, false, *iter)
	n := 0
	for ; ; n++ {
		x, err := (*iter).Next()
		if err != nil {
			return postings{}, err
		}
		if x == nil {
			break
		}
		if n%65536 == 65535 && ctx.Err() != nil {
			return postings{}, ctx.Err()
		}
		d, f := x.Number(), x.Frequency()
		if d >= docs || f > 255 || f == 0 {
			return postings{}, nil
		}
		dense[d] = uint8(f)
	}
	return postings{dense: dense, count: n}, nil
}

// putEmpty records that key's list is empty, so that the dictionary is
// not asked again.
func (c *postingsCache) putEmpty(key postingsKey) {
	if c.enabled(0) {
		c.put(key, postings{})
	}
}

// put caches p as the list of key, dropping the least recently used
// lists beyond the budget.
func (c *postingsCache) put(key postingsKey, p postings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[postingsKey]*postingsEntry{}
		c.lru.prev, c.lru.next = &c.lru, &c.lru
	}
	if _, ok := c.m[key]; ok {
		return
	}
	e := &postingsEntry{postings: p, key: key}
	c.m[key] = e
	c.pushLocked(e)
	c.bytes += p.size()
	for c.bytes > c.budget && c.lru.prev != &c.lru {
		c.dropLocked(c.lru.prev)
	}
}

func (c *postingsCache) pushLocked(e *postingsEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	e.prev.next, e.next.prev = e, e
}

func (c *postingsCache) unlinkLocked(e *postingsEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *postingsCache) dropLocked(e *postingsEntry) {
	c.unlinkLocked(e)
	delete(c.m, e.key)
	c.bytes -= e.size()
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
			c.dropLocked(e)
		}
	}
}
