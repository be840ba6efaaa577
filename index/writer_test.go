package index_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/ingest"
)

// The writer satisfies ingest.Sink (and reports embedding counts)
// without index importing ingest.
var (
	_ ingest.Sink         = (*index.Writer)(nil)
	_ ingest.EmbedCounter = (*index.Writer)(nil)
)

// fakeKeyword is an in-memory KeywordIndex.
type fakeKeyword struct {
	mu        sync.Mutex
	chunks    map[string]quarry.Chunk
	failWrite error
}

func newFakeKeyword() *fakeKeyword { return &fakeKeyword{chunks: map[string]quarry.Chunk{}} }

func (k *fakeKeyword) Upsert(ctx context.Context, cs []quarry.Chunk) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failWrite != nil {
		return k.failWrite
	}
	for _, c := range cs {
		k.chunks[c.ID] = c
	}
	return nil
}

func (k *fakeKeyword) DeleteDocs(ctx context.Context, ids ...string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, c := range k.chunks {
		if slices.Contains(ids, c.DocID) {
			delete(k.chunks, id)
		}
	}
	return nil
}

func (k *fakeKeyword) Search(ctx context.Context, q string, n int) ([]index.Hit, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var hits []index.Hit
	for _, c := range k.chunks {
		if strings.Contains(strings.ToLower(c.Text), strings.ToLower(q)) {
			hits = append(hits, index.Hit{Chunk: c, Score: 1})
		}
	}
	return hits, nil
}

func (k *fakeKeyword) Count(ctx context.Context) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.chunks), nil
}

func (k *fakeKeyword) Close() error { return nil }

// docChunks returns the chunk ids of a document, sorted.
func (k *fakeKeyword) docChunks(docID string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var ids []string
	for id, c := range k.chunks {
		if c.DocID == docID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// fakeVectors is an in-memory VectorStore for one space.
type fakeVectors struct {
	mu        sync.Mutex
	space     index.Space
	recs      map[string]index.Record
	failWrite error
}

func newFakeVectors(s index.Space) *fakeVectors {
	return &fakeVectors{space: s, recs: map[string]index.Record{}}
}

func (v *fakeVectors) Space() index.Space { return v.space }

func (v *fakeVectors) Upsert(ctx context.Context, recs []index.Record) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failWrite != nil {
		return v.failWrite
	}
	for _, r := range recs {
		if len(r.Vector.Dense) != v.space.Dim {
			return quarry.Errorf(quarry.CodeConflict, "vector of dim %d in a dim %d store", len(r.Vector.Dense), v.space.Dim)
		}
	}
	for _, r := range recs {
		v.recs[r.Chunk.ID] = r
	}
	return nil
}

func (v *fakeVectors) DeleteDocs(ctx context.Context, ids ...string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, r := range v.recs {
		if slices.Contains(ids, r.Chunk.DocID) {
			delete(v.recs, id)
		}
	}
	return nil
}

func (v *fakeVectors) Search(ctx context.Context, q index.Vector, k int, f index.Filter) ([]index.Hit, error) {
	return nil, nil
}

func (v *fakeVectors) Count(ctx context.Context) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.recs), nil
}

func (v *fakeVectors) Close() error { return nil }

