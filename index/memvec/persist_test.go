package memvec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

var (
	denseSpace  = index.Space{Embedder: "test-dense", Dim: 3}
	sparseSpace = index.Space{Embedder: "test-sparse", Dim: 64, Sparse: true, IDF: true}
)

func testChunk(doc string, ord int) quarry.Chunk {
	return quarry.Chunk{
		ID: fmt.Sprintf("%s#%d", doc, ord), DocID: doc, Path: doc + ".md", Title: "T " + doc,
		Heading: "H > " + doc, Page: ord % 3, Ordinal: ord, Text: fmt.Sprintf("chunk %d of %s 文本", ord, doc),
		Tokens: 10 + ord, Lang: "en",
	}
}

// testRecord gives a deterministic vector for (doc, ord) in sp.
func testRecord(sp index.Space, doc string, ord int) index.Record {
	h := 0
	for _, r := range doc {
		h = h*31 + int(r)
	}
	h += 7 * ord
	var v index.Vector
	if sp.Sparse { // every point has index 63, which the test query holds
		v = index.Vector{
			Indices: []uint32{uint32(h % 60), 60 + uint32(ord%3), 63},
			Values:  []float32{1 + float32(h%5), 0.5, float32(ord%4) + 0.25},
		}
	} else {
		v = index.Vector{Dense: []float32{1 + float32(h%7), float32(h%5) - 2, float32(ord) + 0.5}}
	}
	return index.Record{Chunk: testChunk(doc, ord), Vector: v}
}

func testQuery(sp index.Space) index.Vector {
	if sp.Sparse {
		return index.Vector{Indices: []uint32{63, 5, 17, 40}, Values: []float32{1, 0.7, 0.3, 2}}
	}
	return index.Vector{Dense: []float32{1, 0.5, 0.25}}
}

func mustOpen(t testing.TB, dir string, sp index.Space, cfg Config) *Store {
	t.Helper()
	s, err := Open(dir, sp, cfg)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	return s
}

func mustUpsert(t testing.TB, s *Store, recs ...index.Record) {
	t.Helper()
	if err := s.Upsert(context.Background(), recs); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

func batch(sp index.Space, doc string, n int) []index.Record {
	recs := make([]index.Record, n)
	for i := range recs {
		recs[i] = testRecord(sp, doc, i)
	}
	return recs
}

// everything returns every hit for the test query, to compare states.
func everything(t testing.TB, s *Store) []index.Hit {
	t.Helper()
	hits, err := s.Search(context.Background(), testQuery(s.space), 1<<20, index.Filter{})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	return hits
}

// crash drops a store the way a killed process would: its files are
// released without a checkpoint.
func crash(s *Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if d := s.disk; d != nil {
		if d.log != nil {
			d.log.Close()
		}
		unlockFile(d.lock)
		d.lock.Close()
	}
}

func TestReopen(t *testing.T) {
	for _, sp := range []index.Space{denseSpace, sparseSpace} {
		t.Run(sp.Embedder, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, sp, Config{})
			mustUpsert(t, s, batch(sp, "a", 5)...)
			mustUpsert(t, s, batch(sp, "b", 4)...)
			mustUpsert(t, s, testRecord(sp, "a", 2)) // replace
			if err := s.DeleteDocs(context.Background(), "b"); err != nil {
				t.Fatal(err)
			}
			mustUpsert(t, s, batch(sp, "c", 3)...)
			want := everything(t, s)
			if len(want) == 0 {
				t.Fatal("test query finds nothing")
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			s = mustOpen(t, dir, sp, Config{})
			defer s.Close()
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("after reopen:\n got %v\nwant %v", got, want)
			}
			if st := s.Stats(); st.Points != 8 || st.LogBytes != 0 || st.DroppedAtOpen != 0 {
				t.Fatalf("Stats after a clean close = %+v, want 8 points and an empty log", st)
			}
		})
	}
}

func TestCrashReplaysLog(t *testing.T) {
	for _, sp := range []index.Space{denseSpace, sparseSpace} {
		t.Run(sp.Embedder, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, sp, Config{SyncWrites: true})
			mustUpsert(t, s, batch(sp, "a", 5)...)
			if err := s.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			mustUpsert(t, s, batch(sp, "b", 4)...)
			if err := s.DeleteDocs(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			want := everything(t, s)
			crash(s)

			s = mustOpen(t, dir, sp, Config{})
			defer s.Close()
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("after crash:\n got %v\nwant %v", got, want)
			}
			if st := s.Stats(); st.Points != 4 || st.LogBytes == 0 || st.DroppedAtOpen != 0 {
				t.Fatalf("Stats = %+v, want 4 points replayed from the log", st)
			}
		})
	}
}

