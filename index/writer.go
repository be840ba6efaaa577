package index

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quarry-kb/quarry"
)

// Writer defaults.
const (
	DefaultBatchSize = 64
	DefaultSaveEvery = 32
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
	// Concurrency is the most EmbedPassages calls in flight; 0 means
	// GOMAXPROCS (at least 2). Remote embedders bound their own requests
	// too; the offline one computes on the caller's goroutine, so this is
	// what spreads it over the cores.
	Concurrency int
	SaveEvery   int // documents put or removed between manifest saves (at least an eighth of the manifest); 0 means 32
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
		conc:  cmpOr(cfg.Concurrency, max(2, runtime.GOMAXPROCS(0))),
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
// bounded concurrency), replaces the document's old chunks in both
// indexes with the new ones and records the document in the manifest.
// If embedding fails nothing has changed; if a later step fails the
// document is dropped from the manifest, so the next sync indexes it
// again from scratch.
func (w *Writer) Put(ctx context.Context, doc quarry.Document, chunks []quarry.Chunk) error {
	return w.PutBatch(ctx, []quarry.Document{doc}, [][]quarry.Chunk{chunks})
}

// PutBatch indexes many documents at once, docs[i] with chunks[i], as Put
// would each, but with one write to each index for the whole batch: the
// chunk texts of every document are embedded together (on all cores for
// an embedder that computes locally), then each index replaces the
// documents' old chunks with the new ones in a single write (an index
// that implements Replace, as bleveindex and memvec do, makes it atomic
// and crash-safe for the whole batch: one segment and one sync instead
// of two per document). If embedding fails nothing has changed; if a
// write fails, every document of the batch is dropped from the manifest,
// so the next sync indexes them again.
func (w *Writer) PutBatch(ctx context.Context, docs []quarry.Document, chunks [][]quarry.Chunk) error {
	if len(docs) != len(chunks) {
		return quarry.Errorf(quarry.CodeInvalid, "put batch: %d documents but %d chunk lists", len(docs), len(chunks))
	}
	if len(docs) == 0 {
		return nil
	}
	n := 0
	for i, doc := range docs {
		if doc.Path == "" || doc.ID == "" {
			return quarry.Errorf(quarry.CodeInvalid, "put document: path and id are required")
		}
		for _, c := range chunks[i] {
			if c.DocID != doc.ID {
				return quarry.Errorf(quarry.CodeInvalid, "put %s: chunk %s belongs to document %q, not %q", doc.Path, c.ID, c.DocID, doc.ID)
			}
		}
		n += len(chunks[i])
	}
	all := make([]quarry.Chunk, 0, n)
	texts := make([]string, 0, n)
	for _, cs := range chunks {
		for _, c := range cs {
			all = append(all, c)
			texts = append(texts, EmbedText(c))
		}
	}
	vecs, err := w.embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("put %s: %w", batchName(docs), err)
	}
	recs := make([]Record, len(all))
	for i, c := range all {
		recs[i] = Record{Chunk: c, Vector: vecs[i]}
	}
	ids := make([]string, 0, len(docs)+1)
	w.mu.Lock()
	for _, doc := range docs {
		ids = append(ids, doc.ID)
		if old, ok := w.man.Docs[doc.Path]; ok && old.DocID != doc.ID {
			ids = append(ids, old.DocID)
		}
	}
	w.mu.Unlock()
	if err := w.replace(ctx, ids, all, recs); err != nil {
		for _, doc := range docs {
			w.forget(doc.Path)
		}
		return fmt.Errorf("put %s: %w", batchName(docs), err)
	}
	now := time.Now().UTC()
	w.mu.Lock()
	for i, doc := range docs {
		w.man.Docs[doc.Path] = ManifestDoc{
			DocID: doc.ID, Path: doc.Path, Title: doc.Title, Type: doc.Type, Lang: doc.Lang,
			Hash: doc.Hash, Size: doc.Size, Chunks: len(chunks[i]), Updated: now,
		}
	}
	w.dirty = true
	w.mu.Unlock()
	return w.maybeSave(len(docs))
}

// batchName names a batch of documents in an error: its only path, or
// how many there are and the first path.
func batchName(docs []quarry.Document) string {
	if len(docs) == 1 {
		return docs[0].Path
	}
	return fmt.Sprintf("%d documents (%s, ...)", len(docs), docs[0].Path)
}

// Replacers are indexes that swap documents' chunks in one write;
// bleveindex and memvec are. Others get a delete, then an upsert.
type (
	keywordReplacer interface {
		Replace(ctx context.Context, docIDs []string, chunks []quarry.Chunk) error
	}
	vectorReplacer interface {
		Replace(ctx context.Context, docIDs []string, recs []Record) error
	}
)

// replace swaps documents' chunks in both indexes.
func (w *Writer) replace(ctx context.Context, docIDs []string, chunks []quarry.Chunk, recs []Record) error {
	if r, ok := w.kw.(keywordReplacer); ok {
		if err := r.Replace(ctx, docIDs, chunks); err != nil {
			return fmt.Errorf("keyword index: %w", err)
		}
	} else {
		if err := w.kw.DeleteDocs(ctx, docIDs...); err != nil {
			return fmt.Errorf("keyword index: delete old chunks: %w", err)
		}
		if len(chunks) > 0 {
			if err := w.kw.Upsert(ctx, chunks); err != nil {
				return fmt.Errorf("keyword index: %w", err)
			}
		}
	}
	if r, ok := w.vec.(vectorReplacer); ok {
		if err := r.Replace(ctx, docIDs, recs); err != nil {
			return fmt.Errorf("vector store: %w", err)
		}
		return nil
	}
	if err := w.vec.DeleteDocs(ctx, docIDs...); err != nil {
		return fmt.Errorf("vector store: delete old chunks: %w", err)
	}
	if len(recs) > 0 {
		if err := w.vec.Upsert(ctx, recs); err != nil {
			return fmt.Errorf("vector store: %w", err)
		}
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
	return w.maybeSave(1)
}

func (w *Writer) forget(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.man.Docs[path]; ok {
		delete(w.man.Docs, path)
		w.dirty = true
	}
}

// maybeSave saves the manifest after SaveEvery changes (n changes were
// just made), so that a crash in a long sync loses little work; in a
// manifest of more than 8·SaveEvery documents, after an eighth of its
// size in changes. Each save writes the whole manifest: at a fixed
// interval, a sync of N documents wrote O(N²) bytes (a seventh of the
// CPU of a 100k-document ingest); growing the interval with the size
// keeps it linear, and a crash costs at most an eighth of the work.
func (w *Writer) maybeSave(n int) error {
	w.mu.Lock()
	w.ops += n
	due := w.ops >= max(w.every, len(w.man.Docs)/8)
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
	w.ops = 0
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