func (v *fakeVectors) docChunks(docID string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var ids []string
	for id, r := range v.recs {
		if r.Chunk.DocID == docID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// fakeEmbedder makes deterministic dense vectors from text hashes and
// records its calls.
type fakeEmbedder struct {
	space    index.Space
	mu       sync.Mutex
	batches  []int    // batch sizes, in call order
	texts    []string // every text embedded
	inflight atomic.Int32
	maxIn    atomic.Int32
	fail     error
	short    bool // return one vector too few
}

func newFakeEmbedder(name string, dim int) *fakeEmbedder {
	return &fakeEmbedder{space: index.Space{Embedder: name, Dim: dim}}
}

func (e *fakeEmbedder) Space() index.Space { return e.space }

func vectorFor(text string, dim int) index.Vector {
	sum := sha256.Sum256([]byte(text))
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(binary.BigEndian.Uint16(sum[(2*i)%32:])) / 65535
	}
	return index.Vector{Dense: v}
}

func (e *fakeEmbedder) EmbedPassages(ctx context.Context, texts []string) ([]index.Vector, error) {
	n := e.inflight.Add(1)
	defer e.inflight.Add(-1)
	for {
		m := e.maxIn.Load()
		if n <= m || e.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond) // let calls overlap if the writer allows it
	e.mu.Lock()
	e.batches = append(e.batches, len(texts))
	e.texts = append(e.texts, texts...)
	e.mu.Unlock()
	if e.fail != nil {
		return nil, e.fail
	}
	out := make([]index.Vector, 0, len(texts))
	for _, t := range texts {
		out = append(out, vectorFor(t, e.space.Dim))
	}
	if e.short {
		out = out[:len(out)-1]
	}
	return out, nil
}

func (e *fakeEmbedder) EmbedQuery(ctx context.Context, text string) (index.Vector, error) {
	return vectorFor(text, e.space.Dim), nil
}

func (e *fakeEmbedder) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches, e.texts = nil, nil
}

type rig struct {
	kw   *fakeKeyword
	vec  *fakeVectors
	emb  *fakeEmbedder
	path string
}

func newRig(t *testing.T) *rig {
	emb := newFakeEmbedder("fake-v1", 8)
	return &rig{kw: newFakeKeyword(), vec: newFakeVectors(emb.Space()), emb: emb,
		path: filepath.Join(t.TempDir(), "manifest.json")}
}

func (r *rig) writer(t *testing.T, cfg index.WriterConfig) *index.Writer {
	t.Helper()
	cfg.Keyword, cfg.Vectors, cfg.Embedder, cfg.ManifestPath = r.kw, r.vec, r.emb, r.path
	w, err := index.NewWriter(cfg)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	return w
}

// doc makes a document with n chunks.
func doc(path, hash string, n int) (quarry.Document, []quarry.Chunk) {
	d := quarry.Document{ID: ingest.DocID(path), Path: path, Title: "T " + path, Type: "text", Lang: "en", Hash: hash}
	cs := make([]quarry.Chunk, n)
	for i := range cs {
		cs[i] = quarry.Chunk{ID: ingest.ChunkID(d.ID, i), DocID: d.ID, Path: path, Ordinal: i,
			Text: fmt.Sprintf("%s chunk %d version %s", path, i, hash)}
	}
	return d, cs
}

func TestNewWriterChecks(t *testing.T) {
	r := newRig(t)
	if _, err := index.NewWriter(index.WriterConfig{Keyword: r.kw, Embedder: r.emb}); quarry.ErrorCode(err) != quarry.CodeInvalid {
		t.Errorf("missing vector store: err = %v, want invalid", err)
	}
	other := newFakeEmbedder("other-model", 16)
	_, err := index.NewWriter(index.WriterConfig{Keyword: r.kw, Vectors: r.vec, Embedder: other})
	if !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("store/embedder mismatch: err = %v, want conflict", err)
	}

	// An index built with one embedder refuses another.
	w := r.writer(t, index.WriterConfig{})
	d, cs := doc("a.txt", "h1", 2)
	if err := w.Put(context.Background(), d, cs); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = index.NewWriter(index.WriterConfig{Keyword: r.kw, Vectors: newFakeVectors(other.Space()), Embedder: other, ManifestPath: r.path})
	if !errors.Is(err, quarry.ErrConflict) || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("manifest/embedder mismatch: err = %v, want a conflict asking for a rebuild", err)
	}
	// An empty index takes any embedder.
	fresh := filepath.Join(t.TempDir(), "m.json")
	if _, err := index.NewWriter(index.WriterConfig{Keyword: r.kw, Vectors: newFakeVectors(other.Space()), Embedder: other, ManifestPath: fresh}); err != nil {
		t.Errorf("empty index: %v", err)
	}
}

