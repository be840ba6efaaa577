package index

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quarry-kb/quarry"
)

// Writer defaults.
const (
	DefaultBatchSize   = 64
	DefaultConcurrency = 2
	DefaultSaveEvery   = 32
)

// WriterConfig configures a Writer. Zero numeric fields mean defaults.
type WriterConfig struct {
	Keyword  KeywordIndex
	Vectors  VectorStore
	Embedder Embedder
	// ManifestPath is the manifest file of the index directory; "" keeps
	// the manifest in memory only (tests, throwaway indexes).
	ManifestPath string
	BatchSize    int // texts per EmbedPassages call; 0 means 64
	Concurrency  int // EmbedPassages calls in flight; 0 means 2
	SaveEvery    int // documents put or removed between manifest saves; 0 means 32
}

// Writer keeps a keyword index, a vector store and the manifest in step,
// one document at a time. It implements ingest.Sink (structurally: index
// does not import ingest).
//
// Methods are safe for concurrent use, but Put and Remove of the same
// path must not run at the same time.
type Writer struct {
	kw    KeywordIndex
	vec   VectorStore
	emb   Embedder
	space Space
	path  string
	batch int
	conc  int
	every int

	embedded atomic.Int64

	mu    sync.Mutex // guards man, dirty, ops
	man   *Manifest
	dirty bool
	ops   int

	saveMu sync.Mutex // serialises manifest saves
}

// NewWriter loads the manifest and checks that the embedder, the vector
// store and the existing index agree on the embedding space. A mismatch
// is quarry.ErrConflict: vectors of two embedders cannot be mixed, so
// the index must be rebuilt.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Keyword == nil || cfg.Vectors == nil || cfg.Embedder == nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "index writer needs a keyword index, a vector store and an embedder")
	}
	if cfg.BatchSize < 0 || cfg.Concurrency < 0 || cfg.SaveEvery < 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "index writer: negative batch size, concurrency or save interval")
	}
	w := &Writer{
		kw: cfg.Keyword, vec: cfg.Vectors, emb: cfg.Embedder,
		space: cfg.Embedder.Space(),
		path:  cfg.ManifestPath,
		batch: cmpOr(cfg.BatchSize, DefaultBatchSize),
		conc:  cmpOr(cfg.Concurrency, DefaultConcurrency),
		every: cmpOr(cfg.SaveEvery, DefaultSaveEvery),
		man:   NewManifest(),
	}
	if vs := cfg.Vectors.Space(); !vs.Equal(w.space) {
		return nil, quarry.Errorf(quarry.CodeConflict,
			"the vector store holds %s vectors but the embedder makes %s vectors: rebuild the index with one embedder",
			describe(vs), describe(w.space))
	}
	if w.path != "" {
		m, err := LoadManifest(w.path)
		if err != nil {
			return nil, err
		}
		w.man = m
	}
	if !w.man.Empty() && !w.man.Space.Equal(w.space) {
		return nil, quarry.Errorf(quarry.CodeConflict,
			"the index was built with %s vectors but the embedder makes %s vectors: a rebuild is needed (delete the index directory and sync again, or configure the original embedder)",
			describe(w.man.Space), describe(w.space))
	}
	w.man.Space = w.space
	return w, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func describe(s Space) string {
	kind := "dense"
	if s.Sparse {
		kind = "sparse"
	}
	return fmt.Sprintf("%q (%s, dim %d)", s.Embedder, kind, s.Dim)
}

// Space returns the embedding space the index is in.
func (w *Writer) Space() Space { return w.space }

// Hash returns the content hash recorded for path.
func (w *Writer) Hash(path string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.man.Docs[path]
	return d.Hash, ok
}

// Paths lists the recorded document paths, sorted.
func (w *Writer) Paths() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.man.Paths()
}

// Documents lists the recorded documents, sorted by path.
func (w *Writer) Documents() []ManifestDoc {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ManifestDoc, 0, len(w.man.Docs))
	for _, p := range w.man.Paths() {
		out = append(out, w.man.Docs[p])
	}
	return out
}

// EmbeddedChunks returns how many chunk texts this writer has embedded.
func (w *Writer) EmbeddedChunks() int64 { return w.embedded.Load() }

// Put indexes a document: it embeds the chunk texts (in batches, with
// bounded concurrency), deletes the document's old chunks from both
// indexes, upserts the new ones into both and records the document in
// the manifest. If embedding fails nothing has changed; if a later step
// fails the document is dropped from the manifest, so the next sync
// indexes it again from scratch.
func (w *Writer) Put(ctx context.Context, doc quarry.Document, chunks []quarry.Chunk) error {
	if doc.Path == "" || doc.ID == "" {
		return quarry.Errorf(quarry.CodeInvalid, "put document: path and id are required")
	}
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		if c.DocID != doc.ID {
			return quarry.Errorf(quarry.CodeInvalid, "put %s: chunk %s belongs to document %q, not %q", doc.Path, c.ID, c.DocID, doc.ID)
		}
		texts[i] = EmbedText(c)
	}
	vecs, err := w.embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("put %s: %w", doc.Path, err)
	}
	recs := make([]Record, len(chunks))
	for i, c := range chunks {
		recs[i] = Record{Chunk: c, Vector: vecs[i]}
	}
	if err := w.replace(ctx, doc.ID, chunks, recs); err != nil {
		w.forget(doc.Path)
		return fmt.Errorf("put %s: %w", doc.Path, err)
	}
	return w.record(doc.Path, ManifestDoc{
		DocID: doc.ID, Path: doc.Path, Title: doc.Title, Type: doc.Type, Lang: doc.Lang,
		Hash: doc.Hash, Size: doc.Size, Chunks: len(chunks), Updated: time.Now().UTC(),
	})
}

