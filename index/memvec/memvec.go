// Package memvec is Quarry's embedded vector store: pure Go, no cgo, all
// vectors in memory, persisted to a directory. It implements
// index.VectorStore and passes the conformance suite in index/vectortest.
//
// Dense vectors live in one contiguous float32 slab (pre-normalised for
// cosine) and are searched by brute force with a bounded heap, split over
// a few goroutines for large stores: fine up to about 100k chunks. Sparse
// vectors live only in an inverted index (index → postings of point and
// 16-bit value, about 3 bytes a nonzero: gap-coded for the rarer
// indices, one value a point for the common ones; see postings.go); a
// search walks the query's indices only, term at a time, and with
// Space.IDF weights each index by Qdrant's inverse document frequency,
// kept current under upserts and deletes.
// Deleted points are tombstoned and compacted away once they make up a
// quarter of the slots, and before every snapshot.
//
// # Durability
//
// A store in a directory keeps a snapshot of its whole state and an
// append-only log of the upserts and deletes made since that snapshot.
//   - When Upsert or DeleteDocs returns, its change has been written to the
//     log: it survives a crash of the process. With Config.SyncWrites the
//     log is also fsynced first, so the change survives power loss.
//   - Checkpoint and Close write a new snapshot (fsync, then an atomic
//     rename) and start an empty log: everything before them is durable.
//     A checkpoint also happens when the log outgrows Config.MaxLogBytes.
//   - Open loads the snapshot and replays the log. The snapshot holds the
//     posting lists as they are kept in memory, so loading it is a few
//     large reads, not a rebuild; snapshots of the first format
//     (QMVSNAP1) still load, and the next checkpoint rewrites them. A torn or corrupt log
//     tail (a crash in the middle of a write) is dropped, with every
//     complete record before it kept; Stats reports the bytes dropped. A
//     corrupt snapshot is an error (quarry.ErrInternal).
//
// The directory records the store's index.Space; opening it for another
// space is quarry.ErrConflict, because mixing embedders ruins retrieval.
// One process at a time may open a directory (an advisory file lock on
// Unix-like systems).
package memvec

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Config tunes a store. The zero value means the defaults.
type Config struct {
	// SyncWrites fsyncs the log before Upsert and DeleteDocs return, so a
	// returned call survives power loss, not only a crash of the process.
	SyncWrites bool
	// MaxLogBytes is the log size past which a write triggers a
	// checkpoint. 0 means 64 MiB; a negative value means only Checkpoint
	// and Close write snapshots.
	MaxLogBytes int64
	// Workers bounds the goroutines one dense search uses. 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// ReadOnly loads the store as it is on disk without locking it or
	// writing to it, so that readers (quarry ask, search) can open it
	// while a server holds it; writes fail with quarry.ErrUnavailable.
	// The store must exist.
	ReadOnly bool
}

const defaultMaxLogBytes = 64 << 20

// Stats describes a store's contents.
type Stats struct {
	Points        int   // chunks stored
	Slots         int   // points plus tombstones awaiting compaction
	Postings      int   // sparse (point, value) entries, tombstones included
	LogBytes      int64 // size of the log since the last checkpoint
	DroppedAtOpen int64 // bytes of torn or corrupt log tail dropped by Open
}

