package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/kb"
)

// TestQdrantIntegration runs ingest, an incremental ingest, reindex and
// rollback against the real Qdrant named by QUARRY_QDRANT_ADDR (gRPC
// host:port; QUARRY_QDRANT_API_KEY when it needs a key). Without the
// variable it is skipped; a server that does not answer skips it too,
// except under CI=true, where a configured but unreachable server fails.
//
// The collections get a knowledge-base name of their own
// (quarry_it<pid>_<gen>, alias quarry_it<pid>), so that the test never
// touches a deployment's quarry_default_* collections on a shared server.
func TestQdrantIntegration(t *testing.T) {
	addr := os.Getenv("QUARRY_QDRANT_ADDR")
	if addr == "" {
		t.Skip("QUARRY_QDRANT_ADDR is not set: no real Qdrant to test against (the fake covers the rest)")
	}
	ctx := context.Background()
	kbName := fmt.Sprintf("it%d", os.Getpid())
	vb, err := newQdrantBackend(kbName, addr, os.Getenv("QUARRY_QDRANT_API_KEY"), "QUARRY_QDRANT_API_KEY", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vb.Close() }) // after the clean-up below, which uses it
	adm, err := vb.adm(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("QUARRY_QDRANT_ADDR=%s is set but Qdrant is not usable: %v", addr, err)
		}
		t.Skipf("QUARRY_QDRANT_ADDR=%s is set but Qdrant is not usable: %v", addr, err)
	}
	collections := func() []string {
		t.Helper()
		names, err := adm.ListCollections(ctx, "quarry_"+kbName+"_")
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	t.Cleanup(func() {
		ctx := context.Background()
		adm.DeleteAlias(ctx, vb.alias())
		for _, name := range collections() {
			if err := adm.DeleteCollection(ctx, name); err != nil {
				t.Errorf("drop %s: %v", name, err)
			}
		}
	})

	src, data := t.TempDir(), t.TempDir()
	env := testEnv(&bytes.Buffer{}, &bytes.Buffer{}, nil)
	o := options{Data: data}
	cfg := engineConfig{vectors: vb}
	search := func(query string) []string {
		t.Helper()
		e, err := openCurrent(data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		res, err := e.Search(ctx, quarry.SearchRequest{Query: query, K: 10, Mode: quarry.ModeVector})
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, p := range res.Passages {
			paths = append(paths, p.Path)
		}
		return paths
	}
	wantAlias := func(g string) {
		t.Helper()
		// Qdrant applies alias changes asynchronously on some setups;
		// give it a moment.
		var got string
		for range 50 {
			if got, err = adm.ResolveAlias(ctx, vb.alias()); err == nil && got == vb.collection(g) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("alias %s points at %q (%v), want %s", vb.alias(), got, err, vb.collection(g))
	}

	corpusFor(t, src, "alpha", 3)
	if _, err := ingestInto(ctx, env, o, os.DirFS(src), buildOptions{BuildOptions: kb.BuildOptions{Source: src}, engine: cfg}); err != nil {
		t.Fatal(err)
	}
	g1 := state(t, data).Current
	wantAlias(g1)

	writeFiles(t, src, map[string]string{"delta.md": "# Delta\n\nThe delta warehouse ships parcels on Saturdays.\n"})
	sum, err := ingestInto(ctx, env, o, os.DirFS(src), buildOptions{BuildOptions: kb.BuildOptions{Source: src}, engine: cfg})
	if err != nil || sum.Added != 1 || sum.Unchanged != 3 {
		t.Fatalf("incremental ingest: %+v, %v", sum, err)
	}
	g2 := state(t, data).Current
	if got := search("alpha refund window delta warehouse"); !slices.Contains(got, "alpha-00.md") || !slices.Contains(got, "delta.md") {
		t.Errorf("after the incremental ingest (copied collection), vector search finds %v", got)
	}
	wantAlias(g2)

	corpusFor(t, src, "bravo", 2)
	if _, _, err := reindex(ctx, env, o, rebuildRequest{engine: cfg}); err != nil {
		t.Fatal(err)
	}
	g3 := state(t, data).Current
	wantAlias(g3)
	if got := collections(); !slices.Equal(got, []string{vb.collection(g2), vb.collection(g3)}) {
		t.Errorf("collections after reindex %v, want %s's and %s's (%s pruned)", got, g2, g3, g1)
	}

	if _, err := rollback(ctx, env, o, vb); err != nil {
		t.Fatal(err)
	}
	if s := state(t, data); s.Current != g2 {
		t.Fatalf("after rollback serving %s, want %s", s.Current, g2)
	}
	wantAlias(g2)
	if got := search("refund window"); len(got) == 0 || slices.ContainsFunc(got, func(p string) bool { return tagOf(p) == "bravo" }) {
		t.Errorf("after rollback vector search finds %v, want %s's documents", got, g2)
	}
}