// replace swaps a document's chunks in both indexes.
func (w *Writer) replace(ctx context.Context, docID string, chunks []quarry.Chunk, recs []Record) error {
	if err := w.kw.DeleteDocs(ctx, docID); err != nil {
		return fmt.Errorf("keyword index: delete old chunks: %w", err)
	}
	if err := w.vec.DeleteDocs(ctx, docID); err != nil {
		return fmt.Errorf("vector store: delete old chunks: %w", err)
	}
	if len(chunks) == 0 {
		return nil
	}
	if err := w.kw.Upsert(ctx, chunks); err != nil {
		return fmt.Errorf("keyword index: %w", err)
	}
	if err := w.vec.Upsert(ctx, recs); err != nil {
		return fmt.Errorf("vector store: %w", err)
	}
	return nil
}

// embed embeds texts in batches, at most w.conc calls at a time, keeping
// the order.
func (w *Writer) embed(ctx context.Context, texts []string) ([]Vector, error) {
	out := make([]Vector, len(texts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.conc)
	for start := 0; start < len(texts); start += w.batch {
		end := min(start+w.batch, len(texts))
		g.Go(func() error {
			vs, err := w.emb.EmbedPassages(gctx, texts[start:end])
			if err != nil {
				return fmt.Errorf("embed chunks %d-%d: %w", start, end-1, err)
			}
			if len(vs) != end-start {
				return quarry.Errorf(quarry.CodeInternal, "embedder %q returned %d vectors for %d texts", w.space.Embedder, len(vs), end-start)
			}
			copy(out[start:end], vs)
			w.embedded.Add(int64(len(vs)))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Remove drops a document from both indexes and the manifest. An unknown
// path is not an error.
func (w *Writer) Remove(ctx context.Context, path string) error {
	w.mu.Lock()
	d, ok := w.man.Docs[path]
	w.mu.Unlock()
	if !ok {
		return nil
	}
	if err := w.kw.DeleteDocs(ctx, d.DocID); err != nil {
		return fmt.Errorf("remove %s: keyword index: %w", path, err)
	}
	if err := w.vec.DeleteDocs(ctx, d.DocID); err != nil {
		return fmt.Errorf("remove %s: vector store: %w", path, err)
	}
	w.forget(path)
	return w.maybeSave()
}

func (w *Writer) record(path string, d ManifestDoc) error {
	w.mu.Lock()
	w.man.Docs[path] = d
	w.dirty = true
	w.mu.Unlock()
	return w.maybeSave()
}

func (w *Writer) forget(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.man.Docs[path]; ok {
		delete(w.man.Docs, path)
		w.dirty = true
	}
}

// maybeSave saves the manifest every SaveEvery changes, so that a crash
// in a long sync loses little work.
func (w *Writer) maybeSave() error {
	w.mu.Lock()
	w.ops++
	due := w.ops%w.every == 0
	w.mu.Unlock()
	if !due {
		return nil
	}
	return w.Commit()
}

// Commit saves the manifest if it changed. Call it when a sync ends.
func (w *Writer) Commit() error {
	if w.path == "" {
		return nil
	}
	w.saveMu.Lock()
	defer w.saveMu.Unlock()
	w.mu.Lock()
	if !w.dirty {
		w.mu.Unlock()
		return nil
	}
	snap := w.man.clone()
	w.dirty = false
	w.mu.Unlock()
	snap.Updated = time.Now().UTC()
	if err := snap.Save(w.path); err != nil {
		w.mu.Lock()
		w.dirty = true
		w.mu.Unlock()
		return err
	}
	return nil
}

// EmbedText is the text of a chunk that is embedded: its document title
// and heading path, then its text. Chunks are cut from their context, and
// a passage under "Volume discounts" is about volume discounts even when
// its sentences don't say so; putting the headings in front lets the
// vector leg see that, as the keyword index does with its title and
// heading fields.
func EmbedText(c quarry.Chunk) string {
	var b strings.Builder
	if c.Title != "" {
		b.WriteString(c.Title)
		b.WriteString("\n")
	}
	if c.Heading != "" && c.Heading != c.Title {
		b.WriteString(strings.TrimPrefix(c.Heading, c.Title+" > "))
		b.WriteString("\n")
	}
	b.WriteString(c.Text)
	return b.String()
}
