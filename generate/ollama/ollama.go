// Package ollama is a generate.Model for Ollama's native chat API (POST
// /api/chat), streaming newline-delimited JSON when asked to. Ollama
// also speaks the OpenAI-compatible API at /v1 (use generate/openai for
// that); the native API adds options such as the context window size.
package ollama

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

// DefaultBaseURL is where a local Ollama listens.
const DefaultBaseURL = "http://localhost:11434"

// maxResponse bounds a non-streamed response body.
const maxResponse = 16 << 20

// Config configures a Client. Zero values mean the defaults.
type Config struct {
	// BaseURL is the server root, without /api (default
	// "http://localhost:11434").
	BaseURL string
	// Model is the model name, e.g. "qwen2.5:7b". Required.
	Model string
	// Timeout bounds one attempt, a whole streamed answer and the
	// model's loading included (default 2 minutes).
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried
	// (default 3; negative for none).
	MaxRetries int
	// NumCtx sets the model's context window in tokens (options.num_ctx);
	// 0 leaves Ollama's default, which may be smaller than a long
	// grounded prompt.
	NumCtx int
	// KeepAlive says how long Ollama keeps the model loaded after the
	// call, e.g. "10m"; "" leaves Ollama's default.
	KeepAlive string
	// HTTPClient sends the requests; nil means a client of the Client's
	// own, released by Close.
	HTTPClient *http.Client
}

// Client is a generate.Model talking to Ollama. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	url  string
	http *httpx.Client
}

var _ generate.Model = (*Client)(nil)

// New returns a Client for cfg. It does not contact the server.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "ollama: no model configured")
	}
	if cfg.NumCtx < 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "ollama: negative context size %d", cfg.NumCtx)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := httpx.Endpoint("ollama", cfg.BaseURL, "/api/chat")
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, url: u, http: httpx.New("ollama", cfg.HTTPClient, "", cfg.Timeout, cfg.MaxRetries)}, nil
}

// Close releases the Client's idle connections.
func (c *Client) Close() error { return c.http.Close() }

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

type chatRequest struct {
	Model     string           `json:"model"`
	Messages  []quarry.Message `json:"messages"`
	Stream    bool             `json:"stream"` // always sent: Ollama streams by default
	Options   *options         `json:"options,omitempty"`
	KeepAlive string           `json:"keep_alive,omitempty"`
}

type options struct {
	Temperature *float64 `json:"temperature,omitempty"`
	NumPredict  int      `json:"num_predict,omitempty"`
	NumCtx      int      `json:"num_ctx,omitempty"`
	Stop        []string `json:"stop,omitempty"`
}

// chatResponse is a whole response, or one line of a stream.
type chatResponse struct {
	Message *struct {
		Content string `json:"content"`
	} `json:"message"`
	Done            bool   `json:"done"`
	DoneReason      string `json:"done_reason"`
	PromptEvalCount int    `json:"prompt_eval_count"`
	EvalCount       int    `json:"eval_count"`
	Error           string `json:"error"`
}

func (r chatResponse) usage() generate.Usage {
	return generate.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount}
}

// Chat implements generate.Model.
func (c *Client) Chat(ctx context.Context, req generate.ChatRequest, onDelta func(string) error) (generate.ChatResponse, error) {
	if len(req.Messages) == 0 {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeInvalid, "ollama: no messages to send")
	}
	if req.MaxTokens < 0 {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeInvalid, "ollama: negative max tokens %d", req.MaxTokens)
	}
	body := chatRequest{
		Model:     c.cfg.Model,
		Messages:  req.Messages,
		Stream:    onDelta != nil,
		KeepAlive: c.cfg.KeepAlive,
	}
	opts := options{Temperature: req.Temperature, NumPredict: req.MaxTokens, NumCtx: c.cfg.NumCtx, Stop: req.Stop}
	if opts.Temperature != nil || opts.NumPredict != 0 || opts.NumCtx != 0 || len(opts.Stop) > 0 {
		body.Options = &opts
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeInvalid, "ollama: encode request: %w", err)
	}
	var out generate.ChatResponse
	hreq := httpx.Request{URL: c.url, Body: raw}
	if onDelta == nil {
		err = c.http.Do(ctx, hreq, func(resp *http.Response) error {
			out, err = c.readWhole(ctx, resp)
			return err
		})
	} else {
		hreq.Header = http.Header{"Accept": {"application/x-ndjson"}}
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

func (c *Client) readWhole(ctx context.Context, resp *http.Response) (generate.ChatResponse, error) {
	var v chatResponse
	if err := c.http.ReadJSON(ctx, resp, maxResponse, &v); err != nil {
		return generate.ChatResponse{}, err
	}
	if v.Error != "" {
		return generate.ChatResponse{}, quarry.Errorf(quarry.CodeUnavailable, "ollama: %s", v.Error)
	}
	if v.Message == nil {
		return generate.ChatResponse{}, c.http.Malformed(errors.New("no message in the response"))
	}
	return generate.ChatResponse{Text: v.Message.Content, FinishReason: v.DoneReason, Usage: v.usage()}, nil
}

func (c *Client) readStream(ctx context.Context, resp *http.Response, onDelta func(string) error) (generate.ChatResponse, error) {
	var (
		out       generate.ChatResponse
		text      strings.Builder
		delivered bool
	)
	lines := newLineReader(resp.Body)
	for {
		line, unterminated, err := lines.Next()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return out, c.http.Malformed(err)
			}
			// The stream ended (or broke) before the line with "done".
			return out, c.http.ReadError(ctx, resp, err, delivered)
		}
		var v chatResponse
		if err := json.Unmarshal(line, &v); err != nil {
			if unterminated {
				return out, c.http.ReadError(ctx, resp, io.ErrUnexpectedEOF, delivered)
			}
			return out, c.http.Malformed(err)
		}
		if v.Error != "" {
			return out, quarry.Errorf(quarry.CodeUnavailable, "ollama: error in stream: %s", v.Error)
		}
		if v.Message != nil && v.Message.Content != "" {
			text.WriteString(v.Message.Content)
			delivered = true
			if err := onDelta(v.Message.Content); err != nil {
				return out, err
			}
		}
		if v.Done {
			out.FinishReason = v.DoneReason
			out.Usage = v.usage()
			break
		}
	}
	out.Text = text.String()
	return out, nil
}
