package memvec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Files of a store directory.
//
//	snapshot: the whole store at one generation; see snapshot.go
//	          (QMVSNAP5; snapshots of the older formats still load).
//	wal:      "QMVWAL01", generation (u64 LE), CRC-32C of those 16 bytes,
//	          then frames: payload length (u32 LE), CRC-32C of the payload
//	          (u32 LE), payload (an op byte and its data).
//	LOCK:     held with an advisory lock while the store is open.
//
// A log belongs to the snapshot of the same generation. A checkpoint
// writes the snapshot of the next generation, then a fresh log: a crash
// between the two leaves an older log, which Open ignores because the
// snapshot already holds its changes.
const (
	snapName     = "snapshot"
	logName      = "wal"
	lockName     = "LOCK"
	snapMagic    = "QMVSNAP1"
	logMagic     = "QMVWAL01"
	logHeaderLen = 20
	frameHeadLen = 8
)

// Log operations.
const (
	opUpsert  byte = 1
	opDelete  byte = 2
	opReplace byte = 3 // a delete of documents and an upsert, applied together
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// disk is the persistent side of a store. Its methods are called with
// the store's write lock held (or before the store is shared).
type disk struct {
	dir     string
	lock    *os.File
	log     *os.File // nil after a failed log rotation: recreated on the next write
	logSize int64
	gen     uint64
	dropped int64
	sync    bool
	buf     []byte
	upgrade bool // the snapshot is of an older format: rewrite it at Close
}

func ioErr(op string, err error) error {
	return quarry.Errorf(quarry.CodeUnavailable, "memvec: %s: %w", op, err)
}

func openDisk(dir string, s *Store) (_ *disk, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioErr("create store directory", err)
	}
	d := &disk{dir: dir, sync: s.cfg.SyncWrites}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, ioErr("open lock file", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, quarry.Errorf(quarry.CodeUnavailable, "memvec: %s is in use by another store or process: %w", dir, err)
	}
	d.lock = lock
	defer func() {
		if err != nil {
			if d.log != nil {
				d.log.Close()
			}
			unlockFile(lock)
			lock.Close()
		}
	}()
	_, err = os.Stat(filepath.Join(dir, snapName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.gen = 1
		if err := d.writeSnapshot(s, d.gen); err != nil {
			return nil, err
		}
		if err := d.newLog(); err != nil {
			return nil, err
		}
		return d, nil
	case err != nil:
		return nil, ioErr("stat snapshot", err)
	}
	if err := d.loadSnapshot(s); err != nil {
		return nil, err
	}
	if err := d.replayLog(s); err != nil {
		return nil, err
	}
	return d, nil
}

// loadReadOnly loads the store in dir into s without locking or writing
// anything: the snapshot, then the complete frames of its log.
func loadReadOnly(dir string, fresh func() *Store) (*Store, error) {
	for range 3 {
		s := fresh()
		d := &disk{dir: dir}
		if _, err := os.Stat(filepath.Join(dir, snapName)); errors.Is(err, fs.ErrNotExist) {
			return nil, quarry.Errorf(quarry.CodeNotFound, "memvec: %s holds no store", dir)
		}
		if err := d.loadSnapshot(s); err != nil {
			s.release()
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(dir, logName))
		if errors.Is(err, fs.ErrNotExist) {
			return s, nil
		}
		if err != nil {
			s.release()
			return nil, ioErr("read log", err)
		}
		gen, ok := parseLogHeader(data)
		if !ok || gen < d.gen {
			return s, nil // damaged, or from before the snapshot: nothing to add
		}
		if gen == d.gen {
			replayFrames(data, func(op logOp) { op.apply(s) }, s.space)
			return s, nil
		}
		// The writer checkpointed between our reads of the snapshot and
		// the log: start again from the new snapshot.
		s.release()
	}
	return nil, quarry.Errorf(quarry.CodeUnavailable, "memvec: %s keeps changing while it is read; try again", dir)
}

// crcReader hashes what it reads.
type crcReader struct {
	r *bufio.Reader
	h hash.Hash32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.h.Write([]byte{b})
	}
	return b, err
}

// maxSnapRecord bounds one record in a snapshot, so that a corrupt length
// cannot ask for an absurd allocation.
const maxSnapRecord = 1 << 30

