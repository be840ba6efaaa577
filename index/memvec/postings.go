package memvec

import (
	"encoding/binary"
	"math"
	"slices"
	"sync/atomic"
)

// Posting lists of the sparse inverted index, compressed.
//
// A list holds the slots having one sparse index nonzero, in increasing
// slot order, with their values, each value stored as an int16 of
// q × scale / qmax, scale being a power of two no smaller than the
// largest |value| of the list. A list takes one of two forms:
//
//   - Gap-coded, for the rarer indices: the list is cut into blocks of
//     blockLen postings; within a block each posting is the uvarint gap
//     from the previous slot (the first from the last slot of the block
//     before, or from 0) followed by its value (int16 little-endian). The
//     block table keeps each block's byte offset and last slot, so a
//     search could skip whole blocks. A typical posting takes one or two
//     bytes of gap and two of value, where a slot and a float32 took
//     eight.
//   - Dense, for the common ones (at least a third of the slots the list
//     spans, see denseWorth): one int16 per slot from the list's first
//     slot (base) to its last, 0 where a slot lacks the index (a stored
//     value is never 0). No gaps to decode: a search adds the list into
//     its accumulator as a plain multiply-add loop, which costs a fraction
//     of decoding the gaps, and these lists hold most of the postings a
//     query touches (81% on SciFact, 92% on quarry bench's synthetic
//     corpus). Two bytes a slot is at most six a posting, less than the
//     gap-coded three from two thirds full on; over the whole store the
//     two forms take about what the gap-coded form alone did.
//
// Lists grow gap-coded; compaction and every snapshot put each list in
// the form its density asks for (reform), and an append that would
// leave a dense list below a quarter full turns it back into gaps first,
// so a growing store cannot fill with mostly empty dense lists.
//
// The quantisation error is at most scale / qmax per value (a relative
// 3e-5 of the largest value), far below the differences that rank
// anything.
const (
	blockLen = 128
	qmax     = 32767
)

// denseWorth reports whether a list of n postings spanning span slots
// (its last slot - its first + 1) is kept dense.
func denseWorth(n, span int) bool { return 3*n >= span }

// block describes one block of a gap-coded posting list.
type block struct {
	off  uint32 // byte offset of the block's first posting in data
	last uint32 // slot of the block's last posting
	max  uint16 // largest |q| in the block: its score bound
}

// posting is the list of one sparse index.
type posting struct {
	// data holds the postings: gap-coded, or with dense one int16 (LE) per
	// slot from base on.
	data   []byte
	blocks []block // gap-coded only
	dense  bool
	base   uint32  // dense only: the slot of data's first value
	n      int     // postings, tombstoned slots included
	scale  float32 // a power of two ≥ every |value|; 0 while empty
	maxQ   uint16  // largest |q| in the list
	neg    bool    // some value is negative
	// dead caches the number of tombstoned slots in the list as
	// epoch<<32 | count, valid while the store's epoch matches; searches
	// fill it in under the read lock, hence atomic.
	dead atomic.Uint64
}

// scaleFor returns the smallest power of two ≥ |v|.
func scaleFor(v float32) float32 {
	frac, exp := math.Frexp(math.Abs(float64(v)))
	if frac == 0.5 {
		exp-- // already a power of two
	}
	return float32(math.Ldexp(1, exp))
}

// quantise maps v to its stored int16 for scale; a nonzero value never
// becomes zero, so it still counts as present.
func quantise(v, scale float32) int16 {
	q := math.Round(float64(v) / float64(scale) * qmax)
	q = max(-qmax, min(qmax, q))
	if q == 0 {
		if v > 0 {
			q = 1
		} else {
			q = -1
		}
	}
	return int16(q)
}

// add appends a posting; slot must be above every slot in the list.
func (p *posting) add(slot uint32, v float32) {
	if a := float32(math.Abs(float64(v))); a > p.scale {
		p.rescale(scaleFor(a))
	}
	if v < 0 {
		p.neg = true
	}
	p.addQ(slot, quantise(v, p.scale))
}