// Store is an embedded vector store. It is safe for concurrent use.
type Store struct {
	space  index.Space
	cosine bool
	cfg    Config
	dir    string // "" for a store that lives in memory only

	mu     sync.RWMutex
	closed bool

	// Points are numbered by slot. A deleted point keeps its slot, marked
	// dead, until the next compaction renumbers the live ones.
	pts   []point
	alive []bool
	live  int
	ids   slotTable // live slots by chunk ID
	// docs finds a live slot of each document, the first of a chain
	// through docNext (slot+1 of the document's next live slot, 0 at its
	// end).
	docs    slotTable
	docNext []uint32
	// meta holds the IDs, document IDs and languages of the points
	// loaded from the snapshot, each point's as three uvarint-length
	// strings (see field).
	meta []byte
	// texts holds the encoded chunks (see appendChunk) of the points
	// loaded from the snapshot when its texts section is large: mapped,
	// and read with pread (see file). A point's chunk is decoded from it
	// only when a search returns the point. Smaller texts are decoded
	// whole as they load, into points' c.
	texts []byte
	// file is the snapshot, open when texts is a part of its mapping,
	// which lies at offset textsAt of it: a search reads the chunks it
	// returns with pread rather than through the mapping. Each page of
	// the mapping would fault in as a search first reads it (several
	// microseconds apiece, as long as a pread) and then stay resident,
	// so that the resident set would grow toward the whole section.
	file    *os.File
	textsAt int64

	slab []float32           // dense: Dim floats per slot
	post map[uint32]*posting // sparse: inverted index
	// epoch changes whenever a slot is tombstoned, so that the dead
	// counts cached in the posting lists go stale (see liveIn).
	epoch uint32

	disk *disk // nil for a memory-only store
	// mapped is the snapshot file mapped into memory, which posting
	// lists loaded from it point into until they change (appends copy,
	// compaction rebuilds): unmapped only by Close, after which nothing
	// reads the lists.
	mapped []byte
}

// point is what the store keeps in memory of a chunk: where to find
// what a search needs of every point (its ID, which breaks ties, and its
// document and language, which filters match: see field), and where the
// whole chunk is. A chunk written since the store was opened is held
// whole in c; one loaded from the snapshot has its ID, document and
// language in Store.meta at offset meta and is encoded in Store.texts at
// offset at. At a million chunks the texts are most of a store's size,
// and a search reads a few of them; 24 bytes a point stay in the heap,
// with about 40 of meta.
type point struct {
	c        *quarry.Chunk
	meta, at uint64
}

// Fields of a point (see Store.field).
const (
	fieldID = iota
	fieldDoc
	fieldLang
)

// field returns the ID, the document ID or the language of a live
// point (f is fieldID, fieldDoc or fieldLang). A string of meta is a
// slice of it, which is never written to.
func (s *Store) field(p *point, f int) string {
	if p.c != nil {
		switch f {
		case fieldID:
			return p.c.ID
		case fieldDoc:
			return p.c.DocID
		}
		return p.c.Lang
	}
	b := s.meta[min(p.meta, uint64(len(s.meta))):]
	for {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "" // not reached: meta was checked as it loaded
		}
		if f == 0 {
			return unsafe.String(unsafe.SliceData(b[k:]), int(n))
		}
		b = b[k+int(n):]
		f--
	}
}

// chunk returns the chunk of slot, decoded from texts if it is not held.
// Its strings are in the heap: texts are there unless they are read from
// the file (see Store.file), so they outlive the mapping of the
// snapshot.
func (s *Store) chunk(slot uint32) (quarry.Chunk, error) {
	p := &s.pts[slot]
	if p.c != nil {
		return *p.c, nil
	}
	var c quarry.Chunk
	id := s.field(p, fieldID)
	if p.at > uint64(len(s.texts)) {
		return c, fmt.Errorf("chunk %q at offset %d past the %d bytes of texts", id, p.at, len(s.texts))
	}
	// The chunk's fields are slices of the texts in the heap, or of one
	// copy of the record read from the file: one allocation, not one a
	// field.
	rec := s.texts[p.at:]
	if s.file != nil {
		var err error
		if rec, err = s.readRecord(p.at); err != nil {
			return c, fmt.Errorf("chunk %q at offset %d: %w", id, p.at, err)
		}
	}
	// rec is never written to.
	d := &decoder{b: rec, arena: unsafe.String(unsafe.SliceData(rec), len(rec))}
	d.chunk(&c)
	if d.err != nil || c.ID != id || c.DocID != s.field(p, fieldDoc) || c.Lang != s.field(p, fieldLang) {
		return quarry.Chunk{}, fmt.Errorf("chunk %q at offset %d does not decode (%v)", id, p.at, d.err)
	}
	return c, nil
}

// preadTexts is the size of a texts section from which it stays mapped
// and searches read it with pread (see Store.file); smaller ones are
// decoded as they load.
var preadTexts = 64 << 20

