package bleveindex_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/bleveindex"
)

func Example() {
	dir, err := os.MkdirTemp("", "quarry-keyword")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ix, err := bleveindex.Open(dir, bleveindex.Config{}) // defaults: BM25F k1 1.2, b 0.75, title ×2
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()

	ctx := context.Background()
	err = ix.Upsert(ctx, []quarry.Chunk{
		{ID: "returns#0", DocID: "returns", Title: "Refund policy", Text: "Refunds reach your card within 5 business days."},
		{ID: "cn-returns#0", DocID: "cn-returns", Title: "退货退款政策", Text: "退款将在3个工作日内原路退回。", Lang: "zh"},
		{ID: "shipping#0", DocID: "shipping", Title: "Shipping", Text: "Orders ship within two days."},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{"when will I get my refund?", "退款多久到账"} {
		hits, err := ix.Search(ctx, q, 3)
		if err != nil {
			log.Fatal(err)
		}
		for _, h := range hits {
			fmt.Printf("%s → %s (%s)\n", q, h.Chunk.ID, h.Chunk.Title)
		}
	}
	// Output:
	// when will I get my refund? → returns#0 (Refund policy)
	// 退款多久到账 → cn-returns#0 (退货退款政策)
}
