package qdrantstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"google.golang.org/grpc/codes"
)

// TestCopyFrom copies collections of every layout, over several scroll
// pages, and checks the copy answers searches exactly as the source.
func TestCopyFrom(t *testing.T) {
	_, addr := startFake(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		space index.Space
		rec   func(i int) index.Record
		query index.Vector
	}{
		{"dense", dense3, func(i int) index.Record {
			return denseRec(fmt.Sprintf("d%03d", i/2), i%2, float32(i%7)+1, float32(i%5), float32(i%3))
		}, index.Vector{Dense: []float32{1, 2, 0}}},
		{"sparse idf", sparseIDF, func(i int) index.Record {
			r := denseRec(fmt.Sprintf("s%03d", i/2), i%2)
			r.Vector = index.Vector{Indices: []uint32{uint32(i % 50), uint32((i + 7) % 50)}, Values: []float32{1, float32(i%4) + 0.5}}
			return r
		}, index.Vector{Indices: []uint32{3, 10}, Values: []float32{1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := open(t, addr, tc.space)
			var recs []index.Record
			for i := range 600 { // more than two scroll pages
				recs = append(recs, tc.rec(i))
			}
			if err := src.Upsert(ctx, recs); err != nil {
				t.Fatal(err)
			}
			dst := open(t, addr, tc.space)
			// A point already in the destination with a source chunk ID is
			// replaced; one the source lacks stays.
			extra := tc.rec(1000)
			if err := dst.Upsert(ctx, []index.Record{extra}); err != nil {
				t.Fatal(err)
			}
			n, err := dst.CopyFrom(ctx, src.Collection())
			if err != nil {
				t.Fatal(err)
			}
			if n != len(recs) {
				t.Errorf("CopyFrom copied %d points, want %d", n, len(recs))
			}
			if got, err := dst.Count(ctx); err != nil || got != len(recs)+1 {
				t.Errorf("destination holds %d points (%v), want %d", got, err, len(recs)+1)
			}
			if err := dst.DeleteDocs(ctx, extra.Chunk.DocID); err != nil {
				t.Fatal(err)
			}
			want, err := src.Search(ctx, tc.query, 20, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := dst.Search(ctx, tc.query, 20, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || !slices.EqualFunc(want, got, func(a, b index.Hit) bool {
				return a.Chunk == b.Chunk && a.Score == b.Score
			}) {
				t.Errorf("copy answers differently:\nsource %v\ncopy   %v", want, got)
			}
		})
	}
}

func TestCopyFromErrors(t *testing.T) {
	srv, addr := startFake(t)
	ctx := context.Background()
	src := open(t, addr, dense3)
	if err := src.Upsert(ctx, []index.Record{denseRec("a", 0, 1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	other := open(t, addr, index.Space{Embedder: "other-model", Dim: 3})
	_, err := other.CopyFrom(ctx, src.Collection())
	wantCode(t, "copy from another space", err, quarry.ErrConflict)
	if n, _ := other.Count(ctx); n != 0 {
		t.Errorf("a refused copy wrote %d points", n)
	}

	dst := open(t, addr, dense3)
	_, err = dst.CopyFrom(ctx, "no_such_collection")
	wantCode(t, "copy from a missing collection", err, quarry.ErrNotFound)
	_, err = dst.CopyFrom(ctx, "")
	wantCode(t, "copy from no name", err, quarry.ErrInvalid)

	srv.FailNext("Scroll", 1, codes.Internal)
	if _, err := dst.CopyFrom(ctx, src.Collection()); err == nil {
		t.Error("CopyFrom hid a failed scroll")
	}
}

func TestAdmin(t *testing.T) {
	_, addr := startFake(t)
	ctx := context.Background()
	prefix := uniqueName("adm")
	a := openConfig(t, testConfig(t, addr, prefix+"_g1", dense3))
	b := openConfig(t, testConfig(t, addr, prefix+"_g2", dense3))

	adm, err := qdrantstore.Dial(ctx, testConfig(t, addr, "", index.Space{}))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.SwitchAlias(ctx, prefix, a.Collection()); err != nil {
		t.Fatal(err)
	}
	if err := adm.DeleteCollection(ctx, a.Collection()); err == nil {
		t.Error("DeleteCollection dropped a collection an alias serves")
	}
	if err := adm.SwitchAlias(ctx, prefix, b.Collection()); err != nil {
		t.Fatal(err)
	}
	if got, err := adm.ResolveAlias(ctx, prefix); err != nil || got != b.Collection() {
		t.Fatalf("ResolveAlias = %q, %v; want %q", got, err, b.Collection())
	}
	if err := adm.DeleteCollection(ctx, a.Collection()); err != nil {
		t.Fatal(err)
	}
	names, err := adm.ListCollections(ctx, prefix+"_")
	if err != nil || !slices.Equal(names, []string{b.Collection()}) {
		t.Errorf("ListCollections = %v, %v; want [%s]", names, err, b.Collection())
	}
	if err := adm.DeleteAlias(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	if err := adm.DeleteAlias(ctx, prefix); err != nil {
		t.Errorf("deleting a missing alias: %v", err)
	}
	_, err = adm.ResolveAlias(ctx, prefix)
	wantCode(t, "resolve a deleted alias", err, quarry.ErrNotFound)

	cfg := testConfig(t, "127.0.0.1:1", "", index.Space{})
	cfg.MaxRetries = -1
	_, err = qdrantstore.Dial(ctx, cfg)
	wantCode(t, "Dial of nothing", err, quarry.ErrUnavailable)
}
