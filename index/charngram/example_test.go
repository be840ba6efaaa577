package charngram_test

import (
	"context"
	"fmt"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/memvec"
)

// The embedder's Space opens a store that applies IDF at query time, so
// that searches score passages by TF-IDF over character n-grams.
func Example() {
	ctx := context.Background()
	e, err := charngram.New(charngram.Config{})
	if err != nil {
		panic(err)
	}
	store, err := memvec.Open("", e.Space(), memvec.Config{}) // "" keeps it in memory
	if err != nil {
		panic(err)
	}
	defer store.Close()

	texts := []string{
		"Refunds are possible within 30 days of purchase.",
		"Shipping takes five business days.",
	}
	vecs, err := e.EmbedPassages(ctx, texts)
	if err != nil {
		panic(err)
	}
	var recs []index.Record
	for i, text := range texts {
		id := fmt.Sprintf("doc%d", i)
		recs = append(recs, index.Record{Chunk: quarry.Chunk{ID: id + "#0", DocID: id, Text: text}, Vector: vecs[i]})
	}
	if err := store.Upsert(ctx, recs); err != nil {
		panic(err)
	}

	q, err := e.EmbedQuery(ctx, "refundable?")
	if err != nil {
		panic(err)
	}
	hits, err := store.Search(ctx, q, 1, index.Filter{})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Space().Embedder)
	fmt.Println(hits[0].Chunk.Text)
	// Output:
	// quarry-charngram-v1/b18-n3-4-cjk1-2
	// Refunds are possible within 30 days of purchase.
}