// loadSnapshotV1 loads a snapshot of the first format, which holds each
// point as a record (as the log does), after the same header:
//
//	"QMVSNAP1", generation (u64 LE), space as JSON (uvarint length),
//	point count (uvarint), each point as a uvarint length and an encoded
//	record, then the CRC-32C (u32 LE) of everything before it.
//
// The inverted index is rebuilt point by point.
func (d *disk) loadSnapshotV1(s *Store, br *bufio.Reader, size int64, corrupt func(string, ...any) error) error {
	r := &crcReader{r: br, h: crc32.New(castagnoli)}
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return corrupt("short header: %v", err)
	}
	gen := binary.LittleEndian.Uint64(head[8:])
	spaceLen, err := binary.ReadUvarint(r)
	if err != nil || spaceLen > 1<<20 {
		return corrupt("bad space length")
	}
	raw := make([]byte, spaceLen)
	if _, err := io.ReadFull(r, raw); err != nil {
		return corrupt("short space: %v", err)
	}
	if err := d.checkSpace(raw, s.space, corrupt); err != nil {
		return err
	}
	count, err := binary.ReadUvarint(r)
	if err != nil {
		return corrupt("bad point count")
	}
	var buf []byte
	for i := uint64(0); i < count; i++ {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > maxSnapRecord || int64(n) > size {
			return corrupt("bad length of point %d", i)
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return corrupt("short point %d: %v", i, err)
		}
		p, err := decodeRecord(buf, s.space)
		if err != nil {
			return corrupt("point %d: %v", i, err)
		}
		s.insert(&p)
	}
	sum := r.h.Sum32()
	var trailer [4]byte
	if _, err := io.ReadFull(r.r, trailer[:]); err != nil {
		return corrupt("no checksum: %v", err)
	}
	if binary.LittleEndian.Uint32(trailer[:]) != sum {
		return corrupt("checksum mismatch")
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return corrupt("data after the checksum")
	}
	d.gen = gen
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return ioErr("sync directory", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return ioErr("sync directory", err)
	}
	return nil
}

