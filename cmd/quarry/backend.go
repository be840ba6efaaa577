package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/internal/fsx"
)

// Vector stores a deployment can use (--vector-store).
const (
	storeEmbedded = "embedded"
	storeQdrant   = "qdrant"
)

// vectorsRecordFile, in a generation's directory, says where the
// generation's vectors are.
const vectorsRecordFile = "vectors.json"

// vectorBackend is where the generations of a knowledge base keep their
// vectors: the embedded store (a directory inside each generation) or a
// Qdrant server (a collection per generation). The engine and the
// rebuild code go through it and do not care which it is.
//
// Keyword index and vectors switch together because both are named by
// the generation: the Bleve index lives in the generation's directory and
// the vectors in its directory (embedded) or in the collection
// quarry_<kb>_<gen> (Qdrant). state.json names the serving generation,
// and a reader opens both from that one name, never through an alias.
type vectorBackend interface {
	// Kind is storeEmbedded or storeQdrant.
	Kind() string
	// Prepare readies the vectors of generation g, being built in dir:
	// empty when from is "", else holding generation from's vectors
	// (an incremental write starts from the serving generation). It
	// records in dir where the vectors are.
	Prepare(ctx context.Context, g, dir, from string, space index.Space) error
	// Open opens the vector store of generation g (directory dir).
	Open(ctx context.Context, g, dir string, space index.Space) (index.VectorStore, error)
	// Publish points consumers outside Quarry at generation g (Qdrant's
	// serving alias), just before state.json does. undo points them back
	// if state.json could not be written.
	Publish(ctx context.Context, g string) (undo func(context.Context) error, err error)
	// Cleanup removes the vectors of generations not in keep: pruned,
	// aborted or abandoned ones.
	Cleanup(ctx context.Context, keep []string) error
	Close() error
}

// vectorsRecord is the content of vectors.json.
type vectorsRecord struct {
	Store      string `json:"store"`                // storeEmbedded or storeQdrant
	Collection string `json:"collection,omitempty"` // Qdrant collection
	Addr       string `json:"addr,omitempty"`       // Qdrant gRPC address used to build it
	TLS        bool   `json:"tls,omitempty"`
	APIKeyEnv  string `json:"api_key_env,omitempty"` // the variable holding the key, never the key
}

// readVectorsRecord reads where generation dir keeps its vectors. A
// generation without the file was built before it existed, with the
// embedded store.
func readVectorsRecord(dir string) (vectorsRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, vectorsRecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return vectorsRecord{Store: storeEmbedded}, nil
	}
	if err != nil {
		return vectorsRecord{}, quarry.Errorf(quarry.CodeUnavailable, "read %s: %w", vectorsRecordFile, err)
	}
	var r vectorsRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return vectorsRecord{}, quarry.Errorf(quarry.CodeInternal, "corrupt %s: %w", filepath.Join(dir, vectorsRecordFile), err)
	}
	if r.Store != storeEmbedded && r.Store != storeQdrant {
		return vectorsRecord{}, quarry.Errorf(quarry.CodeInternal, "corrupt %s: unknown store %q", filepath.Join(dir, vectorsRecordFile), r.Store)
	}
	return r, nil
}

func writeVectorsRecord(dir string, r vectorsRecord) error {
	return writeJSONFile(filepath.Join(dir, vectorsRecordFile), r)
}

// checkRecordKind refuses to open generation g's vectors through a
// backend of another kind.
func checkRecordKind(g string, r vectorsRecord, kind string) error {
	if r.Store == kind {
		return nil
	}
	name := g
	if name == "" {
		name = "the generation"
	}
	return quarry.Errorf(quarry.CodeConflict,
		"generation %s keeps its vectors in the %s store but the %s store is configured; set --vector-store %s, or run quarry reindex to rebuild into %s",
		name, r.Store, kind, r.Store, kind)
}

// newBackend returns the vector backend the options configure.
func newBackend(env *Env, o options) (vectorBackend, error) {
	switch o.VectorStore {
	case "", storeEmbedded:
		return embeddedBackend{}, nil
	case storeQdrant:
		key := ""
		if o.QdrantAPIKeyEnv != "" {
			key = env.Getenv(o.QdrantAPIKeyEnv)
		}
		return newQdrantBackend(defaultKB, o.QdrantAddr, key, o.QdrantAPIKeyEnv, o.QdrantTLS)
	}
	return nil, quarry.Errorf(quarry.CodeInvalid, "--vector-store must be %q or %q, got %q", storeEmbedded, storeQdrant, o.VectorStore)
}

// backendFor returns a backend for a generation's own record, for
// commands that open whatever the data directory holds (ask, search,
// eval). The Qdrant address recorded at build time is used unless
// QUARRY_QDRANT_ADDR says otherwise; the API key comes from the recorded
// environment variable.
func backendFor(r vectorsRecord) (vectorBackend, error) {
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
	return newQdrantBackend(defaultKB, addr, key, r.APIKeyEnv, r.TLS)
}

// embeddedBackend keeps vectors in the generation's directory, which
// gen.Writer.Begin copies for an incremental write and removes with the
// generation.
type embeddedBackend struct{}

func (embeddedBackend) Kind() string { return storeEmbedded }

func (embeddedBackend) Prepare(_ context.Context, _, dir, _ string, _ index.Space) error {
	return writeVectorsRecord(dir, vectorsRecord{Store: storeEmbedded})
}

func (embeddedBackend) Open(_ context.Context, _, dir string, space index.Space) (index.VectorStore, error) {
	return openMemvec(filepath.Join(dir, vectorsDir), space)
}

func (embeddedBackend) Publish(context.Context, string) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}

func (embeddedBackend) Cleanup(context.Context, []string) error { return nil }
func (embeddedBackend) Close() error                            { return nil }

// writeJSONFile writes v to path atomically (temporary file, sync,
// rename), so that a crash leaves the old content or the new.
func writeJSONFile(path string, v any) error {
	if err := fsx.WriteJSON(path, v); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "%w", err)
	}
	return nil
}
