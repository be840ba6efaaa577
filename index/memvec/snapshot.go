package memvec

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/internal/fsx"
)

// The snapshot format (QMVSNAP5) stores the store as it lives in memory,
// so that opening it is a few large reads instead of a rebuild of the
// inverted index point by point:
//
//	"QMVSNAP5", generation (u64 LE), space as JSON (uvarint length),
//	CRC-32C (u32 LE) of all that, then four sections, each its length
//	(u64 LE), the 64-bit xxHash of its body (u64 LE; an order of magnitude
//	faster than CRC-32C here, which took a third of the load time) and
//	its body:
//	  ids:      point count (uvarint), then each point's chunk ID,
//	            document ID and language (uvarint-length strings) and
//	            the length of its chunk in texts (uvarint), in slot order
//	  texts:    each point's chunk encoded as in a record (see
//	            encodeRecord), in slot order
//	  dense:    count × Dim float32 LE (empty for a sparse space)
//	  postings: list count (uvarint), then each list: its index, its
//	            posting count, its scale (float32 LE), a flags byte (1:
//	            negative values; 2: the list is dense), then for a
//	            gap-coded list its block count, each block's offset and
//	            last slot (u32 LE each) and largest |q| (u16 LE), its data
//	            length and data; for a dense list its base slot, its
//	            largest |q| (u16 LE), its data length and data (see
//	            postings.go); indices in increasing order
//
// A snapshot holds no tombstones: the store is compacted before it is
// written, so every point in it is live and its slot is its position.
//
// The texts and postings sections are used where they lie in the file,
// mapped into memory, and are read at load only to check their
// checksums (see sectionSum: their pages then leave the process's
// resident set until a search needs them): a store keeps in its heap
// only what the ids section holds (see point).
//
// Older formats still load, their lists put in the form their density
// asks for as they load (see reformed), and the next checkpoint or Close
// of a writable store rewrites them: QMVSNAP4 has, instead of the ids
// and texts sections, one chunks section (point count, then each point's
// encoded chunk), which is read whole into the heap; QMVSNAP3 is QMVSNAP4
// without dense lists (no flag 2); QMVSNAP2 that without the blocks' maxima (recomputed at load)
// and with CRC-32C section checksums (u32); QMVSNAP1 (persist.go) a
// list of records.
const snapMagicV2 = "QMVSNAP5"

// snapMagicV2Chunks is the format with one chunks section instead of
// the ids and texts sections.
const snapMagicV2Chunks = "QMVSNAP4"

// snapMagicV2NoDense is QMVSNAP4 without dense lists.
const snapMagicV2NoDense = "QMVSNAP3"

// snapMagicV2NoMax is the format without the blocks' maxima either (as
// written for an hour by commit 9811e3c).
const snapMagicV2NoMax = "QMVSNAP2"

// Versions of the snapshot formats that loadSnapshotV2 reads.
const (
	snapNoMax   = 2
	snapNoDense = 3
	snapChunks  = 4
	snapCurrent = 5
)

// sectionHeadLen is a section's length and checksum.
const sectionHeadLen = 16

