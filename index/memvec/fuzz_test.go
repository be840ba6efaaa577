package memvec

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/quarry-kb/quarry/index"
)

func frame(payload []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

func seedRecords(t testing.TB, sp index.Space) []prepared {
	s := mustOpen(t, "", sp, Config{})
	var out []prepared
	for i, r := range batch(sp, "seed", 3) {
		if i == 2 {
			r.Chunk.Text = "退款 ✓"
		}
		p, err := s.prepareRecord(r)
		if err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}

// Whatever bytes follow a valid log header, replay never panics, keeps a
// prefix, and replays only frames that decode completely.
func FuzzReplayFrames(f *testing.F) {
	sp := sparseSpace
	var up []byte
	up = append(up, opUpsert)
	recs := seedRecords(f, sp)
	up = binary.AppendUvarint(up, uint64(len(recs)))
	for i := range recs {
		rec := encodeRecord(nil, &recs[i], true)
		up = binary.AppendUvarint(up, uint64(len(rec)))
		up = append(up, rec...)
	}
	del := append([]byte{opDelete, 2}, appendString(appendString(nil, "seed"), "other")...)
	f.Add(frame(up))
	f.Add(append(frame(up), frame(del)...))
	f.Add(append(frame(del), frame(up)[:20]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(frame([]byte{9, 1, 2}))
	head := make([]byte, logHeaderLen)
	f.Fuzz(func(t *testing.T, tail []byte) {
		// The payload decoder directly, since the fuzzer rarely forges a CRC.
		if op, err := decodeOp(tail, sp); err == nil {
			for _, p := range op.upserts {
				if len(p.idx) != len(p.vals) || p.chunk.ID == "" {
					t.Fatalf("decoded a malformed record: %+v", p)
				}
			}
		}
		data := append(head[:logHeaderLen:logHeaderLen], tail...)
		var ops int
		good := replayFrames(data, func(op logOp) {
			ops++
			for _, p := range op.upserts {
				if len(p.idx) != len(p.vals) || p.chunk.ID == "" {
					t.Fatalf("replayed a malformed record: %+v", p)
				}
				for _, ix := range p.idx {
					if int(ix) >= sp.Dim {
						t.Fatalf("replayed index %d out of range", ix)
					}
				}
			}
		}, sp)
		if good < logHeaderLen || good > int64(len(data)) {
			t.Fatalf("valid prefix %d outside [%d, %d]", good, logHeaderLen, len(data))
		}
		if ops == 0 && good != logHeaderLen {
			t.Fatalf("kept %d bytes without replaying a frame", good)
		}
	})
}

// decodeRecord never panics, and what it accepts survives a re-encoding.
func FuzzDecodeRecord(f *testing.F) {
	for _, sp := range []index.Space{denseSpace, sparseSpace} {
		for _, p := range seedRecords(f, sp) {
			f.Add(sp.Sparse, encodeRecord(nil, &p, sp.Sparse))
		}
	}
	f.Add(true, []byte{1, 'a', 1, 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, sparse bool, b []byte) {
		sp := denseSpace
		if sparse {
			sp = sparseSpace
		}
		p, err := decodeRecord(b, sp)
		if err != nil {
			return
		}
		again, err := decodeRecord(encodeRecord(nil, &p, sparse), sp)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", p, again)
		}
	})
}

// postingSection returns the postings section a snapshot of s holds.
func postingSection(t testing.TB, s *Store) []byte {
	raw := snapshotBytes(t, s)
	offs, lens := snapSections(t, raw)
	return raw[offs[3] : offs[3]+lens[3]]
}

// snapshotBytes returns the bytes of a snapshot of s.
func snapshotBytes(t testing.TB, s *Store) []byte {
	dir := t.TempDir()
	d := &disk{dir: dir}
	if err := d.writeSnapshot(s, 1); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, snapName))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Whatever a snapshot's postings section holds (past its checksum),
// loading it never panics, and a search over what it accepts never
// panics either, nor returns a point that does not exist.
func FuzzLoadPostings(f *testing.F) {
	seed := mustOpen(f, "", sparseSpace, Config{})
	mustUpsert(f, seed, batch(sparseSpace, "d", 8)...)
	f.Add(postingSection(f, seed))
	f.Add([]byte{1, 3, 2, 0, 0, 0, 0x3f, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		s := mustOpen(t, "", sparseSpace, Config{})
		for i := range 8 {
			c := testChunk("d", i)
			s.pts = append(s.pts, point{c: &c})
			s.alive = append(s.alive, i != 3)
			s.docNext = append(s.docNext, 0)
			s.index(uint32(i), c.ID, c.DocID)
		}
		s.live = 7
		s.epoch = 1
		if err := s.loadPostings(body, snapCurrent, func(format string, args ...any) error { return fmt.Errorf(format, args...) }); err != nil {
			return
		}
		q := index.Vector{}
		for ix := range s.post {
			q.Indices = append(q.Indices, ix)
			q.Values = append(q.Values, 1)
		}
		if len(q.Indices) == 0 {
			return
		}
		for _, f := range []index.Filter{{}, {Lang: "en"}} {
			hits, err := s.Search(context.Background(), q, 3, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hits {
				if h.Chunk.ID == "" || h.Chunk.ID == "d#3" {
					t.Fatalf("search returned %+v", h.Chunk)
				}
			}
		}
	})
}

// snapshotTexts returns the ids and texts sections a snapshot of s holds.
func snapshotTexts(t testing.TB, s *Store) (ids, texts []byte) {
	raw := snapshotBytes(t, s)
	offs, lens := snapSections(t, raw)
	return raw[offs[0] : offs[0]+lens[0]], raw[offs[1] : offs[1]+lens[1]]
}

// Whatever a snapshot's ids and texts sections hold (past their
// checksums), loading them never panics, nor does decoding, searching
// or rewriting what they accept: a chunk that does not decode is an
// error.
func FuzzLoadIDs(f *testing.F) {
	seed := mustOpen(f, "", denseSpace, Config{})
	recs := batch(denseSpace, "d", 3)
	recs[1].Chunk.Text = "退款 ✓"
	mustUpsert(f, seed, recs...)
	ids, texts := snapshotTexts(f, seed)
	f.Add(ids, texts)
	f.Add([]byte{1, 1, 'a', 1, 'b', 0, 9}, []byte{1, 'a', 1, 'b', 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ids, texts []byte) {
		s := mustOpen(t, "", denseSpace, Config{})
		sections := [][]byte{ids, texts}
		next := func(name string, mapped bool) ([]byte, error) {
			b := sections[0]
			sections = sections[1:]
			return b, nil
		}
		corrupt := func(format string, args ...any) error { return fmt.Errorf(format, args...) }
		n, err := (&disk{}).loadIDs(s, next, corrupt)
		if err != nil {
			return
		}
		if int(n) != len(s.pts) || s.live != len(s.pts) || s.ids.n != len(s.pts) {
			t.Fatalf("loaded %d points, %d live, %d IDs", n, s.live, len(s.pts))
		}
		var buf []byte
		for slot := range s.pts {
			if c, err := s.chunk(uint32(slot)); err == nil && c.ID != s.field(&s.pts[slot], fieldID) {
				t.Fatalf("point %d decodes as %q", slot, c.ID)
			}
			s.record(slot, &buf)
		}
		s.slab = make([]float32, len(s.pts)*denseSpace.Dim)
		for i := range s.slab {
			s.slab[i] = 1
		}
		s.Search(context.Background(), testQuery(denseSpace), 3, index.Filter{})
	})
}
