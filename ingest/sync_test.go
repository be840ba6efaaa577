package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/quarry-kb/quarry"
)

// memSink is an in-memory Sink that records what Sync asked of it.
type memSink struct {
	mu       sync.Mutex
	docs     map[string]quarry.Document
	chunks   map[string][]quarry.Chunk
	puts     []string
	removes  []string
	failPut  string // path whose Put fails
	embedded int64
}

func newMemSink() *memSink {
	return &memSink{docs: map[string]quarry.Document{}, chunks: map[string][]quarry.Chunk{}}
}

func (s *memSink) Hash(path string) (string, bool) {
	d, ok := s.docs[path]
	return d.Hash, ok
}

func (s *memSink) Paths() []string {
	var out []string
	for p := range s.docs {
		out = append(out, p)
	}
	return out
}

func (s *memSink) Put(ctx context.Context, doc quarry.Document, chunks []quarry.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if doc.Path == s.failPut {
		return quarry.Errorf(quarry.CodeUnavailable, "index is down")
	}
	s.docs[doc.Path] = doc
	s.chunks[doc.Path] = chunks
	s.puts = append(s.puts, doc.Path)
	s.embedded += int64(len(chunks))
	return nil
}

func (s *memSink) Remove(ctx context.Context, path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, path)
	delete(s.chunks, path)
	s.removes = append(s.removes, path)
	return nil
}

func (s *memSink) EmbeddedChunks() int64 { return s.embedded }

func (s *memSink) reset() { s.puts, s.removes = nil, nil }

func (s *memSink) sortedPaths() []string {
	p := s.Paths()
	slices.Sort(p)
	return p
}

// testFolder is a knowledge base with good and bad files.
func testFolder(t *testing.T) fstest.MapFS {
	t.Helper()
	corrupt, err := os.ReadFile("testdata/corrupt.pdf")
	if err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), ModTime: mod} }
	return fstest.MapFS{
		"guide.md":             file("# Guide\n\nInstall it. Then run it.\n\n## Usage\n\nRun `quarry ask`.\n"),
		"faq/returns.html":     file("<html><head><title>Returns</title></head><body><h1>Returns</h1><p>Return within 30 days.</p></body></html>"),
		"faq/zh/refunds.md":    file("# 退款\n\n退款在五个工作日内到账。\n"),
		"notes.txt":            file("Notes\n\nRemember to back up the index.\n"),
		"manual.pdf":           {Data: makePDF(t, "Manual", [][]string{{"Page one text."}, {"Page two text."}}), ModTime: mod},
		"broken.pdf":           {Data: corrupt, ModTime: mod},
		"binary.txt":           {Data: []byte("GIF89a\x00\x01\x00\x00"), ModTime: mod},
		"empty.md":             file(""),
		"report.odt":           file("PK..."),
		".hidden.md":           file("# Hidden\n\nSecret."),
		".git/config":          file("[core]"),
		"faq/.drafts/draft.md": file("# Draft\n\nNot ready."),
	}
}

var goodPaths = []string{"faq/returns.html", "faq/zh/refunds.md", "guide.md", "manual.pdf", "notes.txt"}