// addQ appends a posting whose value is already quantised for p.scale.
func (p *posting) addQ(slot uint32, q int16) {
	if p.dense {
		end := p.base + uint32(len(p.data)/2) // the first slot past the data
		if 4*(p.n+1) >= int(slot-p.base)+1 {
			p.data = appendZeros(p.data, 2*int(slot-end))
			p.data = binary.LittleEndian.AppendUint16(p.data, uint16(q))
			p.maxQ = max(p.maxQ, absQ(q))
			p.n++
			return
		}
		p.toGaps() // it would fall below a quarter full
	}
	prev := uint32(0)
	if nb := len(p.blocks); nb > 0 {
		prev = p.blocks[nb-1].last
	}
	if p.n%blockLen == 0 {
		p.blocks = append(p.blocks, block{off: uint32(len(p.data))})
	}
	p.data = binary.AppendUvarint(p.data, uint64(slot-prev))
	p.data = binary.LittleEndian.AppendUint16(p.data, uint16(q))
	bl := &p.blocks[len(p.blocks)-1]
	bl.last = slot
	bl.max = max(bl.max, absQ(q))
	p.maxQ = max(p.maxQ, bl.max)
	p.n++
}

// appendZeros appends k zero bytes to b.
func appendZeros(b []byte, k int) []byte {
	b = slices.Grow(b, k)
	b = b[:len(b)+k]
	clear(b[len(b)-k:])
	return b
}

// span returns the number of slots from the list's first to its last.
func (p *posting) span() int {
	if p.dense {
		return len(p.data) / 2
	}
	if len(p.blocks) == 0 {
		return 0
	}
	first, k := binary.Uvarint(p.data)
	if k <= 0 || first > uint64(p.blocks[len(p.blocks)-1].last) {
		return 0
	}
	return int(p.blocks[len(p.blocks)-1].last-uint32(first)) + 1
}

// reform puts the list in the form its density asks for.
func (p *posting) reform() {
	if p.n == 0 {
		return
	}
	switch dense := denseWorth(p.n, p.span()); {
	case dense && !p.dense:
		p.toDense()
	case !dense && p.dense:
		p.toGaps()
	}
}

// toDense re-encodes a gap-coded list densely.
func (p *posting) toDense() {
	var slots []uint32
	var qs []int16
	p.forEach(math.MaxUint32, func(slot uint32, q int16) {
		slots = append(slots, slot)
		qs = append(qs, q)
	})
	if len(slots) == 0 {
		return
	}
	base := slots[0]
	data := make([]byte, 2*int(slots[len(slots)-1]-base+1))
	for i, slot := range slots {
		binary.LittleEndian.PutUint16(data[2*(slot-base):], uint16(qs[i]))
	}
	p.data, p.blocks, p.dense, p.base = data, nil, true, base
}

// toGaps re-encodes a dense list with gaps.
func (p *posting) toGaps() {
	np := &posting{scale: p.scale}
	p.forEach(math.MaxUint32, np.addQ)
	p.data, p.blocks, p.dense, p.base, p.n, p.maxQ = np.data, np.blocks, false, 0, np.n, np.maxQ
}

func absQ(q int16) uint16 {
	if q < 0 {
		return uint16(-int32(q))
	}
	return uint16(q)
}

// setMaxima recomputes the block and list maxima of a gap-coded list
// from the data, for snapshots written before blocks recorded them.
func (p *posting) setMaxima(limit uint32) {
	var buf blockBuf
	p.maxQ = 0
	for b := range p.blocks {
		m := uint16(0)
		for _, q := range buf.vals[:buf.decode(p, b, limit)] {
			m = max(m, absQ(q))
		}
		p.blocks[b].max = m
		p.maxQ = max(p.maxQ, m)
	}
}

