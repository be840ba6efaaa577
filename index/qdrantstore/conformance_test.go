package qdrantstore_test

import (
	"context"
	"testing"

	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/index/vectortest"
)

// TestConformance runs the shared vector store suite against the store,
// through the in-process fake Qdrant.
func TestConformance(t *testing.T) {
	_, addr := startFake(t)
	vectortest.Run(t, func(t *testing.T, space index.Space) index.VectorStore {
		st, err := qdrantstore.New(context.Background(), testConfig(t, addr, uniqueName("conformance"), space))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return st // vectortest closes it
	})
}