func TestSyncIngestsGoodFilesAndNamesBadOnes(t *testing.T) {
	sink := newMemSink()
	sum, err := Sync(context.Background(), testFolder(t), sink, Options{})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := sink.sortedPaths(); !slices.Equal(got, goodPaths) {
		t.Errorf("indexed %q, want %q", got, goodPaths)
	}
	wantSkips := []Skip{
		{".git/", "hidden", KindHidden},
		{".hidden.md", "hidden", KindHidden},
		{"binary.txt", "binary content in a text file (NUL byte at offset 6)", KindMalformed},
		{"broken.pdf", "corrupt PDF: ", KindMalformed},
		{"empty.md", "empty file", KindEmpty},
		{"faq/.drafts/", "hidden", KindHidden},
		{"report.odt", "unsupported file type .odt", KindUnsupported},
	}
	if len(sum.Skipped) != len(wantSkips) {
		t.Fatalf("skipped %+v, want %d files", sum.Skipped, len(wantSkips))
	}
	for i, w := range wantSkips {
		if g := sum.Skipped[i]; g.Path != w.Path || !strings.HasPrefix(g.Reason, w.Reason) || g.Kind != w.Kind {
			t.Errorf("skip %d = %+v, want %+v", i, g, w)
		}
	}
	if sum.Files != 12 || sum.Added != 5 || sum.Updated != 0 || sum.Unchanged != 0 || sum.Removed != 0 ||
		sum.Files != sum.Added+sum.Updated+sum.Unchanged+len(sum.Skipped) {
		t.Errorf("summary counts = %+v", sum)
	}
	total := 0
	for _, cs := range sink.chunks {
		total += len(cs)
	}
	if sum.Chunks != total || total < 6 || sum.ChunksEmbedded != total {
		t.Errorf("chunks written %d, embedded %d, in sink %d", sum.Chunks, sum.ChunksEmbedded, total)
	}
	text := sum.String()
	for _, s := range append([]string{"Synced 12 files", "5 added", "7 skipped", "Skipped:\n"}, "    broken.pdf: corrupt PDF: ", "    binary.txt: binary content", "    empty.md: empty file", "  unsupported file type: 1\n", "  hidden: 3\n") {
		if !strings.Contains(text, s) {
			t.Errorf("summary lacks %q:\n%s", s, text)
		}
	}
}

func TestSyncDocumentFields(t *testing.T) {
	fsys := testFolder(t)
	sink := newMemSink()
	if _, err := Sync(context.Background(), fsys, sink, Options{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, title, typ, lang string
		pages                  []int
	}{
		{"guide.md", "Guide", TypeMarkdown, "en", nil},
		{"faq/returns.html", "Returns", TypeHTML, "en", nil},
		{"faq/zh/refunds.md", "退款", TypeMarkdown, "zh", nil},
		{"notes.txt", "Notes", TypeText, "en", nil},
		{"manual.pdf", "Manual", TypePDF, "en", []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			d := sink.docs[tt.path]
			data := fsys[tt.path].Data
			sum := sha256.Sum256(data)
			if d.ID != DocID(tt.path) || d.Path != tt.path || d.Hash != hex.EncodeToString(sum[:]) || d.Size != int64(len(data)) {
				t.Errorf("doc = %+v", d)
			}
			if d.Title != tt.title || d.Type != tt.typ || d.Lang != tt.lang || !d.ModTime.Equal(fsys[tt.path].ModTime) {
				t.Errorf("doc title/type/lang/modtime = %q %q %q %v", d.Title, d.Type, d.Lang, d.ModTime)
			}
			var pages []int
			for i, c := range sink.chunks[tt.path] {
				if c.ID != d.ID+"#"+strconvItoa(i) || c.DocID != d.ID || c.Title != tt.title || c.Path != tt.path {
					t.Errorf("chunk %d = %+v", i, c)
				}
				if c.Page != 0 {
					pages = append(pages, c.Page)
				}
			}
			if !slices.Equal(pages, tt.pages) {
				t.Errorf("chunk pages = %v, want %v", pages, tt.pages)
			}
		})
	}
}

func strconvItoa(i int) string { return ChunkID("", i)[1:] }

func TestDocIDIsStable(t *testing.T) {
	// The first 16 hex digits of SHA-256("docs/a.md"); must never change,
	// or every index would be rebuilt.
	if got := DocID("docs/a.md"); got != "5231f8a11b65145a" {
		sum := sha256.Sum256([]byte("docs/a.md"))
		t.Errorf("DocID = %q, want %q", got, hex.EncodeToString(sum[:8]))
	}
	if DocID("a.md") == DocID("b.md") {
		t.Error("different paths share an id")
	}
}