// readRecord reads the record at offset at of texts from the file.
func (s *Store) readRecord(at uint64) ([]byte, error) {
	size := uint64(1024)
	for {
		size = min(size, uint64(len(s.texts))-at)
		buf := make([]byte, size)
		if _, err := s.file.ReadAt(buf, s.textsAt+int64(at)); err != nil {
			return nil, ioErr("read chunk", err)
		}
		n, err := recordLen(buf)
		if err == nil {
			return buf[:n:n], nil
		}
		if size == uint64(len(s.texts))-at {
			return nil, err
		}
		size *= 4
	}
}

// record returns the encoded chunk of slot: its bytes in texts (which
// must not be written to), or encoded into *buf.
func (s *Store) record(slot int, buf *[]byte) ([]byte, error) {
	p := &s.pts[slot]
	if p.c != nil {
		*buf = appendChunk((*buf)[:0], p.c)
		return *buf, nil
	}
	if p.at > uint64(len(s.texts)) {
		return nil, fmt.Errorf("chunk %q at offset %d past the %d bytes of texts", s.field(p, fieldID), p.at, len(s.texts))
	}
	n, err := recordLen(s.texts[p.at:])
	if err != nil {
		return nil, fmt.Errorf("chunk %q at offset %d: %w", s.field(p, fieldID), p.at, err)
	}
	return s.texts[p.at : p.at+uint64(n)], nil
}