// A crash in the middle of a log write leaves a torn tail: the complete
// frames before it survive, the store opens, and later writes land after
// the cut.
func TestTornLogTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(log []byte, lastFrame int) []byte
	}{
		{"cut in last frame", func(b []byte, last int) []byte { return b[:last+(len(b)-last)/2] }},
		{"cut in frame header", func(b []byte, last int) []byte { return b[:last+3] }},
		{"flipped byte in last frame", func(b []byte, last int) []byte { b[len(b)-2] ^= 0x40; return b }},
		{"garbage appended", func(b []byte, last int) []byte {
			return append(b[:last], []byte("\x10\x00\x00\x00garbage garbage garbage")...)
		}},
		{"zeroed tail", func(b []byte, last int) []byte {
			clear(b[last:])
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := sparseSpace
			dir := t.TempDir()
			s := mustOpen(t, dir, sp, Config{})
			mustUpsert(t, s, batch(sp, "a", 3)...)
			mustUpsert(t, s, batch(sp, "b", 3)...)
			want := everything(t, s)
			lastFrame := s.disk.logSize
			mustUpsert(t, s, batch(sp, "c", 3)...) // the frame to damage
			crash(s)

			path := filepath.Join(dir, logName)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(raw, int(lastFrame)), 0o644); err != nil {
				t.Fatal(err)
			}

			s = mustOpen(t, dir, sp, Config{})
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("after torn tail:\n got %v\nwant %v", got, want)
			}
			if st := s.Stats(); st.DroppedAtOpen == 0 || st.Points != 6 {
				t.Fatalf("Stats = %+v, want 6 points and a dropped tail", st)
			}
			// Writes after the cut are replayed too.
			mustUpsert(t, s, batch(sp, "d", 2)...)
			want = everything(t, s)
			crash(s)
			s = mustOpen(t, dir, sp, Config{})
			defer s.Close()
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("writes after the cut were lost:\n got %v\nwant %v", got, want)
			}
			if st := s.Stats(); st.DroppedAtOpen != 0 {
				t.Fatalf("second reopen dropped %d bytes", st.DroppedAtOpen)
			}
		})
	}
}

func TestDamagedLogHeader(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, denseSpace, Config{})
	mustUpsert(t, s, batch(denseSpace, "a", 3)...)
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, s, batch(denseSpace, "b", 3)...)
	crash(s)
	if err := os.WriteFile(filepath.Join(dir, logName), []byte("QMVW"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, denseSpace, Config{})
	defer s.Close()
	if n, _ := s.Count(context.Background()); n != 3 {
		t.Fatalf("Count = %d, want the 3 checkpointed points", n)
	}
	if s.Stats().DroppedAtOpen != 4 {
		t.Fatalf("DroppedAtOpen = %d, want 4", s.Stats().DroppedAtOpen)
	}
}

// A crash between installing a snapshot and installing its fresh log
// leaves the previous generation's log behind; replaying it would undo
// later deletes.
func TestStaleLogIgnored(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, denseSpace, Config{})
	mustUpsert(t, s, batch(denseSpace, "x", 2)...)
	old, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDocs(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logName), old, 0o644); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, denseSpace, Config{})
	defer s.Close()
	if n, _ := s.Count(context.Background()); n != 0 {
		t.Fatalf("Count = %d: the stale log was replayed", n)
	}
}

func TestLogNewerThanSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, denseSpace, Config{})
	mustUpsert(t, s, batch(denseSpace, "x", 2)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	oldSnap, err := os.ReadFile(filepath.Join(dir, snapName))
	if err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, denseSpace, Config{})
	mustUpsert(t, s, batch(denseSpace, "y", 2)...)
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	crash(s)
	// An old snapshot restored next to a newer log.
	if err := os.WriteFile(filepath.Join(dir, snapName), oldSnap, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, denseSpace, Config{})
	if !errors.Is(err, quarry.ErrInternal) || !strings.Contains(err.Error(), "newer than the snapshot") {
		t.Fatalf("Open = %v, want an internal error about the log generation", err)
	}
}

func TestCorruptSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }},
		{"empty", func(b []byte) []byte { return nil }},
		{"trailing data", func(b []byte) []byte { return append(b, 0) }},
		{"wrong magic", func(b []byte) []byte { b[0] = 'X'; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path, raw := closedSnapshot(t)
			damaged := tc.damage(raw)
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, sparseSpace, Config{})
			if !errors.Is(err, quarry.ErrInternal) || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("Open = %v, want an internal error naming the corrupt snapshot", err)
			}
			// The damage is not made worse: the file is left as it was.
			if after, _ := os.ReadFile(path); string(after) != string(damaged) {
				t.Fatal("Open changed the corrupt snapshot")
			}
		})
	}
}

