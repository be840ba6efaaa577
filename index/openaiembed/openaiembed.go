// Package openaiembed is an index.Embedder for OpenAI-compatible
// embedding APIs (POST {BaseURL}/embeddings): OpenAI, vLLM, Hugging
// Face text-embeddings-inference, LM Studio, Ollama's /v1 and others.
// Texts are sent in batches, a bounded number at a time, with the
// retries of internal/httpx; vectors come back in input order and are
// checked against the embedder's Space.
package openaiembed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/internal/httpx"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// maxResponse bounds one response body (64 vectors of 3072 floats in
// JSON take about 4 MB).
const maxResponse = 64 << 20

// probeText is embedded once by New to learn the dimension when the
// configuration does not give it.
const probeText = "dimension probe"

// Config configures an Embedder. Zero values mean the defaults.
type Config struct {
	// BaseURL is the API root including the version, e.g.
	// "https://api.openai.com/v1" (the default) or
	// "http://localhost:8080/v1" (text-embeddings-inference).
	BaseURL string
	// Model is the embedding model, e.g. "text-embedding-3-small".
	// Required.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>" when set. It is
	// never logged and is blanked out of error messages.
	APIKey string
	// Dim is the vectors' dimension. 0 means: Dimensions if set, else
	// ask the server once, in New.
	Dim int
	// Dimensions, when set, is sent as the "dimensions" parameter, which
	// text-embedding-3 models use to return shortened vectors.
	Dimensions int
	// QueryPrefix and PassagePrefix are put before query and passage
	// texts, for models trained with them (e5: "query: ", "passage: ").
	// They change the vectors, so they are part of the Space's name.
	QueryPrefix   string
	PassagePrefix string
	// BatchSize is the most texts per request (default 64).
	BatchSize int
	// Concurrency is the most requests in flight (default 2).
	Concurrency int
	// Timeout bounds one request (default 2 minutes).
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried
	// (default 3; negative for none).
	MaxRetries int
	// HTTPClient sends the requests; nil means one of the Embedder's
	// own, released by Close.
	HTTPClient *http.Client
}

// Embedder is an index.Embedder over an OpenAI-compatible API. It is
// safe for concurrent use.
type Embedder struct {
	cfg   Config
	url   string
	space index.Space
	http  *httpx.Client
}

var _ index.Embedder = (*Embedder)(nil)

// New returns an Embedder for cfg. When neither cfg.Dim nor
// cfg.Dimensions is set it embeds one probe text to learn the
// dimension, so the server must be reachable.
func New(ctx context.Context, cfg Config) (*Embedder, error) {
	e, err := newEmbedder(cfg)
	if err != nil {
		return nil, err
	}
	if e.space.Dim == 0 {
		if err := e.probe(ctx); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

func newEmbedder(cfg Config) (*Embedder, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "openaiembed: no model configured")
	}
	if cfg.Dim < 0 || cfg.Dimensions < 0 || cfg.BatchSize < 0 || cfg.Concurrency < 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "openaiembed: negative dimension, batch size or concurrency")
	}
	if cfg.Dim > 0 && cfg.Dimensions > 0 && cfg.Dim != cfg.Dimensions {
		return nil, quarry.Errorf(quarry.CodeInvalid, "openaiembed: dimension %d contradicts the requested dimensions %d", cfg.Dim, cfg.Dimensions)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := httpx.Endpoint("openaiembed", cfg.BaseURL, "/embeddings")
	if err != nil {
		return nil, err
	}
	dim := cfg.Dim
	if dim == 0 {
		dim = cfg.Dimensions
	}
	e := &Embedder{
		cfg: cfg,
		url: u,
		space: index.Space{
			Embedder: httpx.SpaceName("openai", cfg.Model, cfg.QueryPrefix, cfg.PassagePrefix),
			Dim:      dim,
			Distance: "cosine",
		},
	}
	e.http = httpx.New("openaiembed", cfg.HTTPClient, cfg.APIKey, cfg.Timeout, cfg.MaxRetries)
	return e, nil
}

func (e *Embedder) probe(ctx context.Context) error {
	vecs, err := e.embed(ctx, []string{probeText})
	if err != nil {
		return fmt.Errorf("learn the embedding dimension: %w", err)
	}
	if len(vecs) != 1 {
		return quarry.Errorf(quarry.CodeUnavailable, "openaiembed: malformed response: %d embeddings for 1 text", len(vecs))
	}
	if err := httpx.CheckDim("openaiembed", vecs[0], 0); err != nil {
		return err
	}
	e.space.Dim = len(vecs[0])
	return nil
}

// Space implements index.Embedder.
func (e *Embedder) Space() index.Space { return e.space }

// Close releases the Embedder's idle connections.
func (e *Embedder) Close() error { return e.http.Close() }

// EmbedPassages implements index.Embedder.
func (e *Embedder) EmbedPassages(ctx context.Context, texts []string) ([]index.Vector, error) {
	return httpx.EmbedBatches(ctx, "openaiembed", prefixed(e.cfg.PassagePrefix, texts),
		e.cfg.BatchSize, e.cfg.Concurrency, e.space.Dim, e.embed)
}

// EmbedQuery implements index.Embedder.
func (e *Embedder) EmbedQuery(ctx context.Context, text string) (index.Vector, error) {
	vs, err := httpx.EmbedBatches(ctx, "openaiembed", []string{e.cfg.QueryPrefix + text}, 1, 1, e.space.Dim, e.embed)
	if err != nil {
		return index.Vector{}, err
	}
	return vs[0], nil
}

func prefixed(prefix string, texts []string) []string {
	if prefix == "" {
		return texts
	}
	out := make([]string, len(texts))
	for i, t := range texts {
		out[i] = prefix + t
	}
	return out
}

type embedRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type embedResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// embed sends one batch and returns its vectors in input order.
func (e *Embedder) embed(ctx context.Context, batch []string) ([][]float32, error) {
	raw, err := json.Marshal(embedRequest{Model: e.cfg.Model, Input: batch, EncodingFormat: "float", Dimensions: e.cfg.Dimensions})
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "openaiembed: encode request: %w", err)
	}
	var out [][]float32
	err = e.http.Do(ctx, httpx.Request{URL: e.url, Body: raw}, func(resp *http.Response) error {
		var v embedResponse
		if err := e.http.ReadJSON(ctx, resp, maxResponse, &v); err != nil {
			return err
		}
		out, err = inOrder(v, len(batch))
		if err != nil {
			return e.http.Malformed(err)
		}
		return nil
	})
	return out, err
}

// inOrder places the response's embeddings by their index. A server
// that leaves the index out (every index 0) is taken to answer in order.
func inOrder(v embedResponse, n int) ([][]float32, error) {
	if len(v.Data) != n {
		return nil, fmt.Errorf("%d embeddings for %d texts", len(v.Data), n)
	}
	out := make([][]float32, n)
	positional := n > 1
	for _, d := range v.Data {
		if d.Index != 0 {
			positional = false
		}
	}
	for i, d := range v.Data {
		at := d.Index
		if positional {
			at = i
		}
		if at < 0 || at >= n {
			return nil, fmt.Errorf("embedding index %d out of range [0, %d)", at, n)
		}
		if out[at] != nil {
			return nil, fmt.Errorf("embedding index %d repeated", at)
		}
		if d.Embedding == nil {
			return nil, errors.New("embedding missing")
		}
		out[at] = d.Embedding
	}
	return out, nil
}
