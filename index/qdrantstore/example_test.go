package qdrantstore_test

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
)

func Example() {
	// A fake Qdrant stands in for a real one (QUARRY_QDRANT_ADDR).
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	g := qdranttest.NewServer().NewGRPCServer()
	go g.Serve(lis)
	defer g.Stop()
	host, port, _ := net.SplitHostPort(lis.Addr().String())
	p, _ := strconv.Atoi(port)

	ctx := context.Background()
	st, err := qdrantstore.New(ctx, qdrantstore.Config{
		Host:       host,
		Port:       p,
		Collection: "quarry_default_g0001",
		Space:      index.Space{Embedder: "example", Dim: 3},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	err = st.Upsert(ctx, []index.Record{
		{Chunk: quarry.Chunk{ID: "refunds.md#0", DocID: "refunds.md", Text: "Refunds within 30 days."}, Vector: index.Vector{Dense: []float32{1, 0, 0}}},
		{Chunk: quarry.Chunk{ID: "shipping.md#0", DocID: "shipping.md", Text: "We ship worldwide."}, Vector: index.Vector{Dense: []float32{0, 1, 0}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	hits, err := st.Search(ctx, index.Vector{Dense: []float32{0.9, 0.1, 0}}, 1, index.Filter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %.3f\n", hits[0].Chunk.ID, hits[0].Score)

	// Serve the generation through an alias, as a rebuild would switch it.
	if err := st.SwitchAlias(ctx, "quarry_default", st.Collection()); err != nil {
		fmt.Println(err)
		return
	}
	target, _ := st.ResolveAlias(ctx, "quarry_default")
	fmt.Println("quarry_default →", target)

	// Opening the collection for another embedder is refused.
	_, err = qdrantstore.New(ctx, qdrantstore.Config{Host: host, Port: p, Collection: "quarry_default",
		Space: index.Space{Embedder: "another", Dim: 3}})
	fmt.Println(quarry.ErrorCode(err))
	// Output:
	// refunds.md#0 0.994
	// quarry_default → quarry_default_g0001
	// conflict
}