func TestWriterPutBatchesAndIndexesBoth(t *testing.T) {
	r := newRig(t)
	w := r.writer(t, index.WriterConfig{BatchSize: 64, Concurrency: 2})
	d, cs := doc("big.txt", "h1", 150)
	if err := w.Put(context.Background(), d, cs); err != nil {
		t.Fatal(err)
	}
	sizes := slices.Clone(r.emb.batches)
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{22, 64, 64}) {
		t.Errorf("batch sizes = %v, want 64, 64, 22", r.emb.batches)
	}
	if m := r.emb.maxIn.Load(); m > 2 {
		t.Errorf("%d embedding calls in flight, limit 2", m)
	}
	if len(r.kw.docChunks(d.ID)) != 150 || len(r.vec.docChunks(d.ID)) != 150 {
		t.Fatalf("keyword %d, vectors %d chunks; want 150 each", len(r.kw.docChunks(d.ID)), len(r.vec.docChunks(d.ID)))
	}
	// Each chunk got the vector of its own text, whatever order the
	// batches finished in.
	for _, c := range cs {
		if got := r.vec.recs[c.ID].Vector.Dense; !slices.Equal(got, vectorFor(index.EmbedText(c), 8).Dense) {
			t.Fatalf("chunk %s has another chunk's vector", c.ID)
		}
	}
	if h, ok := w.Hash("big.txt"); !ok || h != "h1" {
		t.Errorf("Hash = %q, %v", h, ok)
	}
	if w.EmbeddedChunks() != 150 {
		t.Errorf("EmbeddedChunks = %d", w.EmbeddedChunks())
	}
	docs := w.Documents()
	if len(docs) != 1 || docs[0].Chunks != 150 || docs[0].DocID != d.ID || docs[0].Title != d.Title {
		t.Errorf("Documents = %+v", docs)
	}
}