func TestSyncIncremental(t *testing.T) {
	ctx := context.Background()
	fsys := testFolder(t)
	sink := newMemSink()
	if _, err := Sync(ctx, fsys, sink, Options{}); err != nil {
		t.Fatal(err)
	}

	t.Run("second run changes nothing", func(t *testing.T) {
		sink.reset()
		sum, err := Sync(ctx, fsys, sink, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.puts) != 0 || len(sink.removes) != 0 {
			t.Errorf("puts %q, removes %q on an unchanged folder", sink.puts, sink.removes)
		}
		if sum.Unchanged != 5 || sum.Added+sum.Updated+sum.Removed+sum.Chunks+sum.ChunksEmbedded != 0 {
			t.Errorf("summary = %+v", sum)
		}
		if !strings.Contains(sum.String(), "embedded 0 chunks") {
			t.Errorf("summary text:\n%s", sum)
		}
	})

	t.Run("an edited file is re-indexed alone", func(t *testing.T) {
		sink.reset()
		fsys["guide.md"] = &fstest.MapFile{Data: []byte("# Guide\n\nA new first paragraph.\n")}
		sum, err := Sync(ctx, fsys, sink, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sink.puts, []string{"guide.md"}) || sum.Updated != 1 || sum.Unchanged != 4 {
			t.Errorf("puts %q, summary %+v", sink.puts, sum)
		}
		if cs := sink.chunks["guide.md"]; len(cs) != 1 || cs[0].Text != "A new first paragraph." {
			t.Errorf("guide chunks = %+v", cs)
		}
	})

	t.Run("a deleted file is removed", func(t *testing.T) {
		sink.reset()
		delete(fsys, "notes.txt")
		sum, err := Sync(ctx, fsys, sink, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sink.removes, []string{"notes.txt"}) || sum.Removed != 1 || len(sink.puts) != 0 {
			t.Errorf("removes %q puts %q, summary %+v", sink.removes, sink.puts, sum)
		}
		if _, ok := sink.docs["notes.txt"]; ok {
			t.Error("notes.txt is still indexed")
		}
	})

	t.Run("a file that turned bad is removed and named", func(t *testing.T) {
		sink.reset()
		fsys["faq/returns.html"] = &fstest.MapFile{Data: []byte("\x00\x01binary")}
		sum, err := Sync(ctx, fsys, sink, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sink.removes, []string{"faq/returns.html"}) || sum.Removed != 1 {
			t.Errorf("removes %q, summary %+v", sink.removes, sum)
		}
		if !slices.ContainsFunc(sum.Skipped, func(s Skip) bool { return s.Path == "faq/returns.html" }) {
			t.Errorf("skips = %+v", sum.Skipped)
		}
	})

	t.Run("an unreadable file keeps its old version", func(t *testing.T) {
		sink.reset()
		sum, err := Sync(ctx, failingFS{fsys, "guide.md"}, sink, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.removes) != 0 || len(sink.puts) != 0 {
			t.Errorf("removes %q puts %q", sink.removes, sink.puts)
		}
		if _, ok := sink.docs["guide.md"]; !ok {
			t.Error("guide.md was dropped")
		}
		i := slices.IndexFunc(sum.Skipped, func(s Skip) bool { return s.Path == "guide.md" })
		if i < 0 || !strings.HasPrefix(sum.Skipped[i].Reason, "unreadable: ") {
			t.Errorf("skips = %+v", sum.Skipped)
		}
	})
}

// failingFS fails to open one file.
type failingFS struct {
	fs.FS
	bad string
}

func (f failingFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.FS.Open(name)
}

