package qdrantstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
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

// rawClient is a plain Qdrant client on the server at addr, for looking
// at what the store wrote.
func rawClient(t testing.TB, addr string) *qdrant.Client {
	t.Helper()
	host, port, err := qdrantstore.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: port, SkipCompatibilityCheck: true, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t testing.TB, what string, err error, want *quarry.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, quarry.ErrorCode(err), want.Code)
	}
}

func denseRec(doc string, ord int, xs ...float32) index.Record {
	return index.Record{
		Chunk:  quarry.Chunk{ID: fmt.Sprintf("%s#%d", doc, ord), DocID: doc, Ordinal: ord, Text: "text of " + doc, Lang: "en"},
		Vector: index.Vector{Dense: xs},
	}
}
