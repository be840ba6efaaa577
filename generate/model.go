package generate

import (
	"context"

	"github.com/quarry-kb/quarry"
)

// Model is a chat language model: the one thing the LLM answerer and the
// LLM rewriter need from a provider. Adapters live in subpackages
// (generate/openai for any OpenAI-compatible API, generate/ollama for
// Ollama's native API); they translate provider failures into quarry
// error codes.
type Model interface {
	// Chat sends the conversation and returns the model's reply. With a
	// nil onDelta the reply arrives in one piece; otherwise it is
	// streamed, each piece of text passed to onDelta as it comes, and
	// the returned ChatResponse holds the whole text as well. An error
	// from onDelta stops the stream and is returned unchanged.
	Chat(ctx context.Context, req ChatRequest, onDelta func(string) error) (ChatResponse, error)
}

// ChatRequest is one call to a Model.
type ChatRequest struct {
	Messages    []quarry.Message
	MaxTokens   int      // upper bound on the reply's tokens; 0 leaves it to the provider
	Temperature *float64 // nil leaves it to the provider
	Stop        []string // sequences that end the reply
}

// ChatResponse is a Model's reply.
type ChatResponse struct {
	Text string
	// FinishReason says why the model stopped, as the provider reports
	// it: "stop" (done or a stop sequence), "length" (MaxTokens
	// reached), or a provider-specific value.
	FinishReason string
	Usage        Usage
}

// Usage counts the tokens a call consumed, as the provider reports
// them (zero when it does not).
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// ModelFunc adapts a function to the Model interface, for tests and for
// wrapping one model in another (logging, metrics).
type ModelFunc func(ctx context.Context, req ChatRequest, onDelta func(string) error) (ChatResponse, error)

// Chat calls f.
func (f ModelFunc) Chat(ctx context.Context, req ChatRequest, onDelta func(string) error) (ChatResponse, error) {
	return f(ctx, req, onDelta)
}
