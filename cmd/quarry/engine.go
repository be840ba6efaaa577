package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/bleveindex"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/index/memvec"
	"github.com/quarry-kb/quarry/retrieve"
)

// The data directory holds one folder per knowledge base; for now there
// is one, "default". Each knowledge base keeps generations of its
// indexes (see package index/gen); a generation holds:
const (
	defaultKB    = "default"
	keywordDir   = "keyword"       // the Bleve index
	vectorsDir   = "vectors"       // the embedded vector store
	manifestFile = "manifest.json" // what was ingested, by path and hash
	// vectors.json says where the vectors are (see vectorBackend).
)

func kbRoot(data string) string { return filepath.Join(data, "kb", defaultKB) }

// engineConfig holds the settings that shape an engine.
type engineConfig struct {
	Retrieve retrieve.Config
	Answer   generate.Config
	Service  generate.ServiceConfig
	Keyword  bleveindex.Config
	NewEmbed func() (index.Embedder, error) // default: the offline character n-gram embedder
	// Answering providers (see providers.go): the answerer factory
	// (default: the offline extractive answerer) and the follow-up
	// rewriter (default heuristic; NoRewrite turns rewriting off).
	NewAnswerer func() (generate.Answerer, error)
	Rewriter    generate.Rewriter
	NoRewrite   bool
	// vectors is where generations keep their vectors; nil means what
	// each generation recorded (see backendFor).
	vectors vectorBackend
	// wrapVectors, when set (by tests), wraps every vector store opened.
	wrapVectors func(index.VectorStore) index.VectorStore
}

func (c engineConfig) embedder() (index.Embedder, error) {
	if c.NewEmbed != nil {
		return c.NewEmbed()
	}
	return charngram.New(charngram.Config{})
}

// openVectors opens generation g's vector store through the configured
// backend, or the one the generation recorded.
func (c engineConfig) openVectors(ctx context.Context, g, dir string, space index.Space) (vs index.VectorStore, kind string, err error) {
	rec, err := readVectorsRecord(dir)
	if err != nil {
		return nil, "", err
	}
	b := c.vectors
	if b == nil {
		nb, err := backendFor(rec)
		if err != nil {
			return nil, "", err
		}
		defer nb.Close()
		b = nb
	} else if err := checkRecordKind(g, rec, b.Kind()); err != nil {
		return nil, "", err
	}
	if vs, err = b.Open(ctx, g, dir, space); err != nil {
		return nil, "", err
	}
	if c.wrapVectors != nil {
		vs = c.wrapVectors(vs)
	}
	return vs, b.Kind(), nil
}

func openMemvec(dir string, space index.Space) (index.VectorStore, error) {
	return memvec.Open(dir, space, memvec.Config{})
}

// engine is one open generation: both indexes, the embedder, and the
// retriever and answering service built on them. Every request is served
// by exactly one engine, so keyword and vector results always come from
// the same generation.
type engine struct {
	gen      string
	dir      string
	store    string // vector store kind
	kw       *bleveindex.Index
	vs       index.VectorStore
	emb      index.Embedder
	ret      *retrieve.Retriever
	svc      *generate.Service
	ask      generate.Asker // svc, made multi-turn (see engineConfig.asker)
	manifest *index.Manifest

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to 0
	inflight int
	closing  bool
	closeMu  sync.Once
	closeErr error
}

// openEngine opens generation genName, whose directory is dir.
func openEngine(ctx context.Context, genName, dir string, cfg engineConfig) (*engine, error) {
	e := &engine{gen: genName, dir: dir}
	e.idle = sync.NewCond(&e.mu)
	var err error
	if e.emb, err = cfg.embedder(); err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	if e.manifest, err = index.LoadManifest(filepath.Join(dir, manifestFile)); err != nil {
		return nil, err
	}
	if !e.manifest.Empty() && !e.manifest.Space.Equal(e.emb.Space()) {
		return nil, quarry.Errorf(quarry.CodeConflict,
			"the index was built with embedder %q (dim %d) but %q (dim %d) is configured; rebuild the index (quarry reindex) to change embedders",
			e.manifest.Space.Embedder, e.manifest.Space.Dim, e.emb.Space().Embedder, e.emb.Space().Dim)
	}
	if e.kw, err = bleveindex.Open(filepath.Join(dir, keywordDir), cfg.Keyword); err != nil {
		return nil, fmt.Errorf("keyword index: %w", err)
	}
	if e.vs, e.store, err = cfg.openVectors(ctx, genName, dir, e.emb.Space()); err != nil {
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

// openCurrent opens the serving generation of the data directory.
func openCurrent(data string, cfg engineConfig) (*engine, error) {
	d, err := gen.Open(kbRoot(data))
	if err != nil {
		return nil, err
	}
	s, err := d.State()
	if err != nil {
		return nil, err
	}
	return openEngine(context.Background(), s.Current, d.Path(s.Current), cfg)
}

// retriever returns a retriever with cfg over the engine's indexes and a
// release function to call when done with it; the engine is not closed
// in between. It fails once the engine is closing.
func (e *engine) retriever(cfg retrieve.Config) (*retrieve.Retriever, func(), error) {
	if !e.acquire() {
		return nil, nil, errEngineClosed
	}
	return retrieve.New(cfg, e.kw, e.vs, e.emb), e.release, nil
}

// Search and Ask count in-flight work so that a replaced engine is
// closed only once nothing uses it.
func (e *engine) Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	if !e.acquire() {
		return quarry.SearchResult{}, errEngineClosed
	}
	defer e.release()
	return e.ret.Search(ctx, req)
}

func (e *engine) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	if !e.acquire() {
		return quarry.Answer{}, errEngineClosed
	}
	defer e.release()
	return e.ask.Ask(ctx, req, send)
}

var errEngineClosed = quarry.Errorf(quarry.CodeUnavailable, "the index is being replaced; retry")

func (e *engine) acquire() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	e.inflight++
	return true
}

func (e *engine) release() {
	e.mu.Lock()
	e.inflight--
	if e.inflight == 0 {
		e.idle.Broadcast()
	}
	e.mu.Unlock()
}

// Close waits for in-flight requests and closes both indexes.
func (e *engine) Close() error {
	e.closeMu.Do(func() {
		e.mu.Lock()
		e.closing = true
		for e.inflight > 0 {
			e.idle.Wait()
		}
		e.mu.Unlock()
		e.closeErr = errors.Join(e.kw.Close(), e.vs.Close())
	})
	return e.closeErr
}

// retire closes an engine that was replaced, after a grace period in
// which requests that already resolved it start their work.
func (e *engine) retire(grace time.Duration, log *slog.Logger) {
	go func() {
		time.Sleep(grace)
		if err := e.Close(); err != nil && log != nil {
			log.Warn("closing replaced generation", "gen", e.gen, "err", err)
		}
	}()
}
