package kb

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

// Vector stores a deployment can use (VectorBackend.Kind).
const (
	StoreEmbedded = "embedded"
	StoreQdrant   = "qdrant"
)

// VectorBackend is where the generations of a knowledge base keep their
// vectors: the embedded store (a directory inside each generation) or a
// Qdrant server (a collection per generation). The engine and the
// rebuild code go through it and do not care which it is.
//
// Keyword index and vectors switch together because both are named by
// the generation: the Bleve index lives in the generation's directory and
// the vectors in its directory (embedded) or in the collection
// quarry_<kb>_<gen> (Qdrant). state.json names the serving generation,
// and a reader opens both from that one name, never through an alias.
type VectorBackend interface {
	// Kind is StoreEmbedded or StoreQdrant.
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

// VectorsRecord is the content of vectors.json.
type VectorsRecord struct {
	Store      string `json:"store"`                // StoreEmbedded or StoreQdrant
	Collection string `json:"collection,omitempty"` // Qdrant collection
	Addr       string `json:"addr,omitempty"`       // Qdrant gRPC address used to build it
	TLS        bool   `json:"tls,omitempty"`
	APIKeyEnv  string `json:"api_key_env,omitempty"` // the variable holding the key, never the key
}

// ReadVectorsRecord reads where generation dir keeps its vectors. A
// generation without the file was built before it existed, with the
// embedded store.
func ReadVectorsRecord(dir string) (VectorsRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, VectorsRecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return VectorsRecord{Store: StoreEmbedded}, nil
	}
	if err != nil {
		return VectorsRecord{}, quarry.Errorf(quarry.CodeUnavailable, "read %s: %w", VectorsRecordFile, err)
	}
	var r VectorsRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return VectorsRecord{}, quarry.Errorf(quarry.CodeInternal, "corrupt %s: %w", filepath.Join(dir, VectorsRecordFile), err)
	}
	if r.Store != StoreEmbedded && r.Store != StoreQdrant {
		return VectorsRecord{}, quarry.Errorf(quarry.CodeInternal, "corrupt %s: unknown store %q", filepath.Join(dir, VectorsRecordFile), r.Store)
	}
	return r, nil
}

func WriteVectorsRecord(dir string, r VectorsRecord) error {
	return writeJSONFile(filepath.Join(dir, VectorsRecordFile), r)
}

// CheckRecordKind refuses to open generation g's vectors through a
// backend of another kind.
func CheckRecordKind(g string, r VectorsRecord, kind string) error {
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

// writeJSONFile writes v to path atomically (temporary file, sync,
// rename), so that a crash leaves the old content or the new.
func writeJSONFile(path string, v any) error {
	if err := fsx.WriteJSON(path, v); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "%w", err)
	}
	return nil
}
