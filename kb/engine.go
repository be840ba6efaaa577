package kb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/retrieve"
)

// Keyword is the keyword index an engine needs: the index contract, and
// the knowledge base's vocabulary for the offline answerer.
type Keyword interface {
	index.KeywordIndex
	generate.Vocabulary
}

// EngineConfig holds the settings and factories that shape an engine.
type EngineConfig struct {
	Retrieve retrieve.Config
	Answer   generate.Config
	Service  generate.ServiceConfig
	// OpenKeyword opens (creating it if needed) the keyword index in dir.
	// Required.
	OpenKeyword func(dir string) (Keyword, error)
	// NewEmbed returns the embedder. Required.
	NewEmbed func() (index.Embedder, error)
	// VectorsFor returns a backend for the vectors a generation of
	// knowledge base kb recorded (vectors.json). Required.
	VectorsFor func(kb string, rec VectorsRecord) (VectorBackend, error)
	// Vectors, when set, is the backend every generation is opened
	// through (its kind must match the generation's record); nil means
	// VectorsFor the generation's record.
	Vectors VectorBackend
	// NewAnswerer returns the answerer (default: the offline extractive
	// one over the keyword index's vocabulary).
	NewAnswerer func() (generate.Answerer, error)
	// Rewriter makes follow-up questions standalone (default heuristic);
	// NoRewrite turns rewriting off.
	Rewriter  generate.Rewriter
	NoRewrite bool
	// WrapVectors, when set (by tests), wraps every vector store opened.
	WrapVectors func(index.VectorStore) index.VectorStore

	// slots bounds the searches (and offline answers) running at once,
	// shared by the engines of a Manager (see Config.MaxConcurrent).
	slots chan struct{}

	// ReadOnly opens engines for answering only, so that a server and
	// command-line readers share a generation: the keyword index through
	// OpenKeywordReadOnly, the vectors through a backend's OpenReadOnly
	// when it has one. Manager.Open and serving set it; builds do not.
	ReadOnly bool
	// OpenKeywordReadOnly opens an existing keyword index read-only
	// (nil: OpenKeyword).
	OpenKeywordReadOnly func(dir string) (Keyword, error)
}

// ReadOnlyOpener is a VectorBackend that can open a generation's
// vectors for reading only (see EngineConfig.ReadOnly).
type ReadOnlyOpener interface {
	OpenReadOnly(ctx context.Context, g, dir string, space index.Space) (index.VectorStore, error)
}

func (c EngineConfig) readOnly() EngineConfig {
	c.ReadOnly = true
	return c
}

// Embedder returns a new embedder.
func (c EngineConfig) Embedder() (index.Embedder, error) {
	if c.NewEmbed == nil {
		return nil, quarry.Errorf(quarry.CodeInternal, "kb: EngineConfig.NewEmbed is not set")
	}
	return c.NewEmbed()
}

func (c EngineConfig) vectorsFor(kb string, rec VectorsRecord) (VectorBackend, error) {
	if c.VectorsFor == nil {
		return nil, quarry.Errorf(quarry.CodeInternal, "kb: EngineConfig.VectorsFor is not set")
	}
	return c.VectorsFor(kb, rec)
}

// openVectors opens generation g's vector store through the configured
// backend, or the one the generation recorded.
func (c EngineConfig) openVectors(ctx context.Context, kb, g, dir string, space index.Space) (vs index.VectorStore, kind string, err error) {
	rec, err := ReadVectorsRecord(dir)
	if err != nil {
		return nil, "", err
	}
	b := c.Vectors
	if b == nil {
		nb, err := c.vectorsFor(kb, rec)
		if err != nil {
			return nil, "", err
		}
		defer nb.Close()
		b = nb
	} else if err := CheckRecordKind(g, rec, b.Kind()); err != nil {
		return nil, "", err
	}
	open := b.Open
	if ro, ok := b.(ReadOnlyOpener); ok && c.ReadOnly {
		open = ro.OpenReadOnly
	}
	if vs, err = open(ctx, g, dir, space); err != nil {
		return nil, "", err
	}
	if c.WrapVectors != nil {
		vs = c.WrapVectors(vs)
	}
	return vs, b.Kind(), nil
}

// answerer returns the configured answerer: the language model's, or
// the offline extractive one.
func (c EngineConfig) answerer(vocab generate.Vocabulary) (generate.Answerer, error) {
	if c.NewAnswerer != nil {
		return c.NewAnswerer()
	}
	cfg := c.Answer
	if cfg.Vocabulary == nil {
		cfg.Vocabulary = vocab // the keyword index knows the knowledge base's words
	}
	return generate.NewExtractive(cfg), nil
}

