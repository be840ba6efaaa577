package qdrantstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// The benchmarks measure the store's side (validation, conversion,
// gRPC, decoding) against the in-process fake, not Qdrant's search.

const benchDim = 384

func benchRecords(rng *rand.Rand, n int, sparse bool) []index.Record {
	recs := make([]index.Record, n)
	for i := range recs {
		c := quarry.Chunk{ID: fmt.Sprintf("doc%d#%d", i/8, i%8), DocID: fmt.Sprintf("doc%d", i/8), Path: "docs/a.md",
			Title: "A document", Heading: "Section > Subsection", Ordinal: i % 8, Tokens: 200, Lang: "en",
			Text: "A chunk of about two hundred tokens of text, as the chunker produces them, repeated. "}
		recs[i] = index.Record{Chunk: c, Vector: benchVector(rng, sparse)}
	}
	return recs
}

func benchVector(rng *rand.Rand, sparse bool) index.Vector {
	if sparse {
		v := index.Vector{}
		seen := map[uint32]bool{}
		for len(v.Indices) < 40 {
			i := uint32(rng.IntN(1 << 18))
			if !seen[i] {
				seen[i] = true
				v.Indices = append(v.Indices, i)
				v.Values = append(v.Values, rng.Float32())
			}
		}
		return v
	}
	v := index.Vector{Dense: make([]float32, benchDim)}
	for i := range v.Dense {
		v.Dense[i] = rng.Float32()*2 - 1
	}
	return v
}

func BenchmarkUpsert(b *testing.B) {
	_, addr := startFake(b)
	st := open(b, addr, index.Space{Embedder: "bench", Dim: benchDim})
	recs := benchRecords(rand.New(rand.NewPCG(1, 2)), 128, false)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := st.Upsert(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

func benchSearch(b *testing.B, space index.Space) {
	_, addr := startFake(b)
	st := open(b, addr, space)
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	if err := st.Upsert(ctx, benchRecords(rng, 2000, space.Sparse)); err != nil {
		b.Fatal(err)
	}
	queries := make([]index.Vector, 16)
	for i := range queries {
		queries[i] = benchVector(rng, space.Sparse)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := st.Search(ctx, queries[i%len(queries)], 10, index.Filter{Lang: "en"}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSearchDense(b *testing.B) {
	benchSearch(b, index.Space{Embedder: "bench", Dim: benchDim})
}

func BenchmarkSearchSparseIDF(b *testing.B) {
	benchSearch(b, index.Space{Embedder: "bench", Dim: 1 << 18, Sparse: true, IDF: true})
}
