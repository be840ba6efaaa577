package retrieve_test

import (
	"fmt"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/retrieve"
)

// The index contracts satisfy the retriever's small interfaces.
var (
	_ retrieve.KeywordSearcher = index.KeywordIndex(nil)
	_ retrieve.VectorSearcher  = index.VectorStore(nil)
	_ retrieve.QueryEmbedder   = index.Embedder(nil)
)

func ExampleFuseWeighted() {
	hit := func(id string, score float64) index.Hit {
		return index.Hit{Chunk: quarry.Chunk{ID: id}, Score: score}
	}
	passages := retrieve.FuseWeighted(
		retrieve.Leg{Name: retrieve.LegKeyword, Weight: 0.6, Hits: []index.Hit{hit("refunds#0", 12.31), hit("billing#2", 4.2)}},
		retrieve.Leg{Name: retrieve.LegVector, Weight: 0.4, Hits: []index.Hit{hit("billing#2", 0.61), hit("refunds#0", 0.43), hit("faq#5", 0.2)}},
	)
	for _, p := range passages {
		fmt.Printf("%-9s %s\n", p.ID, p.Explain.Summary)
	}
	// Output:
	// refunds#0 0.6×1.000 (keyword #1, bm25 12.31) + 0.4×0.561 (vector #2, 0.430) = 0.824
	// billing#2 0.6×0.000 (keyword #2, bm25 4.20) + 0.4×1.000 (vector #1, 0.610) = 0.400
	// faq#5     0.6×0 (keyword: not returned) + 0.4×0.000 (vector #3, 0.200) = 0.000
}