// release unmaps the snapshot of a store that is closed or was never
// handed out.
func (s *Store) release() {
	if s.mapped != nil {
		unmap(s.mapped)
		s.mapped = nil
	}
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// Open opens the store in dir, creating it if needed, for vectors of
// space. An empty dir gives a store that lives in memory only. Opening a
// directory created for another space is quarry.ErrConflict.
func Open(dir string, space index.Space, cfg Config) (*Store, error) {
	if err := checkSpace(space); err != nil {
		return nil, err
	}
	if cfg.MaxLogBytes == 0 {
		cfg.MaxLogBytes = defaultMaxLogBytes
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	fresh := func() *Store {
		s := &Store{
			space:  space,
			cosine: !space.Sparse && space.Distance != "dot",
			cfg:    cfg,
			dir:    dir,
			ids:    newSlotTable(false),
			docs:   newSlotTable(true),
		}
		if space.Sparse {
			s.post = map[uint32]*posting{}
		}
		return s
	}
	s := fresh()
	if dir == "" {
		return s, nil
	}
	if cfg.ReadOnly {
		return loadReadOnly(dir, fresh)
	}
	d, err := openDisk(dir, s)
	if err != nil {
		s.release()
		return nil, err
	}
	s.disk = d
	return s, nil
}

func checkSpace(sp index.Space) error {
	switch {
	case sp.Embedder == "":
		return quarry.Errorf(quarry.CodeInvalid, "memvec: space has no embedder name")
	case sp.Dim <= 0:
		return quarry.Errorf(quarry.CodeInvalid, "memvec: space %q has dimension %d", sp.Embedder, sp.Dim)
	case sp.Sparse && sp.Distance != "" && sp.Distance != "dot":
		return quarry.Errorf(quarry.CodeInvalid, "memvec: sparse space %q has distance %q; sparse vectors are scored by dot product", sp.Embedder, sp.Distance)
	case !sp.Sparse && sp.Distance != "" && sp.Distance != "cosine" && sp.Distance != "dot":
		return quarry.Errorf(quarry.CodeInvalid, "memvec: space %q has distance %q; want cosine or dot", sp.Embedder, sp.Distance)
	case !sp.Sparse && sp.IDF:
		return quarry.Errorf(quarry.CodeInvalid, "memvec: space %q asks for IDF, which applies to sparse vectors only", sp.Embedder)
	}
	return nil
}

// describe names a space for error messages.
func describe(sp index.Space) string {
	switch {
	case sp.Sparse && sp.IDF:
		return fmt.Sprintf("%q (sparse, dim %d, idf)", sp.Embedder, sp.Dim)
	case sp.Sparse:
		return fmt.Sprintf("%q (sparse, dim %d)", sp.Embedder, sp.Dim)
	}
	dist := sp.Distance
	if dist == "" {
		dist = "cosine"
	}
	return fmt.Sprintf("%q (dense, dim %d, %s)", sp.Embedder, sp.Dim, dist)
}

// Space returns the space the store was created for.
func (s *Store) Space() index.Space { return s.space }

// Upsert adds records, replacing any with the same chunk ID. The whole
// batch is validated before anything is written: a rejected batch
// changes nothing.
func (s *Store) Upsert(ctx context.Context, recs []index.Record) error {
	if err := ctxErr(ctx, "upsert"); err != nil {
		return err
	}
	prep := make([]prepared, len(recs))
	for i, r := range recs {
		if i%1024 == 1023 {
			if err := ctxErr(ctx, "upsert"); err != nil {
				return err
			}
		}
		p, err := s.prepareRecord(r)
		if err != nil {
			return quarry.Errorf(quarry.ErrorCode(err), "memvec: upsert record %d (chunk %q): %w", i, r.Chunk.ID, err)
		}
		prep[i] = p
	}
	if len(prep) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx, "upsert"); err != nil {
		return err
	}
	if s.disk != nil {
		if err := s.disk.logUpsert(s, prep); err != nil {
			return err
		}
	}
	for i := range prep {
		s.insert(&prep[i])
	}
	s.afterWrite()
	return nil
}

// DeleteDocs removes every chunk of the given documents. Unknown ids are
// not an error.
func (s *Store) DeleteDocs(ctx context.Context, docIDs ...string) error {
	if err := ctxErr(ctx, "delete"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx, "delete"); err != nil {
		return err
	}
	known := s.knownDocs(docIDs)
	if len(known) == 0 {
		return nil
	}
	if s.disk != nil {
		if err := s.disk.logDelete(s, known); err != nil {
			return err
		}
	}
	s.deleteDocs(known)
	s.afterWrite()
	return nil
}

// Replace removes every chunk of docIDs and adds recs as one write:
// readers see the store before it or after it, and the log holds it as
// one frame, so a crash keeps all of it or none. It is how an index
// writer swaps many documents' chunks at once. recs are validated before
// anything changes, as Upsert does.
func (s *Store) Replace(ctx context.Context, docIDs []string, recs []index.Record) error {
	if err := ctxErr(ctx, "replace"); err != nil {
		return err
	}
	prep := make([]prepared, len(recs))
	for i, r := range recs {
		if i%1024 == 1023 {
			if err := ctxErr(ctx, "replace"); err != nil {
				return err
			}
		}
		p, err := s.prepareRecord(r)
		if err != nil {
			return quarry.Errorf(quarry.ErrorCode(err), "memvec: replace: record %d (chunk %q): %w", i, r.Chunk.ID, err)
		}
		prep[i] = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx, "replace"); err != nil {
		return err
	}
	known := s.knownDocs(docIDs)
	if len(known) == 0 && len(prep) == 0 {
		return nil
	}
	if s.disk != nil {
		if err := s.disk.logReplace(s, known, prep); err != nil {
			return err
		}
	}
	s.deleteDocs(known)
	for i := range prep {
		s.insert(&prep[i])
	}
	s.afterWrite()
	return nil
}

// knownDocs returns the distinct ids of docIDs that have chunks stored.
func (s *Store) knownDocs(docIDs []string) []string {
	var known []string
	seen := make(map[string]bool, len(docIDs))
	for _, id := range docIDs {
		if s.docs.find(id, s) >= 0 && !seen[id] {
			seen[id] = true
			known = append(known, id)
		}
	}
	return known
}

// Count returns the number of chunks stored.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctxErr(ctx, "count"); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "count"); err != nil {
		return 0, err
	}
	return s.live, nil
}

// Stats describes the store's contents.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Points: s.live, Slots: len(s.pts)}
	for _, p := range s.post {
		st.Postings += p.n
	}
	if s.disk != nil {
		st.LogBytes = s.disk.logSize - logHeaderLen
		st.DroppedAtOpen = s.disk.dropped
	}
	return st
}

