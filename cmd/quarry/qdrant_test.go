package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
)

// qdrantView looks at what Quarry left in a Qdrant server.
type qdrantView struct {
	t   *testing.T
	adm *qdrantstore.Admin
}

func viewQdrant(t *testing.T, addr string, apiKey string) *qdrantView {
	t.Helper()
	host, port, err := qdrantstore.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	adm, err := qdrantstore.Dial(context.Background(), qdrantstore.Config{Host: host, Port: port, APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	return &qdrantView{t: t, adm: adm}
}

func (v *qdrantView) collections() []string {
	v.t.Helper()
	names, err := v.adm.ListCollections(context.Background(), "quarry_")
	if err != nil {
		v.t.Fatal(err)
	}
	return names
}

func (v *qdrantView) alias() string {
	v.t.Helper()
	got, err := v.adm.ResolveAlias(context.Background(), "quarry_default")
	if err != nil {
		v.t.Fatal(err)
	}
	return got
}

// count returns the points of generation g's collection.
func (v *qdrantView) count(addr, g string) int {
	v.t.Helper()
	host, port, _ := qdrantstore.ParseAddr(addr)
	e, err := charngramSpace()
	if err != nil {
		v.t.Fatal(err)
	}
	st, err := qdrantstore.New(context.Background(), qdrantstore.Config{Host: host, Port: port, Collection: "quarry_default_" + g, Space: e, NoCreate: true})
	if err != nil {
		v.t.Fatal(err)
	}
	defer st.Close()
	n, err := st.Count(context.Background())
	if err != nil {
		v.t.Fatal(err)
	}
	return n
}

func charngramSpace() (index.Space, error) {
	e, err := engineConfig{}.embedder()
	if err != nil {
		return index.Space{}, err
	}
	return e.Space(), nil
}

// TestQdrantCLI runs ingest, incremental ingest, reindex and rollback
// through the command line against the in-process fake Qdrant.
func TestQdrantCLI(t *testing.T) {
	srv := qdranttest.NewServer()
	addr := srv.Start(t)
	src, data := t.TempDir(), t.TempDir()
	q := []string{"--vector-store", "qdrant", "--qdrant-addr", addr}
	view := viewQdrant(t, addr, "")

	corpusFor(t, src, "alpha", 3)
	mustCLI(t, nil, append([]string{"ingest", "--data", data}, append(q, src)...)...)
	s := state(t, data)
	g1 := s.Current
	if s.Info.VectorStore != storeQdrant {
		t.Fatalf("state after ingest into qdrant: %+v", s.Info)
	}
	if got := view.collections(); !slices.Equal(got, []string{"quarry_default_" + g1}) {
		t.Fatalf("collections %v after the first ingest", got)
	}
	if got := view.alias(); got != "quarry_default_"+g1 {
		t.Fatalf("alias points at %q, want the serving generation's collection", got)
	}
	if _, err := os.Stat(filepath.Join(kbRoot(data), g1, vectorsDir)); !os.IsNotExist(err) {
		t.Errorf("a qdrant generation has an embedded vectors directory (%v)", err)
	}
	// search opens the generation's recorded store (no flags needed).
	if got := mustCLI(t, nil, "search", "--data", data, "--mode", "vector", "--k", "10", "alpha refund window"); !strings.Contains(got, "alpha-00.md") {
		t.Errorf("vector search over qdrant misses alpha-00.md:\n%s", got)
	}

	// Incremental: the new collection starts as a copy of the serving one.
	writeFiles(t, src, map[string]string{"delta.md": "# Delta\n\nThe delta warehouse ships parcels on Saturdays.\n"})
	env := map[string]string{"QUARRY_VECTOR_STORE": "qdrant", "QUARRY_QDRANT_ADDR": addr} // the environment works as the flags do
	out := mustCLI(t, env, "ingest", "--data", data, src)
	if !strings.Contains(out, "1 added") || !strings.Contains(out, "3 unchanged") || !strings.Contains(out, "embedded 1 chunk") {
		t.Errorf("incremental ingest:\n%s", out)
	}
	s = state(t, data)
	g2 := s.Current
	if n := view.count(addr, g2); n != s.Info.Chunks || n < 4 {
		t.Errorf("collection of %s holds %d points, state says %d chunks", g2, n, s.Info.Chunks)
	}
	got := mustCLI(t, nil, "search", "--data", data, "--mode", "vector", "--k", "10", "alpha refund window delta warehouse Saturdays")
	if !strings.Contains(got, "alpha-01.md") || !strings.Contains(got, "delta.md") {
		t.Errorf("after incremental ingest, vector search should find copied and new points:\n%s", got)
	}
	if got := view.alias(); got != "quarry_default_"+g2 {
		t.Errorf("alias %q after incremental ingest, want %s's", got, g2)
	}

	// A collection left by a build that was killed is dropped by the next
	// writer.
	if err := view.adm.SwitchAlias(context.Background(), "scratch", "quarry_default_"+g1); err != nil {
		t.Fatal(err)
	}
	host, port, _ := qdrantstore.ParseAddr(addr)
	sp, _ := charngramSpace()
	stale, err := qdrantstore.New(context.Background(), qdrantstore.Config{Host: host, Port: port, Collection: "quarry_default_g000042", Space: sp})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()
	if err := view.adm.DeleteAlias(context.Background(), "scratch"); err != nil {
		t.Fatal(err)
	}

	corpusFor(t, src, "bravo", 2)
	mustCLI(t, nil, append([]string{"reindex", "--data", data}, q...)...)
	s = state(t, data)
	g3 := s.Current
	want := []string{"quarry_default_" + g2, "quarry_default_" + g3}
	if got := view.collections(); !slices.Equal(got, want) {
		t.Errorf("collections after reindex %v, want %v (pruned %s and the abandoned g000042 dropped)", got, want, g1)
	}
	if got := view.alias(); got != "quarry_default_"+g3 {
		t.Errorf("alias %q after reindex, want %s's", got, g3)
	}
	if n := view.count(addr, g3); n != s.Info.Chunks {
		t.Errorf("reindexed collection holds %d points, want %d (fresh: nothing copied)", n, s.Info.Chunks)
	}

	mustCLI(t, nil, append([]string{"rollback", "--data", data}, q...)...)
	if s := state(t, data); s.Current != g2 {
		t.Fatalf("rollback: serving %s, want %s", s.Current, g2)
	}
	if got := view.alias(); got != "quarry_default_"+g2 {
		t.Errorf("alias %q after rollback, want %s's", got, g2)
	}
	if got := view.collections(); !slices.Equal(got, want) {
		t.Errorf("rollback changed the collections: %v", got)
	}
	if got := mustCLI(t, nil, "search", "--data", data, "--k", "10", "refund window"); !strings.Contains(got, "alpha-") || strings.Contains(got, "bravo-") {
		t.Errorf("after rollback, search should answer from %s (alpha):\n%s", g2, got)
	}

	// With an API key required, the key comes from the named variable and
	// is never printed.
	srv.RequireAPIKey("s3cret-key")
	out, errOut, code := runCLIEnv(t, nil, append([]string{"reindex", "--data", data}, q...)...)
	if code != 1 || !strings.Contains(errOut, "API key") {
		t.Errorf("reindex without the key: exit %d\n%s%s", code, out, errOut)
	}
	keyEnv := map[string]string{"MY_QDRANT_KEY": "s3cret-key"}
	out, errOut, code = runCLIEnv(t, keyEnv, append([]string{"reindex", "--data", data, "--qdrant-api-key-env", "MY_QDRANT_KEY"}, q...)...)
	if code != 0 {
		t.Errorf("reindex with the key: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "s3cret") {
		t.Errorf("the API key was printed:\n%s%s", out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(kbRoot(data), state(t, data).Current, vectorsRecordFile)); strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), "MY_QDRANT_KEY") {
		t.Errorf("vectors.json must name the key's variable, never the key: %s", b)
	}
}