// forEach calls fn for every posting below limit, in slot order.
// Malformed data (a damaged snapshot) ends the list early.
func (p *posting) forEach(limit uint32, fn func(slot uint32, q int16)) {
	if p.dense {
		for i := 0; i+1 < len(p.data); i += 2 {
			if q := int16(binary.LittleEndian.Uint16(p.data[i:])); q != 0 {
				slot := uint64(p.base) + uint64(i/2)
				if slot >= uint64(limit) {
					return
				}
				fn(uint32(slot), q)
			}
		}
		return
	}
	var buf blockBuf
	for b := range p.blocks {
		n := buf.decode(p, b, limit)
		for i, slot := range buf.slots[:n] {
			fn(slot, buf.vals[i])
		}
	}
}

// filter returns a new list of the postings whose slot renum maps to a
// slot other than gone, renumbered, with their quantised values as they
// are (so that compactions do not add rounding), in the form its density
// asks for, stored without spare capacity.
func (p *posting) filter(renum []uint32, gone uint32) *posting {
	np := &posting{scale: p.scale, neg: p.neg}
	p.forEach(uint32(len(renum)), func(slot uint32, q int16) {
		if r := renum[slot]; r != gone {
			np.addQ(r, q)
		}
	})
	np.reform()
	np.data, np.blocks = slices.Clip(slices.Clone(np.data)), slices.Clone(np.blocks)
	return np
}

// rescale re-encodes the list for a larger scale, in the same form.
// Scales are powers of two that at least double each time, so the
// rounding errors of all rescales together stay within one step of the
// final scale.
func (p *posting) rescale(scale float32) {
	if p.n == 0 {
		p.scale = scale
		return
	}
	dense := p.dense
	slots, vals := p.decodeAll(nil, nil)
	p.data, p.blocks, p.dense, p.base, p.n, p.scale, p.maxQ, p.neg = nil, nil, false, 0, 0, scale, 0, false
	for i, slot := range slots {
		p.add(slot, vals[i])
	}
	if dense {
		p.toDense()
	}
}

// decodeAll appends every posting's slot and value to slots and vals.
func (p *posting) decodeAll(slots []uint32, vals []float32) ([]uint32, []float32) {
	step := p.scale / qmax
	p.forEach(math.MaxUint32, func(slot uint32, q int16) {
		slots = append(slots, slot)
		vals = append(vals, float32(q)*step)
	})
	return slots, vals
}

// each calls fn for every slot of the list, in order.
func (p *posting) each(fn func(slot uint32)) {
	p.forEach(math.MaxUint32, func(slot uint32, _ int16) { fn(slot) })
}

// blockBuf holds one decoded block.
type blockBuf struct {
	slots [blockLen]uint32
	vals  [blockLen]int16
}

// decode decodes block b of the gap-coded list p into buf and returns the number of
// postings. Decoding stops early at malformed data or a slot ≥ limit
// (a damaged snapshot), so a bad list loses postings but never panics.
func (buf *blockBuf) decode(p *posting, b int, limit uint32) int {
	end := len(p.data)
	if b+1 < len(p.blocks) {
		end = int(p.blocks[b+1].off)
	}
	start := int(p.blocks[b].off)
	if start > end || end > len(p.data) {
		return 0
	}
	data := p.data[start:end]
	slot := uint32(0)
	if b > 0 {
		slot = p.blocks[b-1].last
	}
	n := 0
	for n < blockLen && len(data) >= 3 {
		// Most gaps take one byte: decode those without the loop of
		// binary.Uvarint.
		gap, k := uint64(data[0]), 1
		if gap >= 0x80 {
			gap, k = binary.Uvarint(data)
			if k <= 0 || len(data) < k+2 || gap > math.MaxUint32 {
				break
			}
		}
		next := slot + uint32(gap)
		if next >= limit || (n > 0 || b > 0) && next <= slot {
			break
		}
		slot = next
		buf.slots[n] = slot
		buf.vals[n] = int16(binary.LittleEndian.Uint16(data[k:]))
		data = data[k+2:]
		n++
	}
	return n
}