// Checkpoint makes everything written so far durable: it writes a new
// snapshot and starts an empty log. It is a no-op for a memory-only
// store.
func (s *Store) Checkpoint() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return quarry.Errorf(quarry.CodeUnavailable, "memvec: checkpoint: store is closed")
	}
	if s.disk == nil {
		return nil
	}
	return s.disk.checkpoint(s)
}

// Close checkpoints the store if anything changed since the last
// checkpoint and releases its files. Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.release()
	if s.disk == nil {
		return nil
	}
	return s.disk.close(s)
}

// writable is usable for writes: not closed, not read-only.
func (s *Store) writable(ctx context.Context, op string) error {
	if s.cfg.ReadOnly {
		return quarry.Errorf(quarry.CodeUnavailable, "memvec: %s: the store is open read-only", op)
	}
	return s.usable(ctx, op)
}

func (s *Store) usable(ctx context.Context, op string) error {
	if s.closed {
		return quarry.Errorf(quarry.CodeUnavailable, "memvec: %s: store is closed", op)
	}
	return ctxErr(ctx, op)
}

// ctxErr classifies a done context.
func ctxErr(ctx context.Context, op string) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	code := quarry.CodeCanceled
	if err == context.DeadlineExceeded {
		code = quarry.CodeTimeout
	}
	return quarry.Errorf(code, "memvec: %s: %w", op, err)
}

// prepared is a validated record in the form the store keeps: dense
// vectors normalised for cosine, sparse ones sorted without zeros.
type prepared struct {
	chunk quarry.Chunk
	dense []float32
	idx   []uint32
	vals  []float32
}

func (s *Store) prepareRecord(r index.Record) (prepared, error) {
	if r.Chunk.ID == "" {
		return prepared{}, quarry.Errorf(quarry.CodeInvalid, "chunk has no ID")
	}
	if r.Chunk.DocID == "" {
		return prepared{}, quarry.Errorf(quarry.CodeInvalid, "chunk has no document ID")
	}
	v, err := s.prepareVector(r.Vector)
	if err != nil {
		return prepared{}, err
	}
	v.chunk = r.Chunk
	return v, nil
}

// insert adds a prepared record, replacing a point with the same ID.
// The caller holds the write lock.
func (s *Store) insert(p *prepared) {
	if old, ok := s.ids.get(p.chunk.ID, s); ok {
		s.kill(old)
	}
	slot := uint32(len(s.pts))
	c := p.chunk
	s.pts = append(s.pts, point{c: &c})
	s.alive = append(s.alive, true)
	s.docNext = append(s.docNext, 0)
	s.live++
	s.index(slot, c.ID, c.DocID)
	if !s.space.Sparse {
		s.slab = append(s.slab, p.dense...)
		return
	}
	for i, ix := range p.idx {
		pl := s.post[ix]
		if pl == nil {
			pl = &posting{}
			s.post[ix] = pl
		}
		pl.add(slot, p.vals[i])
	}
}

// kill tombstones a live slot.
func (s *Store) kill(slot uint32) {
	p := &s.pts[slot]
	if i := s.ids.find(s.field(p, fieldID), s); i >= 0 {
		s.ids.removeAt(i, s)
	}
	if i := s.docs.find(s.field(p, fieldDoc), s); i >= 0 {
		if head := s.docs.cells[i]; head == slot+1 {
			if next := s.docNext[slot]; next != 0 {
				s.docs.cells[i] = next
			} else {
				s.docs.removeAt(i, s)
			}
		} else {
			for c := head; c != 0; c = s.docNext[c-1] {
				if s.docNext[c-1] == slot+1 {
					s.docNext[c-1] = s.docNext[slot]
					break
				}
			}
		}
	}
	s.docNext[slot] = 0
	*p = point{}
	s.alive[slot] = false
	s.live--
	if s.space.Sparse {
		s.bumpEpoch()
	}
}

// index adds the point of slot, whose ID and document ID are id and
// doc, to the tables of IDs and documents, unless another live point has
// its ID: then it returns false and changes nothing.
func (s *Store) index(slot uint32, id, doc string) bool {
	if s.ids.add(slot, id, s) >= 0 {
		return false
	}
	s.docNext[slot] = 0
	if i := s.docs.add(slot, doc, s); i >= 0 {
		s.docNext[slot] = s.docs.cells[i]
		s.docs.cells[i] = slot + 1
	}
	return true
}