func TestSpaceMismatch(t *testing.T) {
	dir := t.TempDir()
	created := index.Space{Embedder: "quarry-charngram-v1/b18", Dim: 1 << 18, Sparse: true, IDF: true}
	s := mustOpen(t, dir, created, Config{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		space index.Space
		want  []string
	}{
		{"other embedder", index.Space{Embedder: "openai/text-embedding-3-small", Dim: 1536},
			[]string{"quarry-charngram-v1/b18", "openai/text-embedding-3-small", "262144", "1536"}},
		{"other settings", index.Space{Embedder: "quarry-charngram-v1/b16", Dim: 1 << 16, Sparse: true, IDF: true},
			[]string{"quarry-charngram-v1/b18", "quarry-charngram-v1/b16"}},
		{"no idf", index.Space{Embedder: "quarry-charngram-v1/b18", Dim: 1 << 18, Sparse: true},
			[]string{"idf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(dir, tc.space, Config{})
			if !errors.Is(err, quarry.ErrConflict) {
				t.Fatalf("Open = %v, want ErrConflict", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// The rightful space still opens.
	s = mustOpen(t, dir, created, Config{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, denseSpace, Config{})
	if _, err := Open(dir, denseSpace, Config{}); !errors.Is(err, quarry.ErrUnavailable) {
		t.Fatalf("second Open = %v, want ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, denseSpace, Config{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxLogBytesCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, denseSpace, Config{MaxLogBytes: 2000})
	for i := range 20 {
		mustUpsert(t, s, batch(denseSpace, fmt.Sprintf("d%d", i), 5)...)
		if lb := s.Stats().LogBytes; lb > 2000 {
			t.Fatalf("log is %d bytes, over MaxLogBytes", lb)
		}
	}
	want := everything(t, s)
	crash(s)
	s = mustOpen(t, dir, denseSpace, Config{})
	defer s.Close()
	if got := everything(t, s); !reflect.DeepEqual(got, want) || len(got) != 100 {
		t.Fatalf("after checkpoints and a crash: %d hits, want %d", len(got), len(want))
	}
}

func TestClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), denseSpace, Config{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"Upsert":     s.Upsert(ctx, batch(denseSpace, "a", 1)),
		"DeleteDocs": s.DeleteDocs(ctx, "a"),
		"Checkpoint": s.Checkpoint(),
	} {
		if !errors.Is(err, quarry.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", name, err)
		}
	}
	if _, err := s.Search(ctx, testQuery(denseSpace), 1, index.Filter{}); !errors.Is(err, quarry.ErrUnavailable) {
		t.Errorf("Search after Close = %v, want ErrUnavailable", err)
	}
}

// Replace swaps documents' chunks as one frame of the log: after a crash
// the log replays it whole, and a torn Replace frame is dropped whole
// (the documents keep their old chunks; none is half replaced).
func TestReplaceIsOneFrame(t *testing.T) {
	ctx := context.Background()
	for _, sp := range []index.Space{denseSpace, sparseSpace} {
		t.Run(sp.Embedder, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, sp, Config{})
			mustUpsert(t, s, batch(sp, "a", 4)...)
			mustUpsert(t, s, batch(sp, "b", 3)...)
			if err := s.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			before := everything(t, s)
			// a gets 2 new chunks, b goes, c arrives; "nobody" is unknown.
			recs := append(batch(sp, "a", 2), batch(sp, "c", 3)...)
			recs[0].Vector = testRecord(sp, "z", 9).Vector
			if err := s.Replace(ctx, []string{"a", "b", "c", "nobody"}, recs); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Points != 5 {
				t.Fatalf("after Replace: %d points, want 5", st.Points)
			}
			want := everything(t, s)
			logged := s.Stats().LogBytes
			crash(s)

			s = mustOpen(t, dir, sp, Config{})
			if got := everything(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("after crash:\n got %v\nwant %v", got, want)
			}
			crash(s)

			// Tear the frame: everything after the header but one byte.
			path := filepath.Join(dir, logName)
			if err := os.Truncate(path, logHeaderLen+logged-1); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir, sp, Config{})
			defer s.Close()
			if got := everything(t, s); !reflect.DeepEqual(got, before) {
				t.Fatalf("after a torn Replace:\n got %v\nwant the state before it %v", got, before)
			}
		})
	}
}

func TestReplaceValidatesFirst(t *testing.T) {
	s := mustOpen(t, "", denseSpace, Config{})
	mustUpsert(t, s, batch(denseSpace, "a", 2)...)
	bad := batch(denseSpace, "b", 2)
	bad[1].Vector = index.Vector{Dense: []float32{1, 2}}
	if err := s.Replace(context.Background(), []string{"a"}, bad); err == nil {
		t.Fatal("Replace took a vector of the wrong dimension")
	}
	if st := s.Stats(); st.Points != 2 {
		t.Errorf("a rejected Replace changed the store: %d points, want 2", st.Points)
	}
}
