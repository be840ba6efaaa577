package qdrantstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
)

// TestAliasRebuild walks a zero-downtime rebuild: serve generation 1
// through an alias, build generation 2, switch, drop generation 1.
func TestAliasRebuild(t *testing.T) {
	srv, addr := startFake(t)
	ctx := context.Background()
	alias := uniqueName("kb")

	gen1 := openConfig(t, testConfig(t, addr, alias+"_g0001", dense3))
	if err := gen1.Upsert(ctx, []index.Record{denseRec("old", 0, 1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := gen1.SwitchAlias(ctx, alias, gen1.Collection()); err != nil {
		t.Fatalf("SwitchAlias creating the alias: %v", err)
	}
	servedCfg := testConfig(t, addr, alias, dense3)
	servedCfg.NoCreate = true // a server opens the alias, never creates it
	served := openConfig(t, servedCfg)
	wantDocs(t, served, "old")

	gen2 := openConfig(t, testConfig(t, addr, alias+"_g0002", dense3))
	if err := gen2.Upsert(ctx, []index.Record{denseRec("new", 0, 1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	wantDocs(t, served, "old") // building gen2 does not disturb serving

	before := srv.Calls("UpdateAliases")
	if err := gen2.SwitchAlias(ctx, alias, gen2.Collection()); err != nil {
		t.Fatalf("SwitchAlias: %v", err)
	}
	if got := srv.Calls("UpdateAliases") - before; got != 1 {
		t.Errorf("SwitchAlias made %d UpdateAliases calls, want 1 (atomic)", got)
	}
	wantDocs(t, served, "new") // the store on the alias follows the switch
	if got, err := served.ResolveAlias(ctx, alias); err != nil || got != gen2.Collection() {
		t.Fatalf("ResolveAlias = %q, %v; want %q", got, err, gen2.Collection())
	}
	// Switching to where the alias already points changes nothing.
	before = srv.Calls("UpdateAliases")
	if err := gen2.SwitchAlias(ctx, alias, gen2.Collection()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls("UpdateAliases") - before; got != 0 {
		t.Errorf("a no-op switch made %d UpdateAliases calls", got)
	}

	names, err := served.ListCollections(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != fmt.Sprint([]string{alias + "_g0001", alias + "_g0002"}) {
		t.Fatalf("ListCollections(%q) = %v", alias, names)
	}

	wantCode(t, "DeleteCollection of the served generation", served.DeleteCollection(ctx, gen2.Collection()), quarry.ErrConflict)
	if err := served.DeleteCollection(ctx, gen1.Collection()); err != nil {
		t.Fatalf("DeleteCollection of the old generation: %v", err)
	}
	if err := served.DeleteCollection(ctx, gen1.Collection()); err != nil {
		t.Fatalf("DeleteCollection of a missing collection: %v", err)
	}
	if names, _ := served.ListCollections(ctx, alias); fmt.Sprint(names) != fmt.Sprint([]string{alias + "_g0002"}) {
		t.Fatalf("after deleting gen1: %v", names)
	}
	wantDocs(t, served, "new")
}

func TestSwitchAliasToMissingCollection(t *testing.T) {
	_, addr := startFake(t)
	ctx := context.Background()
	st := open(t, addr, dense3)
	alias := uniqueName("alias")
	if err := st.SwitchAlias(ctx, alias, st.Collection()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "SwitchAlias to a missing collection", st.SwitchAlias(ctx, alias, "no_such_collection"), quarry.ErrNotFound)
	// The failed switch was all or nothing: the alias still resolves.
	if got, err := st.ResolveAlias(ctx, alias); err != nil || got != st.Collection() {
		t.Fatalf("after a failed switch, ResolveAlias = %q, %v; want %q", got, err, st.Collection())
	}
	_, err := st.ResolveAlias(ctx, "no_such_alias")
	wantCode(t, "ResolveAlias of a missing alias", err, quarry.ErrNotFound)
	wantCode(t, "SwitchAlias with no alias", st.SwitchAlias(ctx, "", st.Collection()), quarry.ErrInvalid)

	if err := st.DeleteAlias(ctx, alias); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	_, err = st.ResolveAlias(ctx, alias)
	wantCode(t, "ResolveAlias of a deleted alias", err, quarry.ErrNotFound)
	if err := st.DeleteAlias(ctx, alias); err != nil {
		t.Fatalf("DeleteAlias of a missing alias: %v", err)
	}
	// With its alias gone, the collection can be dropped.
	if err := st.DeleteCollection(ctx, st.Collection()); err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	wantCode(t, "DeleteCollection with no name", st.DeleteCollection(ctx, ""), quarry.ErrInvalid)
}

func wantDocs(t *testing.T, st *qdrantstore.Store, docs ...string) {
	t.Helper()
	hits, err := st.Search(context.Background(), index.Vector{Dense: []float32{1, 0, 0}}, 10, index.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hits {
		got = append(got, h.Chunk.DocID)
	}
	if fmt.Sprint(got) != fmt.Sprint(docs) {
		t.Fatalf("store on %q finds docs %v, want %v", st.Collection(), got, docs)
	}
}
