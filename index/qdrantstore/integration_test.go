package qdrantstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/index/vectortest"
)

// realQdrant returns a Config template for the Qdrant named by
// QUARRY_QDRANT_ADDR (host:port of its gRPC port, usually 6334) and
// QUARRY_QDRANT_API_KEY. Without the variable the test is skipped. A
// server that does not answer skips it too, except under CI=true, where
// a configured but unreachable server is a failure.
func realQdrant(t *testing.T) qdrantstore.Config {
	t.Helper()
	addr := os.Getenv("QUARRY_QDRANT_ADDR")
	if addr == "" {
		t.Skip("QUARRY_QDRANT_ADDR is not set: no real Qdrant to test against (the fake covers the rest)")
	}
	host, port, err := qdrantstore.ParseAddr(addr)
	if err != nil {
		t.Fatalf("QUARRY_QDRANT_ADDR: %v", err)
	}
	cfg := qdrantstore.Config{Host: host, Port: port, APIKey: os.Getenv("QUARRY_QDRANT_API_KEY"), MaxRetries: 1, Timeout: 10 * time.Second}
	probe := cfg
	probe.Collection = fmt.Sprintf("quarry_it_probe_%d", os.Getpid())
	probe.Space = index.Space{Embedder: "probe", Dim: 1}
	st, err := qdrantstore.New(context.Background(), probe)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("QUARRY_QDRANT_ADDR=%s is set but Qdrant is not usable: %v", addr, err)
		}
		t.Skipf("QUARRY_QDRANT_ADDR=%s is set but Qdrant is not usable: %v", addr, err)
	}
	if err := st.DeleteCollection(context.Background(), probe.Collection); err != nil {
		t.Errorf("drop probe collection: %v", err)
	}
	st.Close()
	return cfg
}

func TestIntegrationConformance(t *testing.T) {
	base := realQdrant(t)
	vectortest.Run(t, func(t *testing.T, space index.Space) index.VectorStore {
		cfg := base
		cfg.Collection = fmt.Sprintf("quarry_it_%d_%s", os.Getpid(), uniqueName("conf"))
		cfg.Space = space
		st, err := qdrantstore.New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		// Registered before vectortest's Close, so it runs after it: use a
		// store of its own to drop the collection.
		t.Cleanup(func() {
			admin, err := qdrantstore.New(context.Background(), cfg)
			if err != nil {
				t.Errorf("reopen %s to drop it: %v", cfg.Collection, err)
				return
			}
			defer admin.Close()
			if err := admin.DeleteCollection(context.Background(), cfg.Collection); err != nil {
				t.Errorf("drop %s: %v", cfg.Collection, err)
			}
		})
		return st
	})
}

func TestIntegrationAliasSwitch(t *testing.T) {
	base := realQdrant(t)
	ctx := context.Background()
	alias := fmt.Sprintf("quarry_it_%d_%s", os.Getpid(), uniqueName("alias"))
	var gens []*qdrantstore.Store
	for i := range 2 {
		cfg := base
		cfg.Collection = fmt.Sprintf("%s_g%04d", alias, i+1)
		cfg.Space = dense3
		st, err := qdrantstore.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, st)
		t.Cleanup(func() {
			if err := st.DeleteAlias(ctx, alias); err != nil {
				t.Errorf("drop alias: %v", err)
			}
			if err := st.DeleteCollection(ctx, st.Collection()); err != nil {
				t.Errorf("drop %s: %v", st.Collection(), err)
			}
			st.Close()
		})
		if err := st.Upsert(ctx, []index.Record{denseRec(fmt.Sprintf("gen%d", i+1), 0, 1, 0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := gens[0].SwitchAlias(ctx, alias, gens[0].Collection()); err != nil {
		t.Fatal(err)
	}
	served := base
	served.Collection, served.Space, served.NoCreate = alias, dense3, true
	st, err := qdrantstore.New(ctx, served)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantDocs(t, st, "gen1")
	if err := gens[1].SwitchAlias(ctx, alias, gens[1].Collection()); err != nil {
		t.Fatal(err)
	}
	wantDocs(t, st, "gen2")
	if got, err := st.ResolveAlias(ctx, alias); err != nil || got != gens[1].Collection() {
		t.Fatalf("ResolveAlias = %q, %v; want %q", got, err, gens[1].Collection())
	}
	wantCode(t, "DeleteCollection of the served generation", st.DeleteCollection(ctx, gens[1].Collection()), quarry.ErrConflict)
}
