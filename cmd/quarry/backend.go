package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/memvec"
	"github.com/quarry-kb/quarry/kb"
)

// Vector stores a deployment can use (--vector-store).
const (
	storeEmbedded = kb.StoreEmbedded
	storeQdrant   = kb.StoreQdrant
)

// vectorBackend is where the generations of a knowledge base keep
// their vectors (see kb.VectorBackend).
type vectorBackend = kb.VectorBackend

// newBackend returns the vector backend the options configure.
func newBackend(env *Env, o options, kbName string) (vectorBackend, error) {
	switch o.VectorStore {
	case "", storeEmbedded:
		return embeddedBackend{}, nil
	case storeQdrant:
		key := ""
		if o.QdrantAPIKeyEnv != "" {
			key = env.Getenv(o.QdrantAPIKeyEnv)
		}
		return newQdrantBackend(kbName, o.QdrantAddr, key, o.QdrantAPIKeyEnv, o.QdrantTLS)
	}
	return nil, quarry.Errorf(quarry.CodeInvalid, "--vector-store must be %q or %q, got %q", storeEmbedded, storeQdrant, o.VectorStore)
}

// backendFor returns a backend for a generation's own record, for
// commands that open whatever the data directory holds (ask, search,
// eval). The Qdrant address recorded at build time is used unless
// QUARRY_QDRANT_ADDR says otherwise; the API key comes from the recorded
// environment variable.
func backendFor(kbName string, r kb.VectorsRecord) (kb.VectorBackend, error) {
	if r.Store != storeQdrant {
		return embeddedBackend{}, nil
	}
	addr := r.Addr
	if a := os.Getenv("QUARRY_QDRANT_ADDR"); a != "" {
		addr = a
	}
	key := ""
	if r.APIKeyEnv != "" {
		key = os.Getenv(r.APIKeyEnv)
	}
	return newQdrantBackend(kbName, addr, key, r.APIKeyEnv, r.TLS)
}

// embeddedBackend keeps vectors in the generation's directory, which
// gen.Writer.Begin copies for an incremental write and removes with the
// generation.
type embeddedBackend struct{}

func (embeddedBackend) Kind() string { return storeEmbedded }

func (embeddedBackend) Prepare(_ context.Context, _, dir, _ string, _ index.Space) error {
	return kb.WriteVectorsRecord(dir, kb.VectorsRecord{Store: storeEmbedded})
}

func (embeddedBackend) Open(_ context.Context, _, dir string, space index.Space) (index.VectorStore, error) {
	return memvec.Open(filepath.Join(dir, kb.VectorsDir), space, memvec.Config{})
}

// OpenReadOnly opens the vectors without locking them, for readers that
// share the generation with a server (kb.ReadOnlyOpener).
func (embeddedBackend) OpenReadOnly(_ context.Context, _, dir string, space index.Space) (index.VectorStore, error) {
	return memvec.Open(filepath.Join(dir, kb.VectorsDir), space, memvec.Config{ReadOnly: true})
}

func (embeddedBackend) Publish(context.Context, string) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}

func (embeddedBackend) Cleanup(context.Context, []string) error { return nil }
func (embeddedBackend) Close() error                            { return nil }

// sharedBackend lends a backend to a kb.Manager, which closes what it
// is given: closing it does nothing (its owner closes it).
type sharedBackend struct{ vectorBackend }

func (sharedBackend) Close() error { return nil }