// newLog installs an empty log for the current generation.
func (d *disk) newLog() error {
	if d.log != nil {
		d.log.Close()
		d.log = nil
	}
	path := filepath.Join(d.dir, logName)
	tmp := path + ".tmp"
	head := append([]byte(logMagic), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(head[8:], d.gen)
	head = binary.LittleEndian.AppendUint32(head, crc32.Checksum(head, castagnoli))
	if err := writeFileSync(tmp, head); err != nil {
		return ioErr("create log", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return ioErr("install log", err)
	}
	if err := syncDir(d.dir); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return ioErr("open log", err)
	}
	d.log, d.logSize = f, logHeaderLen
	return nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replayLog applies the log's complete frames and cuts off a torn or
// corrupt tail.
func (d *disk) replayLog(s *Store) error {
	path := filepath.Join(d.dir, logName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return d.newLog()
	}
	if err != nil {
		return ioErr("read log", err)
	}
	gen, ok := parseLogHeader(data)
	switch {
	case !ok:
		// Logs are installed whole by rename, so a bad header is damage:
		// nothing in it can be trusted.
		d.dropped = int64(len(data))
		return d.newLog()
	case gen < d.gen:
		return d.newLog() // left over from before the last checkpoint
	case gen > d.gen:
		return quarry.Errorf(quarry.CodeInternal, "memvec: log %s (generation %d) is newer than the snapshot (generation %d): was the snapshot replaced?", path, gen, d.gen)
	}
	good := replayFrames(data, func(op logOp) { op.apply(s) }, s.space)
	if good < int64(len(data)) {
		d.dropped = int64(len(data)) - good
		if err := os.Truncate(path, good); err != nil {
			return ioErr("cut torn log tail", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return ioErr("open log", err)
	}
	d.log, d.logSize = f, good
	return nil
}

func parseLogHeader(data []byte) (gen uint64, ok bool) {
	if len(data) < logHeaderLen || string(data[:8]) != logMagic {
		return 0, false
	}
	if crc32.Checksum(data[:16], castagnoli) != binary.LittleEndian.Uint32(data[16:20]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(data[8:16]), true
}

// logOp is one decoded log frame.
type logOp struct {
	upserts []prepared
	deletes []string
}

// apply applies a frame: its deletes, then its upserts (a frame of
// opUpsert or opDelete has only one of the two).
func (op logOp) apply(s *Store) {
	s.deleteDocs(op.deletes)
	for i := range op.upserts {
		s.insert(&op.upserts[i])
	}
	s.afterWrite()
}

// replayFrames decodes the frames after the log header, calling apply for
// each complete one, and returns the length of the valid prefix of data.
// Decoding stops at the first short, corrupt or undecodable frame.
func replayFrames(data []byte, apply func(logOp), sp index.Space) int64 {
	off := logHeaderLen
	for len(data)-off >= frameHeadLen {
		n := binary.LittleEndian.Uint32(data[off:])
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if uint64(n) > uint64(len(data)-off-frameHeadLen) {
			break
		}
		payload := data[off+frameHeadLen : off+frameHeadLen+int(n)]
		if crc32.Checksum(payload, castagnoli) != sum {
			break
		}
		op, err := decodeOp(payload, sp)
		if err != nil {
			break
		}
		apply(op)
		off += frameHeadLen + int(n)
	}
	return int64(min(off, len(data)))
}

func (d *disk) logUpsert(s *Store, recs []prepared) error {
	return d.appendFrame(appendRecords(d.frameStart(opUpsert), recs, s.space.Sparse))
}

func (d *disk) logDelete(_ *Store, docIDs []string) error {
	return d.appendFrame(appendDocIDs(d.frameStart(opDelete), docIDs))
}

// logReplace logs a delete and an upsert as one frame, so that a crash
// keeps both or neither.
func (d *disk) logReplace(s *Store, docIDs []string, recs []prepared) error {
	b := appendDocIDs(d.frameStart(opReplace), docIDs)
	return d.appendFrame(appendRecords(b, recs, s.space.Sparse))
}

func appendRecords(b []byte, recs []prepared, sparse bool) []byte {
	b = binary.AppendUvarint(b, uint64(len(recs)))
	var rec []byte
	for i := range recs {
		rec = encodeRecord(rec[:0], &recs[i], sparse)
		b = binary.AppendUvarint(b, uint64(len(rec)))
		b = append(b, rec...)
	}
	return b
}

func appendDocIDs(b []byte, docIDs []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(docIDs)))
	for _, id := range docIDs {
		b = appendString(b, id)
	}
	return b
}

func (d *disk) frameStart(op byte) []byte {
	return append(d.buf[:0], 0, 0, 0, 0, 0, 0, 0, 0, op)
}

// appendFrame fills in the frame header of b and appends it to the log.
// A failed write is cut off again so that later frames stay readable.
func (d *disk) appendFrame(b []byte) error {
	defer func() {
		if cap(b) <= 1<<20 {
			d.buf = b[:0]
		}
	}()
	payload := b[frameHeadLen:]
	if uint64(len(payload)) > math.MaxUint32 {
		return quarry.Errorf(quarry.CodeTooLarge, "memvec: a batch of %d bytes is too large for one write; split it", len(payload))
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(payload, castagnoli))
	if d.log == nil {
		if err := d.newLog(); err != nil {
			return err
		}
	}
	if _, err := d.log.WriteAt(b, d.logSize); err != nil {
		d.log.Truncate(d.logSize)
		return ioErr("write log", err)
	}
	if d.sync {
		if err := d.log.Sync(); err != nil {
			d.log.Truncate(d.logSize)
			return ioErr("sync log", err)
		}
	}
	d.logSize += int64(len(b))
	return nil
}

// checkpoint writes the snapshot of the next generation and starts a new
// log.
func (d *disk) checkpoint(s *Store) error {
	gen := d.gen + 1
	if err := d.writeSnapshot(s, gen); err != nil {
		return err
	}
	// The new snapshot holds everything: from here on the old log is
	// stale, so a failure below leaves d.log nil to be recreated.
	d.gen, d.upgrade = gen, false
	return d.newLog()
}

func (d *disk) close(s *Store) error {
	var err error
	if d.log == nil || d.logSize > logHeaderLen || d.upgrade {
		err = d.checkpoint(s)
	}
	if d.log != nil {
		if cerr := d.log.Close(); err == nil && cerr != nil {
			err = ioErr("close log", cerr)
		}
		d.log = nil
	}
	unlockFile(d.lock)
	d.lock.Close()
	return err
}

// Record encoding, shared by the snapshot and the log:
//
//	chunk: ID, DocID, Path, Title, Heading, Text, Lang as uvarint-length
//	       strings; Page, Ordinal, Tokens as varints
//	dense: uvarint count, then float32 LE each
//	sparse: uvarint count, indices as uvarint deltas, values as float32 LE
func encodeRecord(b []byte, p *prepared, sparse bool) []byte {
	b = appendChunk(b, &p.chunk)
	if !sparse {
		b = binary.AppendUvarint(b, uint64(len(p.dense)))
		for _, x := range p.dense {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(p.idx)))
	prev := uint32(0)
	for _, ix := range p.idx {
		b = binary.AppendUvarint(b, uint64(ix-prev))
		prev = ix
	}
	for _, x := range p.vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// appendChunk encodes a chunk, the first part of a record.
func appendChunk(b []byte, c *quarry.Chunk) []byte {
	for _, s := range []string{c.ID, c.DocID, c.Path, c.Title, c.Heading, c.Text, c.Lang} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, int64(c.Page))
	b = binary.AppendVarint(b, int64(c.Ordinal))
	return binary.AppendVarint(b, int64(c.Tokens))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errShort = errors.New("record ends early")

// decoder reads an encoded record, remembering the first error. With
// an arena (a string of the bytes being decoded), strings are slices of
// it instead of copies.
type decoder struct {
	b     []byte
	err   error
	arena string
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) int() int {
	x, n := binary.Varint(d.b)
	if n <= 0 || x < math.MinInt32 || x > math.MaxInt32 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return int(x)
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.arena == "" {
		return string(d.bytes(n))
	}
	off := len(d.arena) - len(d.b)
	if d.bytes(n); d.err != nil {
		return ""
	}
	return d.arena[off : off+int(n)]
}

// chunk decodes a chunk encoded by appendChunk.
func (d *decoder) chunk(c *quarry.Chunk) {
	for _, f := range []*string{&c.ID, &c.DocID, &c.Path, &c.Title, &c.Heading, &c.Text, &c.Lang} {
		*f = d.str()
	}
	c.Page, c.Ordinal, c.Tokens = d.int(), d.int(), d.int()
}

// recordLen returns the length of the chunk encoded at the start of b,
// without decoding its strings.
func recordLen(b []byte) (int, error) {
	d := &decoder{b: b}
	for range 7 {
		d.bytes(d.uvarint())
	}
	d.int()
	d.int()
	d.int()
	if d.err != nil {
		return 0, d.err
	}
	return len(b) - len(d.b), nil
}

func (d *decoder) f32s(n uint64) []float32 {
	raw := d.bytes(4 * n)
	if raw == nil {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// decodeRecord decodes a record and checks that it is one the store
// could have written for space sp.
func decodeRecord(b []byte, sp index.Space) (prepared, error) {
	d := &decoder{b: b}
	var p prepared
	c := &p.chunk
	d.chunk(c)
	n := d.uvarint()
	if d.err != nil {
		return p, d.err
	}
	if c.ID == "" || c.DocID == "" {
		return p, errors.New("chunk without ID or document ID")
	}
	if !sp.Sparse {
		if n != uint64(sp.Dim) {
			return p, fmt.Errorf("dense vector of %d dimensions in a store of %d", n, sp.Dim)
		}
		p.dense = d.f32s(n)
	} else {
		if n > uint64(len(d.b)) { // every index takes at least one byte
			return p, errShort
		}
		p.idx = make([]uint32, n)
		next := uint64(0)
		for i := range p.idx {
			delta := d.uvarint()
			if i > 0 && delta == 0 {
				return p, errors.New("sparse indices not increasing")
			}
			next += delta
			if next >= uint64(sp.Dim) {
				return p, fmt.Errorf("sparse index %d out of range", next)
			}
			p.idx[i] = uint32(next)
		}
		p.vals = d.f32s(n)
	}
	if d.err != nil {
		return p, d.err
	}
	if len(d.b) != 0 {
		return p, errors.New("trailing bytes after record")
	}
	for _, x := range p.dense {
		if !finite(x) {
			return p, errors.New("bad vector value")
		}
	}
	for _, x := range p.vals {
		if !finite(x) || x == 0 {
			return p, errors.New("bad vector value")
		}
	}
	return p, nil
}

func decodeOp(payload []byte, sp index.Space) (logOp, error) {
	if len(payload) == 0 {
		return logOp{}, errShort
	}
	d := &decoder{b: payload[1:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return logOp{}, errShort
	}
	var op logOp
	records := func(n uint64) error {
		op.upserts = make([]prepared, 0, n)
		for range n {
			raw := d.bytes(d.uvarint())
			if d.err != nil {
				return d.err
			}
			p, err := decodeRecord(raw, sp)
			if err != nil {
				return err
			}
			op.upserts = append(op.upserts, p)
		}
		return nil
	}
	switch payload[0] {
	case opUpsert:
		if err := records(n); err != nil {
			return logOp{}, err
		}
	case opDelete:
		for range n {
			op.deletes = append(op.deletes, d.str())
		}
	case opReplace:
		for range n {
			op.deletes = append(op.deletes, d.str())
		}
		m := d.uvarint()
		if m > uint64(len(d.b)) {
			return logOp{}, errShort
		}
		if err := records(m); err != nil {
			return logOp{}, err
		}
	default:
		return logOp{}, fmt.Errorf("unknown log op %d", payload[0])
	}
	if d.err != nil {
		return logOp{}, d.err
	}
	if len(d.b) != 0 {
		return logOp{}, errors.New("trailing bytes after log op")
	}
	return op, nil
}
