// Package ollamaembed is an index.Embedder for Ollama's native embedding
// API (POST /api/embed, which takes a batch of inputs). Texts are sent in
// batches, a bounded number at a time, with the retries of
// internal/httpx; vectors come back in input order and are checked
// against the embedder's Space.
package ollamaembed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/internal/httpx"
)

// DefaultBaseURL is where a local Ollama listens.
const DefaultBaseURL = "http://localhost:11434"

const maxResponse = 64 << 20

// probeText is embedded once by New to learn the dimension when the
// configuration does not give it.
const probeText = "dimension probe"

// Config configures an Embedder. Zero values mean the defaults.
type Config struct {
	// BaseURL is the server root, without /api (default
	// "http://localhost:11434").
	BaseURL string
	// Model is the embedding model, e.g. "nomic-embed-text" or
	// "bge-m3". Required.
	Model string
	// Dim is the vectors' dimension; 0 means ask the server once, in New.
	Dim int
	// QueryPrefix and PassagePrefix are put before query and passage
	// texts, for models trained with them ("search_query: " and
	// "search_document: " for nomic-embed-text, "query: " and
	// "passage: " for e5). They change the vectors, so they are part of
	// the Space's name.
	QueryPrefix   string
	PassagePrefix string
	// BatchSize is the most texts per request (default 64).
	BatchSize int
	// Concurrency is the most requests in flight (default 2).
	Concurrency int
	// KeepAlive says how long Ollama keeps the model loaded, e.g. "30m";
	// "" leaves Ollama's default.
	KeepAlive string
	// Timeout bounds one request, loading the model included (default 2
	// minutes).
	Timeout time.Duration
	// MaxRetries is how many times a failed request is retried
	// (default 3; negative for none).
	MaxRetries int
	// HTTPClient sends the requests; nil means one of the Embedder's
	// own, released by Close.
	HTTPClient *http.Client
}

// Embedder is an index.Embedder over Ollama. It is safe for concurrent
// use.
type Embedder struct {
	cfg   Config
	url   string
	space index.Space
	http  *httpx.Client
}

var _ index.Embedder = (*Embedder)(nil)

// New returns an Embedder for cfg. When cfg.Dim is 0 it embeds one probe
// text to learn the dimension, so the server must be reachable.
func New(ctx context.Context, cfg Config) (*Embedder, error) {
	e, err := newEmbedder(cfg)
	if err != nil {
		return nil, err
	}
	if e.space.Dim == 0 {
		vecs, err := e.embed(ctx, []string{probeText})
		if err == nil {
			err = httpx.CheckDim("ollamaembed", vecs[0], 0)
		}
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("learn the embedding dimension: %w", err)
		}
		e.space.Dim = len(vecs[0])
	}
	return e, nil
}

func newEmbedder(cfg Config) (*Embedder, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "ollamaembed: no model configured")
	}
	if cfg.Dim < 0 || cfg.BatchSize < 0 || cfg.Concurrency < 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "ollamaembed: negative dimension, batch size or concurrency")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := httpx.Endpoint("ollamaembed", cfg.BaseURL, "/api/embed")
	if err != nil {
		return nil, err
	}
	e := &Embedder{
		cfg: cfg,
		url: u,
		space: index.Space{
			Embedder: httpx.SpaceName("ollama", cfg.Model, cfg.QueryPrefix, cfg.PassagePrefix),
			Dim:      cfg.Dim,
			Distance: "cosine",
		},
	}
	e.http = httpx.New("ollamaembed", cfg.HTTPClient, "", cfg.Timeout, cfg.MaxRetries)
	return e, nil
}

// Space implements index.Embedder.
func (e *Embedder) Space() index.Space { return e.space }

// Close releases the Embedder's idle connections.
func (e *Embedder) Close() error { return e.http.Close() }

// EmbedPassages implements index.Embedder.
func (e *Embedder) EmbedPassages(ctx context.Context, texts []string) ([]index.Vector, error) {
	in := texts
	if p := e.cfg.PassagePrefix; p != "" {
		in = make([]string, len(texts))
		for i, t := range texts {
			in[i] = p + t
		}
	}
	return httpx.EmbedBatches(ctx, "ollamaembed", in, e.cfg.BatchSize, e.cfg.Concurrency, e.space.Dim, e.embed)
}

// EmbedQuery implements index.Embedder.
func (e *Embedder) EmbedQuery(ctx context.Context, text string) (index.Vector, error) {
	vs, err := httpx.EmbedBatches(ctx, "ollamaembed", []string{e.cfg.QueryPrefix + text}, 1, 1, e.space.Dim, e.embed)
	if err != nil {
		return index.Vector{}, err
	}
	return vs[0], nil
}

type embedRequest struct {
	Model     string   `json:"model"`
	Input     []string `json:"input"`
	KeepAlive string   `json:"keep_alive,omitempty"`
}

type embedResponse struct {
	Embeddings [][]float32 `json:"embeddings"`
	Error      string      `json:"error"`
}

// embed sends one batch; Ollama answers in input order.
func (e *Embedder) embed(ctx context.Context, batch []string) ([][]float32, error) {
	raw, err := json.Marshal(embedRequest{Model: e.cfg.Model, Input: batch, KeepAlive: e.cfg.KeepAlive})
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "ollamaembed: encode request: %w", err)
	}
	var out [][]float32
	err = e.http.Do(ctx, httpx.Request{URL: e.url, Body: raw}, func(resp *http.Response) error {
		var v embedResponse
		if err := e.http.ReadJSON(ctx, resp, maxResponse, &v); err != nil {
			return err
		}
		if v.Error != "" {
			return quarry.Errorf(quarry.CodeUnavailable, "ollamaembed: %s", v.Error)
		}
		if len(v.Embeddings) != len(batch) {
			return e.http.Malformed(fmt.Errorf("%d embeddings for %d texts", len(v.Embeddings), len(batch)))
		}
		out = v.Embeddings
		return nil
	})
	return out, err
}