func TestWriterPutReplacesOldChunks(t *testing.T) {
	r := newRig(t)
	w := r.writer(t, index.WriterConfig{})
	ctx := context.Background()
	d, cs := doc("a.txt", "h1", 5)
	if err := w.Put(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	other, ocs := doc("b.txt", "h1", 3)
	if err := w.Put(ctx, other, ocs); err != nil {
		t.Fatal(err)
	}
	d2, cs2 := doc("a.txt", "h2", 2)
	if err := w.Put(ctx, d2, cs2); err != nil {
		t.Fatal(err)
	}
	want := []string{d.ID + "#0", d.ID + "#1"}
	if got := r.kw.docChunks(d.ID); !slices.Equal(got, want) {
		t.Errorf("keyword chunks = %q, want %q", got, want)
	}
	if got := r.vec.docChunks(d.ID); !slices.Equal(got, want) {
		t.Errorf("vector chunks = %q, want %q", got, want)
	}
	if !strings.HasSuffix(r.kw.chunks[d.ID+"#0"].Text, "version h2") {
		t.Errorf("chunk text not replaced: %q", r.kw.chunks[d.ID+"#0"].Text)
	}
	if len(r.kw.docChunks(other.ID)) != 3 || len(r.vec.docChunks(other.ID)) != 3 {
		t.Error("another document's chunks were touched")
	}
}

func TestWriterRemove(t *testing.T) {
	r := newRig(t)
	w := r.writer(t, index.WriterConfig{})
	ctx := context.Background()
	d, cs := doc("a.txt", "h1", 4)
	if err := w.Put(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove(ctx, "a.txt"); err != nil {
		t.Fatal(err)
	}
	if len(r.kw.chunks) != 0 || len(r.vec.recs) != 0 {
		t.Errorf("left %d keyword and %d vector chunks", len(r.kw.chunks), len(r.vec.recs))
	}
	if _, ok := w.Hash("a.txt"); ok || len(w.Paths()) != 0 {
		t.Error("manifest still lists a.txt")
	}
	if err := w.Remove(ctx, "never-seen.txt"); err != nil {
		t.Errorf("removing an unknown path: %v", err)
	}
}

func TestWriterFailures(t *testing.T) {
	ctx := context.Background()
	down := quarry.Errorf(quarry.CodeUnavailable, "backend down")

	t.Run("embedding fails: old version intact", func(t *testing.T) {
		r := newRig(t)
		w := r.writer(t, index.WriterConfig{})
		d, cs := doc("a.txt", "h1", 3)
		if err := w.Put(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
		r.emb.fail = down
		d2, cs2 := doc("a.txt", "h2", 1)
		if err := w.Put(ctx, d2, cs2); !errors.Is(err, quarry.ErrUnavailable) {
			t.Fatalf("err = %v, want the embedder's error", err)
		}
		if h, _ := w.Hash("a.txt"); h != "h1" || len(r.kw.docChunks(d.ID)) != 3 || len(r.vec.docChunks(d.ID)) != 3 {
			t.Errorf("old version damaged: hash %q, %d/%d chunks", h, len(r.kw.docChunks(d.ID)), len(r.vec.docChunks(d.ID)))
		}
	})

	t.Run("upsert fails: document forgotten so the next sync retries", func(t *testing.T) {
		r := newRig(t)
		w := r.writer(t, index.WriterConfig{})
		d, cs := doc("a.txt", "h1", 3)
		if err := w.Put(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
		r.vec.failWrite = down
		d2, cs2 := doc("a.txt", "h2", 2)
		if err := w.Put(ctx, d2, cs2); !errors.Is(err, quarry.ErrUnavailable) {
			t.Fatalf("err = %v, want the store's error", err)
		}
		if _, ok := w.Hash("a.txt"); ok {
			t.Error("a half-written document is still in the manifest")
		}
	})

	t.Run("embedder returns too few vectors", func(t *testing.T) {
		r := newRig(t)
		r.emb.short = true
		w := r.writer(t, index.WriterConfig{})
		d, cs := doc("a.txt", "h1", 3)
		if err := w.Put(ctx, d, cs); quarry.ErrorCode(err) != quarry.CodeInternal {
			t.Errorf("err = %v, want internal", err)
		}
		if len(r.kw.chunks) != 0 {
			t.Error("chunks written without vectors")
		}
	})

	t.Run("chunk of another document", func(t *testing.T) {
		r := newRig(t)
		w := r.writer(t, index.WriterConfig{})
		d, cs := doc("a.txt", "h1", 2)
		cs[1].DocID = "someone-else"
		if err := w.Put(ctx, d, cs); quarry.ErrorCode(err) != quarry.CodeInvalid {
			t.Errorf("err = %v, want invalid", err)
		}
	})
}

func TestWriterSavesManifest(t *testing.T) {
	r := newRig(t)
	w := r.writer(t, index.WriterConfig{SaveEvery: 3})
	ctx := context.Background()
	for i := range 3 {
		d, cs := doc(fmt.Sprintf("f%d.txt", i), "h", 1)
		if err := w.Put(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
	}
	// Saved after every third change, without Commit.
	m, err := index.LoadManifest(r.path)
	if err != nil || len(m.Docs) != 3 {
		t.Fatalf("periodic save: %d docs, %v", len(m.Docs), err)
	}
	d, cs := doc("f3.txt", "h", 1)
	if err := w.Put(ctx, d, cs); err != nil {
		t.Fatal(err)
	}
	if m, _ := index.LoadManifest(r.path); len(m.Docs) != 3 {
		t.Errorf("saved before the interval: %d docs", len(m.Docs))
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	m, _ = index.LoadManifest(r.path)
	if len(m.Docs) != 4 || !m.Space.Equal(r.emb.Space()) || m.Docs["f3.txt"].DocID != d.ID {
		t.Errorf("after Commit: %+v", m)
	}
}

// In a big manifest the interval grows with its size (an eighth), so a
// long sync does not rewrite the whole manifest every few documents,
// and the saved manifest never lags by more than that.
func TestWriterSaveIntervalGrows(t *testing.T) {
	r := newRig(t)
	w := r.writer(t, index.WriterConfig{SaveEvery: 2})
	ctx := context.Background()
	saves, last := 0, 0
	for i := range 96 {
		d, cs := doc(fmt.Sprintf("f%03d.txt", i), "h", 1)
		if err := w.Put(ctx, d, cs); err != nil {
			t.Fatal(err)
		}
		m, err := index.LoadManifest(r.path)
		if err != nil {
			continue // not saved yet
		}
		if n := len(m.Docs); n != last {
			saves, last = saves+1, n
		}
		if lag := i + 1 - last; lag >= max(2, (i+1)/8+1) {
			t.Fatalf("after %d documents the saved manifest holds %d", i+1, last)
		}
	}
	if saves < 10 || saves >= 40 {
		t.Errorf("%d saves for 96 documents, want fewer than the 48 of a fixed interval of 2, and more than 10", saves)
	}
}

// The end-to-end tests run ingest.Sync into a Writer over the fakes.

func kbFolder() fstest.MapFS {
	return fstest.MapFS{
		"returns.md":   {Data: []byte("# Returns\n\nYou can return items within 30 days. Keep the receipt.\n\n## Refunds\n\nRefunds take five days.\n")},
		"shipping.txt": {Data: []byte("Shipping\n\nWe ship to every province. Delivery takes two days.\n")},
		"zh/faq.html":  {Data: []byte("<html><head><title>常见问题</title></head><body><h1>退款</h1><p>退款在五个工作日内到账。</p></body></html>")},
	}
}

func syncOnce(t *testing.T, r *rig, fsys fstest.MapFS) ingest.Summary {
	t.Helper()
	w := r.writer(t, index.WriterConfig{}) // a fresh writer each run, as a new process would make
	sum, err := ingest.Sync(context.Background(), fsys, w, ingest.Options{})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return sum
}

func TestSyncThroughWriter(t *testing.T) {
	r := newRig(t)
	fsys := kbFolder()

	first := syncOnce(t, r, fsys)
	if first.Added != 3 || first.ChunksEmbedded != first.Chunks || first.Chunks != len(r.kw.chunks) || len(r.kw.chunks) != len(r.vec.recs) {
		t.Fatalf("first run: %+v; keyword %d, vectors %d", first, len(r.kw.chunks), len(r.vec.recs))
	}
	hits, _ := r.kw.Search(context.Background(), "receipt", 5)
	if len(hits) != 1 || hits[0].Chunk.Path != "returns.md" || hits[0].Chunk.Heading != "Returns" {
		t.Errorf("search for receipt: %+v", hits)
	}

	t.Run("second run embeds nothing", func(t *testing.T) {
		r.emb.reset()
		sum := syncOnce(t, r, fsys)
		if len(r.emb.texts) != 0 || sum.ChunksEmbedded != 0 || sum.Unchanged != 3 {
			t.Errorf("embedded %d texts; summary %+v", len(r.emb.texts), sum)
		}
		if !strings.Contains(sum.String(), "embedded 0 chunks") {
			t.Errorf("summary:\n%s", sum)
		}
	})

	t.Run("editing one file re-indexes only that file", func(t *testing.T) {
		r.emb.reset()
		shippingID := ingest.DocID("shipping.txt")
		before := r.kw.docChunks(ingest.DocID("returns.md"))
		fsys["shipping.txt"] = &fstest.MapFile{Data: []byte("Shipping\n\nWe now ship abroad too.\n")}
		sum := syncOnce(t, r, fsys)
		if sum.Updated != 1 || sum.Unchanged != 2 {
			t.Errorf("summary %+v", sum)
		}
		ids := r.kw.docChunks(shippingID)
		if len(ids) != 1 {
			t.Fatalf("keyword chunks of the edited file: %q", ids)
		}
		if edited := r.kw.chunks[ids[0]]; len(r.emb.texts) != 1 || r.emb.texts[0] != index.EmbedText(edited) {
			t.Errorf("embedded %q, want only the edited file's chunk %q", r.emb.texts, index.EmbedText(edited))
		}
		if r.kw.chunks[ids[0]].Text != "We now ship abroad too." {
			t.Errorf("keyword chunk of the edited file: %+v", r.kw.chunks[ids[0]])
		}
		if ids := r.vec.docChunks(shippingID); len(ids) != 1 {
			t.Errorf("vector chunks of the edited file: %q", ids)
		}
		if after := r.kw.docChunks(ingest.DocID("returns.md")); !slices.Equal(before, after) {
			t.Error("an unchanged file was re-indexed")
		}
	})

	t.Run("deleting a file removes its chunks from both indexes", func(t *testing.T) {
		delete(fsys, "zh/faq.html")
		sum := syncOnce(t, r, fsys)
		id := ingest.DocID("zh/faq.html")
		if sum.Removed != 1 || len(r.kw.docChunks(id)) != 0 || len(r.vec.docChunks(id)) != 0 {
			t.Errorf("summary %+v; keyword %q vectors %q", sum, r.kw.docChunks(id), r.vec.docChunks(id))
		}
		m, _ := index.LoadManifest(r.path)
		if _, ok := m.Docs["zh/faq.html"]; ok || len(m.Docs) != 2 {
			t.Errorf("manifest docs = %v", m.Paths())
		}
	})
}

func TestSyncThroughWriterWithBadFiles(t *testing.T) {
	r := newRig(t)
	fsys := kbFolder()
	fsys["scan.pdf"] = &fstest.MapFile{Data: []byte("%PDF-1.4\n1 0 obj garbage\nstartxref\n999\n%%EOF\n")}
	fsys["photo.txt"] = &fstest.MapFile{Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")}
	fsys["todo.md"] = &fstest.MapFile{Data: nil}
	sum := syncOnce(t, r, fsys)
	if sum.Added != 3 || sum.Files != 6 {
		t.Errorf("summary %+v", sum)
	}
	for _, p := range []string{"returns.md", "shipping.txt", "zh/faq.html"} {
		if len(r.kw.docChunks(ingest.DocID(p))) == 0 || len(r.vec.docChunks(ingest.DocID(p))) == 0 {
			t.Errorf("good file %s not indexed", p)
		}
	}
	text := sum.String()
	for _, want := range []string{
		"  photo.txt: binary content in a text file",
		"  scan.pdf: corrupt PDF: ",
		"  todo.md: empty file",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
}

func TestEmbedText(t *testing.T) {
	tests := []struct {
		name string
		c    quarry.Chunk
		want string
	}{
		{"text only", quarry.Chunk{Text: "body"}, "body"},
		{"title and heading", quarry.Chunk{Title: "Guide", Heading: "Install > Linux", Text: "body"}, "Guide\nInstall > Linux\nbody"},
		{"heading repeats the title", quarry.Chunk{Title: "Guide", Heading: "Guide > Install", Text: "body"}, "Guide\nInstall\nbody"},
		{"heading is the title", quarry.Chunk{Title: "Guide", Heading: "Guide", Text: "body"}, "Guide\nbody"},
	}
	for _, tt := range tests {
		if got := index.EmbedText(tt.c); got != tt.want {
			t.Errorf("%s: EmbedText = %q, want %q", tt.name, got, tt.want)
		}
	}
}
