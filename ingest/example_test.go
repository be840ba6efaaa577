package ingest_test

import (
	"fmt"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

func ExampleChunker_Chunk() {
	src := "# Returns\n\nYou can return items within 30 days. Keep the receipt.\n\n## 退款\n\n退款在五个工作日内到账。\n"
	p, err := ingest.ParseFile("kb/returns.md", []byte(src))
	if err != nil {
		panic(err)
	}
	c, err := ingest.NewChunker(ingest.ChunkConfig{}) // 256-token chunks, 32 tokens of overlap
	if err != nil {
		panic(err)
	}
	doc := quarry.Document{ID: ingest.DocID("kb/returns.md"), Path: "kb/returns.md", Title: p.Title, Type: p.Type, Lang: p.Lang}
	for _, ch := range c.Chunk(doc, p) {
		fmt.Printf("%s [%s] %s (%d tokens, %s)\n", ch.ID, ch.Heading, ch.Text, ch.Tokens, ch.Lang)
	}
	// Output:
	// c62a0b74480e2ef7#0 [Returns] You can return items within 30 days. Keep the receipt. (13 tokens, en)
	// c62a0b74480e2ef7#1 [Returns > 退款] 退款在五个工作日内到账。 (12 tokens, zh)
}

func ExampleSplitSentences() {
	for _, s := range ingest.SplitSentences("Refunds take 5 days, e.g. for cards. 退款很快。还有问题？Ask us!") {
		fmt.Println(s)
	}
	// Output:
	// Refunds take 5 days, e.g. for cards.
	// 退款很快。
	// 还有问题？
	// Ask us!
}
