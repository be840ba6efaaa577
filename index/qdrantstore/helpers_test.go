package qdrantstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
)

var collectionSeq atomic.Int64

// uniqueName returns a collection name no other test uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%04d", prefix, collectionSeq.Add(1))
}

// testConfig is a Config for the server at addr with back-off short
// enough for tests.
func testConfig(t testing.TB, addr, collection string, space index.Space) qdrantstore.Config {
	t.Helper()
	host, port, err := qdrantstore.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return qdrantstore.Config{
		Host:         host,
		Port:         port,
		Collection:   collection,
		Space:        space,
		RetryBackoff: time.Millisecond,
	}
}

// open opens a store on a new collection of the fake at addr and closes
// it when the test ends.
func open(t testing.TB, addr string, space index.Space) *qdrantstore.Store {
	t.Helper()
	return openConfig(t, testConfig(t, addr, uniqueName("test"), space))
}

func openConfig(t testing.TB, cfg qdrantstore.Config) *qdrantstore.Store {
	t.Helper()
	st, err := qdrantstore.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.Collection, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startFake starts a fake Qdrant for the test.
func startFake(t testing.TB) (*qdranttest.Server, string) {
	t.Helper()
	srv := qdranttest.NewServer()
	return srv, srv.Start(t)
}
