package main

import (
	"context"
	"io/fs"
	"time"

	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/bleveindex"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/ingest/sandbox"
	"github.com/quarry-kb/quarry/kb"
	"github.com/quarry-kb/quarry/retrieve"
)

// engineConfig holds the settings that shape an engine, as the command
// line sets them; engine turns it into the kb package's configuration
// with the concrete backends.
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
	// vectors is where generations keep their vectors; nil means the
	// configured store (--vector-store) for writes, and what each
	// generation recorded for reads (see backendFor).
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

// engine returns the kb package's engine configuration: Bleve for
// keywords, the configured embedder, vectors where each generation
// recorded them.
func (c engineConfig) engine() kb.EngineConfig {
	kw := c.Keyword
	return kb.EngineConfig{
		Retrieve:    c.Retrieve,
		Answer:      c.Answer,
		Service:     c.Service,
		OpenKeyword: func(dir string) (kb.Keyword, error) { return bleveindex.Open(dir, kw) },
		OpenKeywordReadOnly: func(dir string) (kb.Keyword, error) {
			ro := kw
			ro.ReadOnly = true
			return bleveindex.Open(dir, ro)
		},
		NewEmbed:    c.embedder,
		VectorsFor:  backendFor,
		Vectors:     c.vectors,
		NewAnswerer: c.NewAnswerer,
		Rewriter:    c.Rewriter,
		NoRewrite:   c.NoRewrite,
		WrapVectors: c.wrapVectors,
	}
}

// managerHooks let tests reach inside the knowledge base manager.
type managerHooks struct {
	openSource func(string) (fs.FS, error)
	gate       *kb.Gate
	schedule   string
	progress   func(ingest.Progress)
	// readVectors, when set, is the backend every generation served is
	// opened through (the server's configured store: another store's
	// generation is refused).
	readVectors vectorBackend
	watchEvery  time.Duration
}

// newManager returns the knowledge base manager of the command: o's data
// directory, chunk sizes and vector store, cfg's engines.
func newManager(env *Env, o options, cfg engineConfig, h managerHooks) (*kb.Manager, error) {
	ec := cfg.engine()
	if ec.Vectors == nil {
		ec.Vectors = h.readVectors // else what each generation recorded
	}
	parser, err := sandbox.New(sandbox.Config{Timeout: o.ParseTimeout, MemoryLimit: int64(o.ParseMemory) << 20})
	if err != nil {
		return nil, err
	}
	kc := kb.Config{
		Ingest: ingest.Options{Parse: parser.Parse, FollowSymlinks: o.FollowSymlinks},
		Data:   o.Data,
		Engine: ec,
		Vectors: func(name string) (kb.VectorBackend, error) {
			if cfg.vectors != nil {
				return sharedBackend{cfg.vectors}, nil
			}
			return newBackend(env, o, name)
		},
		Chunk:      ingest.ChunkConfig{Size: o.ChunkSize, Overlap: o.ChunkOverlap, Fold: o.ChunkFold},
		OpenSource: h.openSource,
		Progress:   h.progress,
		Gate:       h.gate,
		Schedule:   h.schedule,
		WatchEvery: h.watchEvery,
		Logger:     newLogger(env.Stderr, o.LogLevel),
		Report:     env.Stderr,
	}
	return kb.New(kc)
}

// openCurrent opens the serving generation of the default knowledge
// base in data (tests).
func openCurrent(data string, cfg engineConfig) (*kb.Engine, error) {
	return openKB(context.Background(), data, kb.Default, cfg)
}

// openKB opens the serving generation of knowledge base name.
func openKB(ctx context.Context, data, name string, cfg engineConfig) (*kb.Engine, error) {
	m, err := kb.New(kb.Config{Data: data, Engine: cfg.engine()})
	if err != nil {
		return nil, err
	}
	return m.Open(ctx, name)
}
