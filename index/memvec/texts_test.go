package memvec

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// A reopened store keeps its chunks in the snapshot's texts section,
// mapped and read with pread when it is large, else decoded into the
// heap, and returns them as they were written; points written
// after the open live in the heap beside them, and a checkpoint writes
// both kinds into the next snapshot.
func TestTextsSection(t *testing.T) {
	t.Run("heap", func(t *testing.T) { testTextsSection(t) })
	t.Run("pread", func(t *testing.T) {
		defer func(was int) { preadTexts = was }(preadTexts)
		preadTexts = 0
		testTextsSection(t)
	})
}

func testTextsSection(t *testing.T) {
	ctx := context.Background()
	for _, sp := range []index.Space{denseSpace, sparseSpace} {
		t.Run(sp.Embedder, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, sp, Config{})
			mustUpsert(t, s, batch(sp, "a", 5)...)
			mustUpsert(t, s, batch(sp, "b", 4)...)
			mustUpsert(t, s, batch(sp, "c", 3)...)
			long := testRecord(sp, "c", 3) // longer than a first read of texts
			long.Chunk.Text = strings.Repeat("long 文本 ", 1000)
			mustUpsert(t, s, long)
			want := everything(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = mustOpen(t, dir, sp, Config{})
			defer s.Close()
			// Large texts stay mapped and are read with pread; small
			// ones are decoded as they load.
			pread := preadTexts == 0 && s.mapped != nil
			for i, p := range s.pts {
				if (p.c == nil) != pread {
					t.Fatalf("point %d held in the heap: %v, with preadTexts %d", i, p.c != nil, preadTexts)
				}
			}
			if (s.file != nil) != pread {
				t.Fatalf("texts read with pread: %v, with preadTexts %d", s.file != nil, preadTexts)
			}
			if pread {
				lo, hi := uintptr(unsafe.Pointer(&s.mapped[0])), uintptr(unsafe.Pointer(&s.mapped[len(s.mapped)-1]))
				if at := uintptr(unsafe.Pointer(&s.texts[0])); at < lo || at > hi {
					t.Fatal("the texts read with pread are not the mapped snapshot's")
				}
			}
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("after reopen:\n got %v\nwant %v", got, want)
			}
			if got, err := s.chunk(slotOf(t, s, long.Chunk.ID)); err != nil || !reflect.DeepEqual(got, long.Chunk) {
				t.Fatalf("the long chunk reads back as %q..., %v", got.Text[:min(len(got.Text), 20)], err)
			}
			for _, f := range []index.Filter{{DocIDs: []string{"b"}}, {Lang: "en"}, {Lang: "de"}} {
				hits, err := s.Search(ctx, testQuery(sp), 100, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hits {
					if len(f.DocIDs) > 0 && h.Chunk.DocID != "b" || f.Lang != "" && h.Chunk.Lang != f.Lang {
						t.Fatalf("filter %+v returned %s", f, h.Chunk.ID)
					}
				}
			}

			if err := s.Replace(ctx, []string{"a"}, batch(sp, "a", 2)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteDocs(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			mustUpsert(t, s, batch(sp, "d", 2)...)
			want = everything(t, s)
			if len(want) != 8 {
				t.Fatalf("%d points after the changes, want 8", len(want))
			}
			if err := s.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			ro := mustOpen(t, dir, sp, Config{ReadOnly: true})
			defer ro.Close()
			if got := everything(t, ro); !reflect.DeepEqual(got, want) {
				t.Fatalf("read-only after the checkpoint:\n got %v\nwant %v", got, want)
			}
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("writer after its checkpoint:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// A read-only store opened before a writer's checkpoint keeps reading
// the snapshot it mapped (the checkpoint renames a new file over it);
// one opened after sees the checkpoint, and the log written since.
func TestReadOnlySeesCheckpoint(t *testing.T) {
	sp := sparseSpace
	dir := t.TempDir()
	w := mustOpen(t, dir, sp, Config{})
	defer w.Close()
	mustUpsert(t, w, batch(sp, "a", 3)...)
	if err := w.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	before := mustOpen(t, dir, sp, Config{ReadOnly: true})
	defer before.Close()
	old := everything(t, before)

	mustUpsert(t, w, batch(sp, "b", 3)...)
	if err := w.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, w, batch(sp, "c", 2)...) // in the log only
	if got := everything(t, before); !reflect.DeepEqual(got, old) {
		t.Fatalf("the older read-only store after the checkpoint:\n got %v\nwant %v", got, old)
	}
	after := mustOpen(t, dir, sp, Config{ReadOnly: true})
	defer after.Close()
	if got, want := everything(t, after), everything(t, w); !reflect.DeepEqual(got, want) || len(got) != 8 {
		t.Fatalf("read-only after the checkpoint:\n got %v\nwant %v", got, want)
	}
}

// snapSections returns the offset and length of each section's body in
// a QMVSNAP5 snapshot.
func snapSections(t testing.TB, raw []byte) (offs, lens [4]int) {
	t.Helper()
	if string(raw[:8]) != snapMagicV2 {
		t.Fatalf("snapshot starts %q", raw[:8])
	}
	off := 16
	n, k := binary.Uvarint(raw[off:])
	off += k + int(n) + 4
	for i := range 4 {
		lens[i] = int(binary.LittleEndian.Uint64(raw[off:]))
		offs[i] = off + sectionHeadLen
		off = offs[i] + lens[i]
	}
	if off != len(raw) {
		t.Fatalf("sections end at %d of %d bytes", off, len(raw))
	}
	return offs, lens
}

// closedSnapshot writes a store of four sparse points into a new
// directory, closes it and returns the directory, its snapshot's path
// and the snapshot's bytes.
func closedSnapshot(t *testing.T) (dir, path string, raw []byte) {
	t.Helper()
	dir = t.TempDir()
	s := mustOpen(t, dir, sparseSpace, Config{})
	mustUpsert(t, s, batch(sparseSpace, "a", 4)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, snapName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dir, path, raw
}

// Damage to the ids or texts section is reported at open, naming the
// section, even though the texts are not read through the mapping.
func TestCorruptTexts(t *testing.T) {
	for _, tc := range []struct {
		section int
		name    string
	}{{0, "ids"}, {1, "texts"}} {
		for _, ro := range []bool{false, true} {
			name := tc.name
			if ro {
				name += "/read-only"
			}
			t.Run(name, func(t *testing.T) {
				dir, path, raw := closedSnapshot(t)
				offs, lens := snapSections(t, raw)
				raw[offs[tc.section]+lens[tc.section]-3] ^= 0x20
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
				_, err := Open(dir, sparseSpace, Config{ReadOnly: ro})
				if !errors.Is(err, quarry.ErrInternal) || !strings.Contains(err.Error(), "checksum mismatch in the "+tc.name+" section") {
					t.Fatalf("Open = %v, want a checksum mismatch in the %s section", err, tc.name)
				}
			})
		}
	}
}

// The ids section's lengths must add up to the texts section's.
func TestTextsLengthMismatch(t *testing.T) {
	dir, path, raw := closedSnapshot(t)
	offs, lens := snapSections(t, raw)
	// The last byte of the ids section is the last point's length (one
	// byte: a short chunk): make it claim a byte more than texts holds.
	raw[offs[0]+lens[0]-1]++
	binary.LittleEndian.PutUint64(raw[offs[0]-8:], xxhash.Sum64(raw[offs[0]:offs[0]+lens[0]]))
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, sparseSpace, Config{})
	if !errors.Is(err, quarry.ErrInternal) || !strings.Contains(err.Error(), "the texts section holds") {
		t.Fatalf("Open = %v, want the texts' length reported", err)
	}
}
