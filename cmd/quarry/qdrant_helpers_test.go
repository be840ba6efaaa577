package main

import (
	"testing"

	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
)

// startFakeQdrant starts the in-process fake Qdrant for the test.
func startFakeQdrant(t *testing.T) string {
	t.Helper()
	return qdranttest.Start(t)
}