// writeSnapshot writes the store's state as the snapshot of generation
// gen: to a temporary file, fsynced, then renamed over the old one. It
// compacts the store first.
func (d *disk) writeSnapshot(s *Store, gen uint64) (err error) {
	if len(s.pts) > s.live {
		s.compact() // which reforms the lists
	} else {
		for _, p := range s.post {
			p.reform()
		}
	}
	path := filepath.Join(d.dir, snapName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return ioErr("write snapshot", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	sw := &sectionWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	raw, err := json.Marshal(s.space)
	if err != nil {
		return quarry.Errorf(quarry.CodeInternal, "memvec: encode space: %w", err)
	}
	head := append([]byte(snapMagicV2), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(head[8:], gen)
	head = binary.AppendUvarint(head, uint64(len(raw)))
	head = append(head, raw...)
	head = binary.LittleEndian.AppendUint32(head, crc32.Checksum(head, castagnoli))
	sw.write(head)

	// IDs, then texts: each chunk is encoded twice (or found in the
	// texts it was loaded from), to learn its length first.
	sw.begin()
	var b, rec, buf []byte
	sw.write(binary.AppendUvarint(b, uint64(len(s.pts))))
	for i := range s.pts {
		p := &s.pts[i]
		if rec, err = s.record(i, &buf); err != nil {
			return quarry.Errorf(quarry.CodeInternal, "memvec: write snapshot: %w", err)
		}
		b = appendString(b[:0], s.field(p, fieldID))
		b = appendString(b, s.field(p, fieldDoc))
		b = appendString(b, s.field(p, fieldLang))
		b = binary.AppendUvarint(b, uint64(len(rec)))
		sw.write(b)
	}
	sw.end()
	sw.begin()
	for i := range s.pts {
		if rec, err = s.record(i, &buf); err != nil {
			return quarry.Errorf(quarry.CodeInternal, "memvec: write snapshot: %w", err)
		}
		sw.write(rec)
	}
	sw.end()

	// Dense vectors.
	sw.begin()
	for lo := 0; lo < len(s.slab); lo += 1 << 14 {
		b = b[:0]
		for _, x := range s.slab[lo:min(lo+1<<14, len(s.slab))] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		sw.write(b)
	}
	sw.end()

	// Postings, by index.
	sw.begin()
	ixs := make([]uint32, 0, len(s.post))
	for ix := range s.post {
		ixs = append(ixs, ix)
	}
	slices.Sort(ixs)
	sw.write(binary.AppendUvarint(b[:0], uint64(len(ixs))))
	for _, ix := range ixs {
		p := s.post[ix]
		b = binary.AppendUvarint(b[:0], uint64(ix))
		b = binary.AppendUvarint(b, uint64(p.n))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.scale))
		flags := byte(0)
		if p.neg {
			flags |= 1
		}
		if p.dense {
			flags |= 2
		}
		b = append(b, flags)
		if p.dense {
			b = binary.AppendUvarint(b, uint64(p.base))
			b = binary.LittleEndian.AppendUint16(b, p.maxQ)
		} else {
			b = binary.AppendUvarint(b, uint64(len(p.blocks)))
			for _, bl := range p.blocks {
				b = binary.LittleEndian.AppendUint32(b, bl.off)
				b = binary.LittleEndian.AppendUint32(b, bl.last)
				b = binary.LittleEndian.AppendUint16(b, bl.max)
			}
		}
		b = binary.AppendUvarint(b, uint64(len(p.data)))
		sw.write(b)
		sw.write(p.data)
	}
	sw.end()

	if sw.err != nil {
		return ioErr("write snapshot", sw.err)
	}
	if err := f.Sync(); err != nil {
		return ioErr("sync snapshot", err)
	}
	if err := f.Close(); err != nil {
		return ioErr("close snapshot", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return ioErr("install snapshot", err)
	}
	return syncDir(d.dir)
}

// sectionWriter writes a file of sections, filling in each section's
// length and checksum when it ends. It remembers the first error.
type sectionWriter struct {
	f     *os.File
	w     *bufio.Writer
	pos   int64 // bytes written so far
	start int64 // offset of the current section's header
	sum   *xxhash.Digest
	in    bool
	err   error
}

func (sw *sectionWriter) write(b []byte) {
	if sw.err != nil {
		return
	}
	if sw.in {
		sw.sum.Write(b)
	}
	n, err := sw.w.Write(b)
	sw.pos += int64(n)
	sw.err = err
}

func (sw *sectionWriter) begin() {
	sw.start = sw.pos
	sw.write(make([]byte, sectionHeadLen))
	sw.sum, sw.in = xxhash.New(), true
}

func (sw *sectionWriter) end() {
	sw.in = false
	if sw.err != nil {
		return
	}
	if sw.err = sw.w.Flush(); sw.err != nil {
		return
	}
	var head [sectionHeadLen]byte
	binary.LittleEndian.PutUint64(head[:], uint64(sw.pos-sw.start-sectionHeadLen))
	binary.LittleEndian.PutUint64(head[8:], sw.sum.Sum64())
	_, sw.err = sw.f.WriteAt(head[:], sw.start)
}

// loadSnapshot loads the snapshot of d.dir into the empty store s, in
// either format, and sets d.gen to its generation.
func (d *disk) loadSnapshot(s *Store) error {
	path := filepath.Join(d.dir, snapName)
	f, err := os.Open(path)
	if err != nil {
		return ioErr("open snapshot", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	info, err := f.Stat()
	if err != nil {
		return ioErr("stat snapshot", err)
	}
	corrupt := func(format string, args ...any) error {
		return quarry.Errorf(quarry.CodeInternal, "memvec: snapshot %s is corrupt (%s); restore the directory from a backup or rebuild the index", path, fmt.Sprintf(format, args...))
	}
	r := bufio.NewReaderSize(f, 1<<16)
	magic, err := r.Peek(8)
	if err != nil {
		return corrupt("short header: %v", err)
	}
	switch string(magic) {
	case snapMagic:
		d.upgrade = true // written again in this format at the next checkpoint
		return reformed(s, d.loadSnapshotV1(s, r, info.Size(), corrupt))
	case snapMagicV2, snapMagicV2Chunks, snapMagicV2NoDense:
		// The texts and posting lists are used where they lie in the
		// file, mapped into memory: no copy, and memory the kernel can
		// page.
		m, err := mapFile(f, info.Size())
		if err != nil {
			m = nil // read it instead
		}
		s.mapped = m
		switch string(magic) {
		case snapMagicV2:
			err := d.loadSnapshotV2(s, r, info.Size(), snapCurrent, corrupt)
			if err == nil && m != nil && len(s.texts) > 0 && len(s.texts) >= preadTexts {
				// The texts are a part of the mapping: keep the file
				// open to read them from (see Store.file).
				s.file, keep = f, true
				s.textsAt = int64(uintptr(unsafe.Pointer(unsafe.SliceData(s.texts))) - uintptr(unsafe.Pointer(unsafe.SliceData(m))))
			}
			return err
		case snapMagicV2Chunks:
			d.upgrade = true
			return d.loadSnapshotV2(s, r, info.Size(), snapChunks, corrupt)
		}
		d.upgrade = true
		return reformed(s, d.loadSnapshotV2(s, r, info.Size(), snapNoDense, corrupt))
	case snapMagicV2NoMax:
		d.upgrade = true
		return reformed(s, d.loadSnapshotV2(s, r, info.Size(), snapNoMax, corrupt))
	}
	return corrupt("not a memvec snapshot")
}

// reformed gives the lists of a store loaded from a snapshot of an older
// format (all gap-coded) the form their density asks for, unless the
// load failed: searches then run at full speed before the snapshot is
// rewritten (which a read-only store, such as quarry serve's, never
// does), for the heap the dense lists take (they are not mapped) and the
// time to decode them once.
func reformed(s *Store, err error) error {
	if err == nil {
		for _, p := range s.post {
			p.reform()
		}
	}
	return err
}

// crcByteReader reads single bytes, hashing them.
type crcByteReader struct {
	r   *bufio.Reader
	buf []byte
}

func (c *crcByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.buf = append(c.buf, b)
	}
	return b, err
}

// loadSnapshotV2 loads a snapshot of format QMVSNAP<version>, 2 to 5.
func (d *disk) loadSnapshotV2(s *Store, r *bufio.Reader, size int64, version int, corrupt func(string, ...any) error) error {
	hr := &crcByteReader{r: r}
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return corrupt("short header: %v", err)
	}
	hr.buf = append(hr.buf, head[:]...)
	gen := binary.LittleEndian.Uint64(head[8:])
	spaceLen, err := binary.ReadUvarint(hr)
	if err != nil || spaceLen > 1<<20 {
		return corrupt("bad space length")
	}
	raw := make([]byte, spaceLen)
	if _, err := io.ReadFull(r, raw); err != nil {
		return corrupt("short space: %v", err)
	}
	hr.buf = append(hr.buf, raw...)
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil || binary.LittleEndian.Uint32(sum[:]) != crc32.Checksum(hr.buf, castagnoli) {
		return corrupt("header checksum mismatch")
	}
	if err := d.checkSpace(raw, s.space, corrupt); err != nil {
		return err
	}
	// QMVSNAP2 sections carry a CRC-32C (u32) where QMVSNAP3 ones carry
	// an xxHash (u64).
	headLen := sectionHeadLen
	if version == snapNoMax {
		headLen = 12
	}
	pos := int64(len(hr.buf) + 4) // where the first section starts
	section := func(name string, mapped bool) ([]byte, error) {
		var h [sectionHeadLen]byte
		if _, err := io.ReadFull(r, h[:headLen]); err != nil {
			return nil, corrupt("no %s section: %v", name, err)
		}
		n := binary.LittleEndian.Uint64(h[:])
		pos += int64(headLen)
		if n > uint64(size-pos) {
			return nil, corrupt("bad length of the %s section", name)
		}
		var body []byte
		if mapped && s.mapped != nil {
			body = s.mapped[pos : pos+int64(n) : pos+int64(n)]
			if _, err := r.Discard(int(n)); err != nil {
				return nil, corrupt("short %s section: %v", name, err)
			}
		} else {
			body = make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return nil, corrupt("short %s section: %v", name, err)
			}
		}
		pos += int64(n)
		sum, want := sectionSum(body, version == snapNoMax, mapped && s.mapped != nil), binary.LittleEndian.Uint64(h[8:])
		if version == snapNoMax {
			want = uint64(binary.LittleEndian.Uint32(h[8:]))
		}
		ok := sum == want
		if !ok {
			return nil, corrupt("checksum mismatch in the %s section", name)
		}
		return body, nil
	}

	var count uint64
	if version >= snapCurrent {
		count, err = d.loadIDs(s, section, corrupt)
	} else {
		count, err = d.loadChunks(s, section, corrupt)
	}
	if err != nil {
		return err
	}

	body, err := section("dense", false)
	if err != nil {
		return err
	}
	switch {
	case s.space.Sparse && len(body) != 0:
		return corrupt("dense vectors in a sparse store")
	case !s.space.Sparse:
		if uint64(len(body)) != 4*count*uint64(s.space.Dim) {
			return corrupt("%d bytes of dense vectors for %d points", len(body), count)
		}
		s.slab = make([]float32, len(body)/4)
		for i := range s.slab {
			x := math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
			if !finite(x) {
				return corrupt("bad vector value")
			}
			s.slab[i] = x
		}
	}

	body, err = section("postings", true)
	if err != nil {
		return err
	}
	if err := s.loadPostings(body, version, corrupt); err != nil {
		return err
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return corrupt("data after the last section")
	}
	d.gen = gen
	return nil
}

// startPoints reads the point count that opens a section of points
// (ids, or the chunks of older formats) and sizes the store's points,
// their tables and chains for them (see loaded). The decoder it returns
// reads the rest of body; its strings share body's bytes, which are
// never written to after the read. ok is false when the count is bad.
func (s *Store) startPoints(body []byte) (dec *decoder, count uint64, ok bool) {
	dec = &decoder{b: body, arena: unsafe.String(unsafe.SliceData(body), len(body))}
	count = dec.uvarint()
	if dec.err != nil || count > uint64(len(body)) || count >= math.MaxUint32 {
		return nil, 0, false
	}
	s.pts = make([]point, count)
	s.alive = make([]bool, 0, count)
	s.docNext = make([]uint32, count)
	s.ids.reserve(int(count), s)
	s.docs.reserve(int(count), s)
	return dec, count, true
}

// sectionFunc reads the next section of a snapshot, named for errors:
// mapped, when it can be, or read into the heap.
type sectionFunc func(name string, mapped bool) ([]byte, error)

// loadIDs loads the ids and texts sections of a QMVSNAP5 snapshot: the
// ids into the heap, one string that the points' IDs slice, and the
// texts mapped.
func (d *disk) loadIDs(s *Store, section sectionFunc, corrupt func(string, ...any) error) (uint64, error) {
	body, err := section("ids", false)
	if err != nil {
		return 0, err
	}
	dec, count, ok := s.startPoints(body)
	if !ok {
		return 0, corrupt("bad point count")
	}
	var at uint64
	s.meta = body
	for i := range s.pts {
		meta := uint64(len(body) - len(dec.b))
		id, doc := dec.str(), dec.str()
		dec.str()
		n := dec.uvarint()
		if dec.err != nil {
			return 0, corrupt("point %d: %v", i, dec.err)
		}
		if n > math.MaxInt64-at {
			return 0, corrupt("point %d: bad length %d in texts", i, n)
		}
		if err := s.loaded(i, point{meta: meta, at: at}, id, doc, corrupt); err != nil {
			return 0, err
		}
		at += n
	}
	if len(dec.b) != 0 {
		return 0, corrupt("data after the last point")
	}
	if s.texts, err = section("texts", true); err != nil {
		return 0, err
	}
	if uint64(len(s.texts)) != at {
		return 0, corrupt("the texts section holds %d bytes, the ids section %d", len(s.texts), at)
	}
	if s.mapped != nil && len(s.texts) >= preadTexts {
		return count, nil
	}
	// Small texts (or texts not mapped) are decoded now, in the heap, as
	// older formats were: a search then returns its chunks for nothing,
	// where decoding them costs a few cache misses each (SciFact's vector
	// search: a fifth more CPU).
	if s.mapped != nil {
		m := s.texts
		s.texts = slices.Clone(m)
		fsx.DropPages(m)
	}
	arena := unsafe.String(unsafe.SliceData(s.texts), len(s.texts))
	chunks := make([]quarry.Chunk, count)
	for i := range s.pts {
		p := &s.pts[i]
		d := &decoder{b: s.texts[p.at:], arena: arena[p.at:]}
		c := &chunks[i]
		d.chunk(c)
		if d.err != nil || c.ID != s.field(p, fieldID) || c.DocID != s.field(p, fieldDoc) || c.Lang != s.field(p, fieldLang) {
			return 0, corrupt("point %d does not decode from the texts section (%v)", i, d.err)
		}
		p.c = c
	}
	s.texts = nil
	return count, nil
}

// loadChunks loads the chunks section of a snapshot of an older format
// into the heap, each point's chunk decoded.
func (d *disk) loadChunks(s *Store, section sectionFunc, corrupt func(string, ...any) error) (uint64, error) {
	body, err := section("chunks", false)
	if err != nil {
		return 0, err
	}
	dec, count, ok := s.startPoints(body)
	if !ok {
		return 0, corrupt("bad point count")
	}
	// One string holds every chunk's text and metadata; the chunks'
	// fields are slices of it, which costs one allocation, not seven a
	// point.
	chunks := make([]quarry.Chunk, count)
	for i := range s.pts {
		c := &chunks[i]
		dec.chunk(c)
		if dec.err != nil {
			return 0, corrupt("point %d: %v", i, dec.err)
		}
		if err := s.loaded(i, point{c: c}, c.ID, c.DocID, corrupt); err != nil {
			return 0, err
		}
	}
	if len(dec.b) != 0 {
		return 0, corrupt("data after the last point")
	}
	return count, nil
}

// loaded installs point i of a snapshot, whose ID and document ID are
// id and doc.
func (s *Store) loaded(i int, p point, id, doc string, corrupt func(string, ...any) error) error {
	if id == "" || doc == "" {
		return corrupt("point %d has no ID or document ID", i)
	}
	s.pts[i] = p
	if !s.index(uint32(i), id, doc) {
		return corrupt("chunk %q appears twice", id)
	}
	s.alive = append(s.alive, true)
	s.live++
	return nil
}

// sectionSum returns the checksum of a section's body: xxHash, or with
// crc the CRC-32C of QMVSNAP2. A mapped body is hashed a window at a
// time, each window's pages then dropped from the resident set: hashing
// reads the whole section, but searching reads only the lists queries
// ask for, and at 1M chunks the posting lists are about 2 GB that would
// otherwise all count as the process's memory from the moment it opens.
func sectionSum(body []byte, crc, mapped bool) uint64 {
	if !mapped {
		if crc {
			return uint64(crc32.Checksum(body, castagnoli))
		}
		return xxhash.Sum64(body)
	}
	const window = 32 << 20
	var c uint32
	x := xxhash.New()
	for off := 0; off < len(body); off += window {
		w := body[off:min(off+window, len(body))]
		if crc {
			c = crc32.Update(c, castagnoli, w)
		} else {
			x.Write(w)
		}
		fsx.DropPages(w)
	}
	if crc {
		return uint64(c)
	}
	return x.Sum64()
}

// checkSpace compares the space a snapshot records with the one the
// store is opened for.
func (d *disk) checkSpace(raw []byte, want index.Space, corrupt func(string, ...any) error) error {
	var stored index.Space
	if err := json.Unmarshal(raw, &stored); err != nil {
		return corrupt("bad space: %v", err)
	}
	if !stored.Equal(want) {
		return quarry.Errorf(quarry.CodeConflict,
			"memvec: %s holds vectors of %s, not %s: an index refuses to mix embedders; open it with its own embedder or rebuild it in a new directory",
			d.dir, describe(stored), describe(want))
	}
	return nil
}

// loadPostings installs the posting lists of a snapshot section of
// format version. The lists' data stay slices of body (with no spare
// capacity, so that an append copies instead of writing into a
// neighbour); their structure is checked here, and decoding bounds every
// slot by the point count.
func (s *Store) loadPostings(body []byte, version int, corrupt func(string, ...any) error) error {
	dec := &decoder{b: body}
	lists := dec.uvarint()
	if dec.err != nil || lists > uint64(len(body)) {
		return corrupt("bad posting list count")
	}
	if !s.space.Sparse {
		if lists != 0 {
			return corrupt("posting lists in a dense store")
		}
		return nil
	}
	slots := uint64(len(s.pts))
	s.post = make(map[uint32]*posting, lists)
	prevIx := int64(-1)
	maxFlags := uint64(1)
	if version >= snapChunks {
		maxFlags = 3
	}
	blockSize := uint64(8)
	if version >= snapNoDense {
		blockSize = 10
	}
	for l := range lists {
		ix := dec.uvarint()
		n := dec.uvarint()
		scale := math.Float32frombits(uint32(dec.fixed(4)))
		flags := dec.fixed(1)
		if dec.err != nil {
			return corrupt("posting list %d: %v", l, dec.err)
		}
		switch {
		case int64(ix) <= prevIx || ix >= uint64(s.space.Dim):
			return corrupt("posting list %d has index %d", l, ix)
		case n == 0 || n > slots:
			return corrupt("posting list of index %d: %d postings", ix, n)
		case !finite(scale) || scale <= 0 || scaleFor(scale) != scale || flags > maxFlags:
			return corrupt("posting list of index %d: bad scale or flags", ix)
		}
		prevIx = int64(ix)
		p := &posting{n: int(n), scale: scale, neg: flags&1 != 0, dense: flags&2 != 0}
		if p.dense {
			base := dec.uvarint()
			p.maxQ = uint16(dec.fixed(2))
			size := dec.uvarint()
			if dec.err != nil || size > uint64(len(dec.b)) {
				return corrupt("posting list of index %d: short data", ix)
			}
			if size%2 != 0 || size/2 < n || base > slots || size/2 > slots-base {
				return corrupt("posting list of index %d: %d bytes of dense values from slot %d", ix, size, base)
			}
			p.base = uint32(base)
			p.data = dec.bytes(size)
			p.data = p.data[:len(p.data):len(p.data)]
			s.post[uint32(ix)] = p
			continue
		}
		nb := dec.uvarint()
		switch {
		case dec.err != nil:
			return corrupt("posting list %d: %v", l, dec.err)
		case nb != (n+blockLen-1)/blockLen:
			return corrupt("posting list of index %d: %d postings in %d blocks", ix, n, nb)
		case nb*blockSize > uint64(len(dec.b)):
			return corrupt("posting list of index %d: short block table", ix)
		}
		p.blocks = make([]block, nb)
		for b := range p.blocks {
			bl := &p.blocks[b]
			bl.off, bl.last = uint32(dec.fixed(4)), uint32(dec.fixed(4))
			if version >= snapNoDense {
				bl.max = uint16(dec.fixed(2))
				p.maxQ = max(p.maxQ, bl.max)
			}
		}
		size := dec.uvarint()
		if dec.err != nil || size > uint64(len(dec.b)) {
			return corrupt("posting list of index %d: short data", ix)
		}
		p.data = dec.bytes(size)
		p.data = p.data[:len(p.data):len(p.data)]
		for b, bl := range p.blocks {
			if uint64(bl.off) > size || uint64(bl.last) >= slots || b > 0 && (bl.off <= p.blocks[b-1].off || bl.last <= p.blocks[b-1].last) {
				return corrupt("posting list of index %d: bad block %d", ix, b)
			}
		}
		if version < snapNoDense {
			p.setMaxima(uint32(slots))
		}
		s.post[uint32(ix)] = p
	}
	if len(dec.b) != 0 {
		return corrupt("data after the last posting list")
	}
	return nil
}

// fixed reads an n-byte little-endian unsigned integer (n ≤ 8).
func (d *decoder) fixed(n int) uint64 {
	raw := d.bytes(uint64(n))
	var x uint64
	for i := len(raw) - 1; i >= 0; i-- {
		x = x<<8 | uint64(raw[i])
	}
	return x
}