// asker wraps svc for conversations: follow-up questions are rewritten
// into standalone ones before retrieval, unless rewriting is off (the
// service then answers the question on its own and says so).
func (c EngineConfig) asker(svc *generate.Service) generate.Asker {
	if c.NoRewrite {
		return svc
	}
	rw := c.Rewriter
	if rw == nil {
		rw = generate.HeuristicRewriter{}
	}
	return generate.Conversation{Asker: svc, Rewriter: rw}
}

// Engine is one open generation of a knowledge base: both indexes, the
// embedder, and the retriever and answering service built on them.
// Every request is served by exactly one engine, so keyword and vector
// results always come from the same generation.
type Engine struct {
	kb     string
	gen    string
	dir    string
	store  string // vector store kind
	kw     Keyword
	vs     index.VectorStore
	emb    index.Embedder
	ret    *retrieve.Retriever
	svc    *generate.Service
	ask    generate.Asker // svc, made multi-turn
	header index.ManifestHeader
	// manifest is loaded on first use (eval): serving needs only the
	// header, and the whole manifest is ~340 MB of heap at 1M documents.
	manifestOnce sync.Once
	manifest     *index.Manifest
	manifestErr  error
	slots        chan struct{} // nil: unbounded
	// boundAsk: answers take a slot too (the offline answerer works on
	// the CPU; a language model's answer mostly waits, and does not).
	boundAsk bool

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to 0
	inflight int
	closing  bool
	closeMu  sync.Once
	closeErr error
	closed   chan struct{}          // closed once Close has returned
	next     atomic.Pointer[Engine] // the engine that replaced this one
}

// OpenEngine opens generation genName of knowledge base kb, whose
// directory is dir.
func OpenEngine(ctx context.Context, kb, genName, dir string, cfg EngineConfig) (*Engine, error) {
	e := &Engine{kb: kb, gen: genName, dir: dir, closed: make(chan struct{}), slots: cfg.slots, boundAsk: cfg.NewAnswerer == nil}
	e.idle = sync.NewCond(&e.mu)
	var err error
	if e.emb, err = cfg.Embedder(); err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	if e.header, err = index.ReadManifestHeader(filepath.Join(dir, ManifestFile)); err != nil {
		return nil, err
	}
	if !e.header.Empty && !e.header.Space.Equal(e.emb.Space()) {
		return nil, quarry.Errorf(quarry.CodeConflict,
			"the index was built with embedder %q (dim %d) but %q (dim %d) is configured; rebuild the index (quarry reindex) to change embedders",
			e.header.Space.Embedder, e.header.Space.Dim, e.emb.Space().Embedder, e.emb.Space().Dim)
	}
	if cfg.OpenKeyword == nil {
		return nil, quarry.Errorf(quarry.CodeInternal, "kb: EngineConfig.OpenKeyword is not set")
	}
	openKeyword := cfg.OpenKeyword
	if cfg.ReadOnly && cfg.OpenKeywordReadOnly != nil {
		openKeyword = cfg.OpenKeywordReadOnly
	}
	if e.kw, err = openKeyword(filepath.Join(dir, KeywordDir)); err != nil {
		return nil, fmt.Errorf("keyword index: %w", err)
	}
	if e.vs, e.store, err = cfg.openVectors(ctx, kb, genName, dir, e.emb.Space()); err != nil {
		e.kw.Close()
		return nil, fmt.Errorf("vector store: %w", err)
	}
	e.ret = retrieve.New(cfg.Retrieve, e.kw, e.vs, e.emb)
	ans, err := cfg.answerer(e.kw)
	if err != nil {
		e.kw.Close()
		e.vs.Close()
		return nil, fmt.Errorf("answerer: %w", err)
	}
	e.svc = generate.NewService(e.ret, ans, cfg.Service)
	e.ask = cfg.asker(e.svc)
	return e, nil
}

// KB names the engine's knowledge base.
func (e *Engine) KB() string { return e.kb }

// Gen names the engine's generation.
func (e *Engine) Gen() string { return e.gen }

// Empty reports whether the generation holds no document.
func (e *Engine) Empty() bool { return e.header.Empty }

// Chunks returns the number of chunks the generation's keyword index
// holds.
func (e *Engine) Chunks(ctx context.Context) (int, error) { return e.kw.Count(ctx) }