// docSlots appends the live slots of document doc to out.
func (s *Store) docSlots(out []uint32, doc string) []uint32 {
	i := s.docs.find(doc, s)
	if i < 0 {
		return out
	}
	for c := s.docs.cells[i]; c != 0; c = s.docNext[c-1] {
		out = append(out, c-1)
	}
	return out
}

// bumpEpoch invalidates the dead counts cached in the posting lists.
func (s *Store) bumpEpoch() {
	s.epoch++
	if s.epoch == 0 { // wrapped: an old cache entry could look current
		for _, p := range s.post {
			p.dead.Store(0)
		}
		s.epoch = 1
	}
}

// liveIn returns the number of live points in p: the n of IDF. A point
// keeps its postings when it is deleted, so that a delete need not know
// its indices; the dead among them are counted when a search first
// needs the list after a delete, and cached until the next one.
func (s *Store) liveIn(p *posting) int {
	if s.live == len(s.pts) {
		return p.n
	}
	c := p.dead.Load()
	if c != 0 && uint32(c>>32) == s.epoch {
		return p.n - int(uint32(c))
	}
	dead := 0
	p.each(func(slot uint32) {
		if int(slot) < len(s.alive) && !s.alive[slot] {
			dead++
		}
	})
	p.dead.Store(uint64(s.epoch)<<32 | uint64(dead))
	return p.n - dead
}

func (s *Store) deleteDocs(docIDs []string) {
	for _, id := range docIDs {
		// Each kill finds its slot at the head of the chain.
		for _, slot := range s.docSlots(nil, id) {
			s.kill(slot)
		}
	}
}

// afterWrite compacts when tombstones make up a quarter of the slots.
func (s *Store) afterWrite() {
	dead := len(s.pts) - s.live
	if dead > 0 && (s.live == 0 || dead >= 256 && dead*4 >= len(s.pts)) {
		s.compact()
	}
	if s.disk != nil && s.cfg.MaxLogBytes > 0 && s.disk.logSize > s.cfg.MaxLogBytes {
		// The write itself is in the log; a failed checkpoint is retried
		// on the next write and reported by Close.
		_ = s.disk.checkpoint(s)
	}
}

// compact renumbers the live slots densely and drops tombstones from the
// slab and the postings, keeping every posting in slot order.
func (s *Store) compact() {
	const gone = ^uint32(0)
	n := len(s.pts)
	renum := make([]uint32, n)
	next := uint32(0)
	dim := s.space.Dim
	for old := 0; old < n; old++ {
		if !s.alive[old] {
			renum[old] = gone
			continue
		}
		renum[old] = next
		if int(next) != old {
			s.pts[next] = s.pts[old]
			s.docNext[next] = s.docNext[old]
			if !s.space.Sparse {
				copy(s.slab[int(next)*dim:int(next+1)*dim], s.slab[old*dim:(old+1)*dim])
			}
		}
		next++
	}
	clear(s.pts[next:])
	s.pts = s.pts[:next]
	s.docNext = s.docNext[:next]
	for i, c := range s.docNext {
		if c != 0 {
			s.docNext[i] = renum[c-1] + 1
		}
	}
	s.alive = s.alive[:next]
	for i := range s.alive {
		s.alive[i] = true
	}
	if s.space.Sparse {
		for ix, p := range s.post {
			if np := p.filter(renum, gone); np.n > 0 {
				s.post[ix] = np
			} else {
				delete(s.post, ix)
			}
		}
		s.bumpEpoch()
	} else {
		s.slab = shrink(s.slab[:int(next)*dim])
	}
	s.pts, s.alive, s.docNext = shrink(s.pts), shrink(s.alive), shrink(s.docNext)
	s.ids.renumber(renum)
	s.docs.renumber(renum)
}

// shrink returns x in a smaller array when most of its capacity is
// unused, so that a store that shrank gives memory back.
func shrink[T any](x []T) []T {
	if cap(x) > 2*len(x)+64 {
		return slices.Clone(x)
	}
	return x
}