func TestSyncLimits(t *testing.T) {
	fsys := fstest.MapFS{
		"big.txt":   {Data: []byte(strings.Repeat("Big file. ", 200))},
		"small.txt": {Data: []byte("Small file.")},
	}
	sink := newMemSink()
	sum, err := Sync(context.Background(), fsys, sink, Options{MaxFileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Skipped) != 1 || sum.Skipped[0].Path != "big.txt" || sum.Skipped[0].Reason != "file too large (2.0 KiB, the limit is 1000 B)" {
		t.Errorf("skips = %+v", sum.Skipped)
	}
	if !slices.Equal(sink.sortedPaths(), []string{"small.txt"}) {
		t.Errorf("indexed %q", sink.sortedPaths())
	}
}

func TestSyncProgress(t *testing.T) {
	var got []Progress
	_, err := Sync(context.Background(), testFolder(t), newMemSink(), Options{
		Progress: func(p Progress) { got = append(got, p) }, // called from one goroutine
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("progress called %d times, want 9", len(got))
	}
	seen := map[string]bool{}
	for i, p := range got {
		if p.Done != i+1 || p.Total != 9 || p.Path == "" {
			t.Errorf("progress %d = %+v", i, p)
		}
		seen[p.Path] = true
	}
	if len(seen) != 9 {
		t.Errorf("progress named %d distinct files, want 9", len(seen))
	}
}

func TestSyncSinkFailure(t *testing.T) {
	sink := newMemSink()
	sink.failPut = "guide.md"
	sum, err := Sync(context.Background(), testFolder(t), sink, Options{Workers: 1})
	if err == nil {
		t.Fatal("Sync succeeded with a failing sink")
	}
	if !errors.Is(err, quarry.ErrUnavailable) || !strings.Contains(err.Error(), "guide.md") {
		t.Errorf("err = %v, want the sink's unavailable error naming the file", err)
	}
	if _, ok := sink.docs["guide.md"]; ok {
		t.Error("the failed document is recorded")
	}
	if sum.Added != len(sink.docs) {
		t.Errorf("summary says %d added, sink holds %d", sum.Added, len(sink.docs))
	}
	if len(sink.removes) != 0 {
		t.Errorf("removals ran after a failure: %q", sink.removes)
	}
}

func TestSyncCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := newMemSink()
	_, err := Sync(ctx, testFolder(t), sink, Options{})
	if quarry.ErrorCode(err) != quarry.CodeCanceled {
		t.Errorf("err = %v (code %q), want canceled", err, quarry.ErrorCode(err))
	}
	if len(sink.puts) != 0 {
		t.Errorf("puts after cancel: %q", sink.puts)
	}
}

func TestSyncBadInput(t *testing.T) {
	_, err := Sync(context.Background(), os.DirFS("/nonexistent/quarry/folder"), newMemSink(), Options{})
	if quarry.ErrorCode(err) != quarry.CodeNotFound {
		t.Errorf("missing folder: err = %v, want not found", err)
	}
	_, err = Sync(context.Background(), fstest.MapFS{}, newMemSink(), Options{Chunk: ChunkConfig{Size: 3}})
	if quarry.ErrorCode(err) != quarry.CodeInvalid {
		t.Errorf("bad chunk size: err = %v, want invalid", err)
	}
}

func TestSummaryString(t *testing.T) {
	s := Summary{Files: 3, Added: 1, Updated: 1, Unchanged: 0, Removed: 1, Chunks: 1, ChunksEmbedded: 1,
		Skipped:  []Skip{{"a.docx", "unsupported file type .docx", KindUnsupported}, {"b.pdf", "corrupt PDF: x", KindMalformed}},
		Duration: 1234567 * time.Microsecond}
	want := "Synced 3 files in 1.235s: 1 added, 1 updated, 0 unchanged, 2 skipped; 1 removed.\n" +
		"Wrote 1 chunk, embedded 1 chunk.\n" +
		"Skipped:\n" +
		"  malformed: 1\n" +
		"    b.pdf: corrupt PDF: x\n" +
		"  unsupported file type: 1\n" +
		"(--verbose lists every skipped file)\n"
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	var b strings.Builder
	if err := s.Report(&b, true); err != nil || !strings.Contains(b.String(), "  unsupported file type: 1\n    a.docx: unsupported file type .docx\n") {
		t.Errorf("verbose report =\n%s", b.String())
	}
}

// BenchmarkSync ingests a folder of 40 Markdown files (about 70 KB in
// all) into an in-memory sink: parsing, chunking and hashing in parallel.
func BenchmarkSync(b *testing.B) {
	fsys := fstest.MapFS{}
	size := 0
	for i := range 40 {
		var sb strings.Builder
		fmt.Fprintf(&sb, "# Document %d\n\n", i)
		for j := range 5 {
			fmt.Fprintf(&sb, "## Part %d\n\n%s\n\n", j, strings.Join(sentences(5, fmt.Sprint(i, j)), " "))
		}
		fsys[fmt.Sprintf("docs/doc%02d.md", i)] = &fstest.MapFile{Data: []byte(sb.String())}
		size += sb.Len()
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sync(context.Background(), fsys, newMemSink(), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
