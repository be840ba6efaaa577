package generate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
)

func TestModelFunc(t *testing.T) {
	stop := errors.New("stop")
	var m generate.Model = generate.ModelFunc(func(ctx context.Context, req generate.ChatRequest, onDelta func(string) error) (generate.ChatResponse, error) {
		if err := onDelta(req.Messages[0].Content); err != nil {
			return generate.ChatResponse{}, err
		}
		return generate.ChatResponse{Text: req.Messages[0].Content, FinishReason: "stop"}, nil
	})
	var got string
	resp, err := m.Chat(context.Background(), generate.ChatRequest{Messages: []quarry.Message{{Role: "user", Content: "hi"}}},
		func(s string) error { got += s; return nil })
	if err != nil || resp.Text != "hi" || got != "hi" {
		t.Errorf("Chat = %+v, %v; streamed %q", resp, err, got)
	}
	_, err = m.Chat(context.Background(), generate.ChatRequest{Messages: []quarry.Message{{Role: "user", Content: "hi"}}},
		func(string) error { return stop })
	if err != stop {
		t.Errorf("onDelta's error not returned: %v", err)
	}
}

// An LLM answerer over a model. In production the model is an
// openai.Client or ollama.Client; here it is a stand-in that cites a
// passage that does not exist.
func ExampleNewLLM() {
	model := generate.ModelFunc(func(ctx context.Context, req generate.ChatRequest, onDelta func(string) error) (generate.ChatResponse, error) {
		text := "Refunds reach your card within 5 business days [2]. Shipping is free [9]."
		if onDelta != nil {
			if err := onDelta(text); err != nil {
				return generate.ChatResponse{}, err
			}
		}
		return generate.ChatResponse{Text: text, FinishReason: "stop"}, nil
	})
	llm, err := generate.NewLLM(generate.LLMConfig{Model: model})
	if err != nil {
		panic(err)
	}
	passages := []quarry.Passage{
		{Chunk: quarry.Chunk{ID: "returns#0", DocID: "returns", Title: "Returns", Text: "Returns are accepted within 30 days."}},
		{Chunk: quarry.Chunk{ID: "refunds#1", DocID: "refunds", Title: "Refunds", Text: "We refund the original payment method. Refunds reach your card within 5 business days."}},
	}
	ans, err := llm.Answer(context.Background(), "How long do refunds take?", passages, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(ans.Text)
	fmt.Println("grounded:", ans.Grounded)
	for _, c := range ans.Citations {
		fmt.Printf("[%d] %s: %s\n", c.N, c.ChunkID, c.Snippet)
	}
	// Output:
	// Refunds reach your card within 5 business days [1]. Shipping is free.
	// grounded: false
	// [1] refunds#1: Refunds reach your card within 5 business days.
}