// Manifest lists what the generation holds, document by document. It is
// read from disk on the first call and then kept.
func (e *Engine) Manifest() (*index.Manifest, error) {
	e.manifestOnce.Do(func() {
		path := filepath.Join(e.dir, ManifestFile)
		e.manifest, e.manifestErr = index.LoadManifest(path)
		if e.manifestErr == nil && e.manifest.Empty() && !e.header.Empty {
			// LoadManifest takes a missing file for an empty one; but this
			// generation had documents when it opened.
			e.manifest, e.manifestErr = nil, quarry.Errorf(quarry.CodeUnavailable,
				"manifest %s lists no document though it did when the index was opened: was the generation removed?", path)
		}
	})
	return e.manifest, e.manifestErr
}

// Space is the embedding space of the engine's vectors.
func (e *Engine) Space() index.Space { return e.emb.Space() }

// Retriever returns a retriever with cfg over the engine's indexes and a
// release function to call when done with it; the engine is not closed
// in between. It fails once the engine is closing.
func (e *Engine) Retriever(cfg retrieve.Config) (*retrieve.Retriever, func(), error) {
	if !e.acquire() {
		return nil, nil, errEngineClosed
	}
	return retrieve.New(cfg, e.kw, e.vs, e.emb), e.release, nil
}

// Search and Ask count in-flight work so that a replaced engine is
// closed only once nothing uses it.
// A request that waited for its turn while the engine it resolved was
// replaced is served by the replacement (see latest): what a client
// sees follows a switch as soon as the next engine is in place.
func (e *Engine) Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	done, err := e.slot(ctx)
	if err != nil {
		return quarry.SearchResult{}, err
	}
	defer done()
	c := e.pick()
	if c == nil {
		return quarry.SearchResult{}, errEngineClosed
	}
	defer c.release()
	return c.ret.Search(ctx, req)
}

// latest follows the engines that replaced e to the newest.
func (e *Engine) latest() *Engine {
	cur := e
	for range 8 { // a chain is short; the bound guards against a cycle
		n := cur.next.Load()
		if n == nil {
			break
		}
		cur = n
	}
	return cur
}

// pick acquires the newest engine that replaced e, or e itself; nil when
// both are closing.
func (e *Engine) pick() *Engine {
	if c := e.latest(); c != e && c.acquire() {
		return c
	}
	if e.acquire() {
		return e
	}
	return nil
}

// slot waits for a turn to work on the CPU. Bounding the work running at
// once keeps latency even under many clients, and leaves the CPU to
// other work too: opening the next generation is not starved by a
// crowd of searches.
func (e *Engine) slot(ctx context.Context) (done func(), err error) {
	if e.slots == nil {
		return func() {}, nil
	}
	select {
	case e.slots <- struct{}{}:
		return func() { <-e.slots }, nil
	case <-ctx.Done():
		return nil, quarry.Errorf(quarry.CodeTimeout, "waiting for a turn: %w", context.Cause(ctx))
	}
}

// Ask answers a question from the engine's generation.
func (e *Engine) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	if e.boundAsk {
		done, err := e.slot(ctx)
		if err != nil {
			return quarry.Answer{}, err
		}
		defer done()
	}
	c := e.pick()
	if c == nil {
		return quarry.Answer{}, errEngineClosed
	}
	defer c.release()
	return c.ask.Ask(ctx, req, send)
}

var errEngineClosed = quarry.Errorf(quarry.CodeUnavailable, "the index is being replaced; retry")

func (e *Engine) acquire() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	e.inflight++
	return true
}

func (e *Engine) release() {
	e.mu.Lock()
	e.inflight--
	if e.inflight == 0 {
		e.idle.Broadcast()
	}
	e.mu.Unlock()
}

// Close waits for in-flight requests and closes both indexes.
func (e *Engine) Close() error {
	e.closeMu.Do(func() {
		e.mu.Lock()
		e.closing = true
		for e.inflight > 0 {
			e.idle.Wait()
		}
		e.mu.Unlock()
		e.closeErr = errors.Join(e.kw.Close(), e.vs.Close())
		close(e.closed)
	})
	return e.closeErr
}

// closeAfter closes an engine that was replaced, after a grace period in
// which requests that already resolved it start their work, unless
// cancel is called first (the engine is wanted again: a rollback). It
// returns whether the close was canceled in time.
func (e *Engine) closeAfter(grace time.Duration, log *slog.Logger) (cancel func() bool) {
	t := time.AfterFunc(grace, func() {
		if err := e.Close(); err != nil && log != nil {
			log.Warn("closing replaced generation", "kb", e.kb, "gen", e.gen, "err", err)
		}
	})
	return t.Stop
}
