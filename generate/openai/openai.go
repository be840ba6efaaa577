// Package openai is a generate.Model for any OpenAI-compatible
// chat-completions API: OpenAI itself, vLLM, the llama.cpp server, LM
// Studio, Ollama's /v1, DeepSeek, Qwen's compatible mode and others. It
// POSTs to {BaseURL}/chat/completions, streams with server-sent events
// when asked to, retries what is worth retrying (see internal/httpx) and
// turns the provider's errors into quarry error codes.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/internal/httpx"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// maxResponse bounds a non-streamed response body.
const maxResponse = 16 << 20

// Config configures a Client. Zero values mean the defaults.
type Config struct {
	// BaseURL is the API root, up to and including the version:
	// "https://api.openai.com/v1" (the default),
	// "http://localhost:8000/v1" (vLLM), "http://localhost:11434/v1"
	// (Ollama), "https://api.deepseek.com/v1".
	BaseURL string
	// Model is the model name, e.g. "gpt-4o-mini". Required.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>" when set (local
	// servers usually need none). It is never logged and is blanked out
	// of error messages.
	APIKey string
	// Timeout bounds one attempt, a whole streamed answer included
	// (default 2 minutes).
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried
	// (default 3; negative for none).
	MaxRetries int
	// HTTPClient sends the requests; nil means a client of the Client's
	// own, released by Close.
	HTTPClient *http.Client
	// NoStreamUsage leaves out stream_options.include_usage, for the
	// few servers that reject it; streamed answers then report no
	// token usage.
	NoStreamUsage bool
}

// Client is a generate.Model talking to an OpenAI-compatible API. It is
// safe for concurrent use.
type Client struct {
	cfg  Config
	url  string
	http *httpx.Client
}

var _ generate.Model = (*Client)(nil)

// New returns a Client for cfg. It does not contact the server.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "openai: no model configured")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := httpx.Endpoint("openai", cfg.BaseURL, "/chat/completions")
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, url: u, http: httpx.New("openai", cfg.HTTPClient, cfg.APIKey, cfg.Timeout, cfg.MaxRetries)}, nil
}

// checkBaseURL validates an API root and returns it without a trailing
// slash.

// Close releases the Client's idle connections.
func (c *Client) Close() error { return c.http.Close() }

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

type chatRequest struct {
	Model         string           `json:"model"`
	Messages      []quarry.Message `json:"messages"`
	MaxTokens     int              `json:"max_tokens,omitempty"`
	Temperature   *float64         `json:"temperature,omitempty"`
	Stop          []string         `json:"stop,omitempty"`
	Stream        bool             `json:"stream,omitempty"`
	StreamOptions *streamOptions   `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// completion is a non-streamed response.
type completion struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage usage           `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// chunk is one streamed event.
type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// Chat implements generate.Model.
func (c *Client) Chat(ctx context.Context, req generate.ChatRequest, onDelta func(string) error) (generate.ChatResponse, error) {
	if len(req.Messages) == 0 {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeInvalid, "openai: no messages to send")
	}
	if req.MaxTokens < 0 {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeInvalid, "openai: negative max tokens %d", req.MaxTokens)
	}
	body := chatRequest{
		Model:       c.cfg.Model,
		Messages:    req.Messages,
		MaxTokens:   req.MaxTokens,
		Temperature: req.Temperature,
		Stop:        req.Stop,
		Stream:      onDelta != nil,
	}
	if onDelta != nil && !c.cfg.NoStreamUsage {
		body.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeInvalid, "openai: encode request: %w", err)
	}
	var out generate.ChatResponse
	hreq := httpx.Request{URL: c.url, Body: raw}
	if onDelta == nil {
		err = c.http.Do(ctx, hreq, func(resp *http.Response) error {
			out, err = c.readCompletion(ctx, resp)
			return err
		})
	} else {
		hreq.Header = http.Header{"Accept": {"text/event-stream"}}
		err = c.http.Do(ctx, hreq, func(resp *http.Response) error {
			out, err = c.readStream(ctx, resp, onDelta)
			return err
		})
	}
	if err != nil {
		return generate.ChatResponse{}, err
	}
	return out, nil
}

func (c *Client) readCompletion(ctx context.Context, resp *http.Response) (generate.ChatResponse, error) {
	var v completion
	if err := c.http.ReadJSON(ctx, resp, maxResponse, &v); err != nil {
		return generate.ChatResponse{}, err
	}
	if len(v.Choices) == 0 {
		if e := errorIn(v.Error); e != "" {
			return generate.ChatResponse{}, quarry.Errorf(quarry.CodeUnavailable, "openai: %s", c.redact(e))
		}
		return generate.ChatResponse{}, c.http.Malformed(errors.New("no choices"))
	}
	ch := v.Choices[0]
	if ch.Message.Content == nil {
		return generate.ChatResponse{}, c.http.Malformed(errors.New("choice without message content"))
	}
	return generate.ChatResponse{
		Text:         *ch.Message.Content,
		FinishReason: ch.FinishReason,
		Usage:        generate.Usage{PromptTokens: v.Usage.PromptTokens, CompletionTokens: v.Usage.CompletionTokens},
	}, nil
}

func (c *Client) readStream(ctx context.Context, resp *http.Response, onDelta func(string) error) (generate.ChatResponse, error) {
	var (
		out       generate.ChatResponse
		text      strings.Builder
		delivered bool
	)
	sse := newSSEReader(resp.Body)
	for {
		ev, err := sse.Next()
		if err != nil {
			if err == io.EOF && out.FinishReason != "" {
				// A few servers end the stream without "[DONE]" after
				// the final chunk; the answer is complete.
				break
			}
			if errors.Is(err, errLineTooLong) {
				return out, c.http.Malformed(err)
			}
			return out, c.http.ReadError(ctx, resp, err, delivered)
		}
		data := strings.TrimSpace(ev.Data)
		if data == "[DONE]" {
			break
		}
		if ev.Name == "error" {
			msg := httpx.ErrorMessage([]byte(data))
			return out, quarry.Errorf(quarry.CodeUnavailable, "openai: error in stream: %s", c.redact(msg))
		}
		if data == "" {
			continue
		}
		var ck chunk
		if err := json.Unmarshal([]byte(data), &ck); err != nil {
			return out, c.http.Malformed(err)
		}
		if e := errorIn(ck.Error); e != "" {
			return out, quarry.Errorf(quarry.CodeUnavailable, "openai: error in stream: %s", c.redact(e))
		}
		if ck.Usage != nil {
			out.Usage = generate.Usage{PromptTokens: ck.Usage.PromptTokens, CompletionTokens: ck.Usage.CompletionTokens}
		}
		if len(ck.Choices) == 0 {
			continue
		}
		ch := ck.Choices[0]
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			out.FinishReason = *ch.FinishReason
		}
		if d := ch.Delta.Content; d != "" {
			text.WriteString(d)
			delivered = true
			if err := onDelta(d); err != nil {
				return out, err
			}
		}
	}
	out.Text = text.String()
	return out, nil
}

// errorIn returns the message of an "error" member, "" when there is
// none.
func errorIn(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return httpx.ErrorMessage([]byte(`{"error":` + string(raw) + `}`))
}

func (c *Client) redact(s string) string {
	if len(c.cfg.APIKey) < 4 {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.APIKey, "[redacted]")
}
