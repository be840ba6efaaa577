package generate_test

import (
	"context"
	"fmt"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
)

// staticRetriever stands in for *retrieve.Retriever.
type staticRetriever []quarry.Passage

func (s staticRetriever) Search(context.Context, quarry.SearchRequest) (quarry.SearchResult, error) {
	return quarry.SearchResult{Passages: s}, nil
}

func ExampleService_Ask() {
	r := staticRetriever{{Chunk: quarry.Chunk{
		ID: "returns/refunds#0", DocID: "returns/refunds", Path: "returns/refunds.md", Title: "Refunds",
		Text: "Refunds to credit cards appear within 5 business days.\n\nContact your bank if they do not.",
	}}}
	svc := generate.NewService(r, nil, generate.ServiceConfig{}) // nil: the Extractive answerer
	ctx := context.Background()

	ans, err := svc.Ask(ctx, quarry.AskRequest{Question: "How long do credit card refunds take?"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ans.Text)
	fmt.Printf("[%d] %s: %q\n", ans.Citations[0].N, ans.Citations[0].Path, ans.Citations[0].Snippet)

	// Streaming: print each event as it comes.
	_, err = svc.Ask(ctx, quarry.AskRequest{Question: "能用支付宝吗？"}, func(ev quarry.Event) error {
		switch ev.Type {
		case quarry.EventDelta:
			fmt.Printf("delta %q\n", ev.Delta)
		case quarry.EventDone:
			fmt.Println("done, answered:", ev.Answer.Answered)
		default:
			fmt.Println(ev.Type)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// Refunds to credit cards appear within 5 business days. [1]
	// [1] returns/refunds.md: "Refunds to credit cards appear within 5 business days."
	// passages
	// delta "抱歉，知识库中没有找到这个问题的答案。我会将您的问题转交给人工客服。"
	// citations
	// done, answered: false
}
