package openaiembed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

const testKey = "sk-embed-secret-42"

// server is a fake OpenAI-compatible embeddings endpoint. It embeds text
// "t<N>" (after any prefix) as [N, len(text), 1], answers with the data
// in reverse order (so that only the index fields give the order), and
// records requests and the most requests it saw at once.
type server struct {
	srv      *httptest.Server
	calls    atomic.Int32
	inflight atomic.Int32
	peak     atomic.Int32
	mu       sync.Mutex
	reqs     []request
	dim      int
	fail     func(n int, w http.ResponseWriter) bool // answers the n-th call itself when true
}

type request struct {
	Path, Auth string
	Body       struct {
		Model          string   `json:"model"`
		Input          []string `json:"input"`
		EncodingFormat string   `json:"encoding_format"`
		Dimensions     int      `json:"dimensions"`
	}
}

func newServer(t *testing.T) *server {
	s := &server{dim: 3}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.calls.Add(1)) - 1
	cur := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for p := s.peak.Load(); cur > p && !s.peak.CompareAndSwap(p, cur); p = s.peak.Load() {
	}
	var req request
	req.Path, req.Auth = r.URL.Path, r.Header.Get("Authorization")
	raw, _ := io.ReadAll(r.Body)
	json.Unmarshal(raw, &req.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	if s.fail != nil && s.fail(n, w) {
		return
	}
	time.Sleep(2 * time.Millisecond) // let concurrent batches overlap
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	for i := len(req.Body.Input) - 1; i >= 0; i-- {
		text := req.Body.Input[i]
		v := make([]float32, s.dim)
		if j := strings.LastIndex(text, "t"); j >= 0 {
			num, _ := strconv.Atoi(text[j+1:])
			v[0] = float32(num)
		}
		if s.dim > 1 {
			v[1] = float32(len(text))
		}
		data = append(data, item{"embedding", i, v})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Body.Model,
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

func (s *server) embedder(t *testing.T, cfg Config) *Embedder {
	t.Helper()
	cfg.BaseURL = s.srv.URL + "/v1"
	if cfg.Model == "" {
		cfg.Model = "text-embedding-3-small"
	}
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	e, err := newEmbedder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.http.Retry.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	t.Cleanup(func() { e.Close() })
	return e
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
	}
	return out
}

func TestEmbedPassagesBatchesInOrder(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Dim: 3, Concurrency: 2})
	vecs, err := e.EmbedPassages(context.Background(), texts(150))
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 150 {
		t.Fatalf("%d vectors", len(vecs))
	}
	for i, v := range vecs {
		if len(v.Dense) != 3 || v.Dense[0] != float32(i) {
			t.Fatalf("vector %d = %v: out of order", i, v.Dense)
		}
	}
	reqs := s.requests()
	var sizes []int
	for _, r := range reqs {
		sizes = append(sizes, len(r.Body.Input))
		if r.Path != "/v1/embeddings" || r.Auth != "Bearer "+testKey || r.Body.Model != "text-embedding-3-small" || r.Body.EncodingFormat != "float" {
			t.Errorf("request %+v", r)
		}
	}
	if len(sizes) != 3 || sizes[0]+sizes[1]+sizes[2] != 150 || max(sizes[0], sizes[1], sizes[2]) != 64 {
		t.Errorf("batch sizes = %v, want 64, 64, 22 in some order", sizes)
	}
	if p := s.peak.Load(); p > 2 {
		t.Errorf("%d requests at once, limit 2", p)
	}
}

func TestBatchSizeAndConcurrencyConfigurable(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Dim: 3, BatchSize: 10, Concurrency: 1})
	if _, err := e.EmbedPassages(context.Background(), texts(35)); err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 4 || s.peak.Load() != 1 {
		t.Errorf("calls = %d, peak = %d; want 4 calls one at a time", s.calls.Load(), s.peak.Load())
	}
}

func TestPrefixesAndSpace(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Model: "intfloat/e5-large-v2", Dim: 3, QueryPrefix: "query: ", PassagePrefix: "passage: "})
	if _, err := e.EmbedPassages(context.Background(), []string{"t1"}); err != nil {
		t.Fatal(err)
	}
	q, err := e.EmbedQuery(context.Background(), "t2")
	if err != nil {
		t.Fatal(err)
	}
	if q.Dense[0] != 2 || q.Dense[1] != float32(len("query: t2")) {
		t.Errorf("query vector = %v", q.Dense)
	}
	reqs := s.requests()
	if reqs[0].Body.Input[0] != "passage: t1" || reqs[1].Body.Input[0] != "query: t2" {
		t.Errorf("inputs = %q, %q", reqs[0].Body.Input, reqs[1].Body.Input)
	}
	want := index.Space{Embedder: `openai:intfloat/e5-large-v2;query="query: ";passage="passage: "`, Dim: 3, Distance: "cosine"}
	if e.Space() != want {
		t.Errorf("space = %+v, want %+v", e.Space(), want)
	}
	plain := s.embedder(t, Config{Model: "intfloat/e5-large-v2", Dim: 3})
	if plain.Space().Equal(e.Space()) {
		t.Error("prefixes do not change the space")
	}
}

func TestNewProbesDimension(t *testing.T) {
	s := newServer(t)
	s.dim = 5
	e, err := New(context.Background(), Config{BaseURL: s.srv.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Space().Dim != 5 || s.calls.Load() != 1 {
		t.Errorf("dim = %d after %d calls; want 5 after 1", e.Space().Dim, s.calls.Load())
	}
	if r := s.requests()[0]; r.Auth != "" {
		t.Errorf("Authorization sent without a key: %q", r.Auth)
	}

	// Given a dimension, New does not call the server.
	e2, err := New(context.Background(), Config{BaseURL: s.srv.URL + "/v1", Model: "m", Dimensions: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if e2.Space().Dim != 256 || s.calls.Load() != 1 {
		t.Errorf("dim = %d, calls = %d", e2.Space().Dim, s.calls.Load())
	}
}

func TestDimensionsParameterSent(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Dimensions: 3})
	if _, err := e.EmbedQuery(context.Background(), "t1"); err != nil {
		t.Fatal(err)
	}
	if d := s.requests()[0].Body.Dimensions; d != 3 {
		t.Errorf("dimensions = %d", d)
	}
}

func TestDimensionMismatchIsConflict(t *testing.T) {
	s := newServer(t)
	s.dim = 4
	e := s.embedder(t, Config{Dim: 3})
	_, err := e.EmbedPassages(context.Background(), texts(5))
	if !errors.Is(err, quarry.ErrConflict) || !strings.Contains(err.Error(), "4 dimensions, the space has 3") {
		t.Errorf("err = %v, want conflict", err)
	}
	if _, err := e.EmbedQuery(context.Background(), "t1"); !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("query: %v", err)
	}
}

func TestEmbedErrors(t *testing.T) {
	reply := func(status int, body string, hdr ...string) func(int, http.ResponseWriter) bool {
		return func(n int, w http.ResponseWriter) bool {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
			return true
		}
	}
	tests := []struct {
		name     string
		fail     func(int, http.ResponseWriter) bool
		code     quarry.Code
		contains string
		calls    int32
	}{
		{"bad key", reply(401, `{"error":{"message":"Incorrect API key provided: `+testKey+`","code":"invalid_api_key"}}`),
			quarry.CodeUnavailable, "check the API key", 1},
		{"unknown model", reply(404, `{"error":{"message":"The model 'nope' does not exist","code":"model_not_found"}}`),
			quarry.CodeNotFound, "does not exist", 1},
		{"input too long", reply(400, `{"error":{"message":"This model's maximum context length is 8192 tokens"}}`),
			quarry.CodeInvalid, "maximum context length", 1},
		{"TEI payload too large", reply(413, `{"error":"batch size 100 > maximum allowed batch size 32","error_type":"Validation"}`),
			quarry.CodeTooLarge, "maximum allowed batch size", 1},
		{"rate limited after retries", reply(429, `{"error":{"message":"slow down"}}`, "Retry-After", "1"),
			quarry.CodeUnavailable, "rate limited", 4},
		{"malformed JSON", reply(200, `{"data":[{"index":0,"embedding":[1,2`),
			quarry.CodeUnavailable, "malformed response", 1},
		{"too few embeddings", reply(200, `{"data":[]}`),
			quarry.CodeUnavailable, "0 embeddings for 2 texts", 1},
		{"index out of range", reply(200, `{"data":[{"index":0,"embedding":[1,2,3]},{"index":5,"embedding":[1,2,3]}]}`),
			quarry.CodeUnavailable, "out of range", 1},
		{"index repeated", reply(200, `{"data":[{"index":1,"embedding":[1,2,3]},{"index":1,"embedding":[1,2,3]}]}`),
			quarry.CodeUnavailable, "repeated", 1},
		{"empty embedding", reply(200, `{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[]}]}`),
			quarry.CodeUnavailable, "empty embedding", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.fail = tt.fail
			e := s.embedder(t, Config{Dim: 3})
			_, err := e.EmbedPassages(context.Background(), []string{"t1", "t2"})
			if quarry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("err = %v (%s), want %s containing %q", err, quarry.ErrorCode(err), tt.code, tt.contains)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
			if s.calls.Load() != tt.calls {
				t.Errorf("calls = %d, want %d", s.calls.Load(), tt.calls)
			}
		})
	}
}

func TestEmbedRetries(t *testing.T) {
	tests := []struct {
		name   string
		status int
		hdr    string
	}{
		{"429 with Retry-After", 429, "2"},
		{"500", 500, ""},
		{"503", 503, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.fail = func(n int, w http.ResponseWriter) bool {
				if n > 0 {
					return false
				}
				if tt.hdr != "" {
					w.Header().Set("Retry-After", tt.hdr)
				}
				w.WriteHeader(tt.status)
				return true
			}
			e := s.embedder(t, Config{Dim: 3})
			var waits []time.Duration
			e.http.Retry.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			vecs, err := e.EmbedPassages(context.Background(), texts(3))
			if err != nil {
				t.Fatal(err)
			}
			if vecs[2].Dense[0] != 2 || s.calls.Load() != 2 || len(waits) != 1 {
				t.Errorf("vecs = %v, calls = %d, waits = %v", vecs, s.calls.Load(), waits)
			}
			if tt.hdr != "" && waits[0].String() != tt.hdr+"s" {
				t.Errorf("waited %v, want %ss", waits[0], tt.hdr)
			}
		})
	}
}

func TestEmbedBadInput(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Dim: 3})
	if _, err := e.EmbedPassages(context.Background(), []string{"t1", "  "}); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("empty passage: %v", err)
	}
	if _, err := e.EmbedQuery(context.Background(), ""); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("empty query: %v", err)
	}
	if s.calls.Load() != 0 {
		t.Errorf("%d calls for bad input", s.calls.Load())
	}
	vecs, err := e.EmbedPassages(context.Background(), nil)
	if err != nil || len(vecs) != 0 || s.calls.Load() != 0 {
		t.Errorf("no texts: %v, %v, %d calls", vecs, err, s.calls.Load())
	}
}

func TestEmbedCanceled(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	s.fail = func(n int, w http.ResponseWriter) bool { cancel(); return false }
	e := s.embedder(t, Config{Dim: 3, BatchSize: 1, Concurrency: 1})
	_, err := e.EmbedPassages(ctx, texts(10))
	if !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("err = %v, want canceled", err)
	}
	if s.calls.Load() > 2 {
		t.Errorf("%d calls after cancel", s.calls.Load())
	}
}

func TestNewInvalid(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Model: "m", BaseURL: "api.openai.com/v1"},
		{Model: "m", BaseURL: "https://u:p@x/v1", Dim: 3},
		{Model: "m", Dim: 3, Dimensions: 4},
		{Model: "m", Dim: -1},
	} {
		if _, err := New(context.Background(), cfg); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want invalid", cfg, err)
		}
	}
}

func TestInOrderPositionalFallback(t *testing.T) {
	// A server that leaves out the index field answers in input order.
	var v embedResponse
	json.Unmarshal([]byte(`{"data":[{"embedding":[1]},{"embedding":[2]},{"embedding":[3]}]}`), &v)
	out, err := inOrder(v, 3)
	if err != nil || fmt.Sprint(out) != "[[1] [2] [3]]" {
		t.Errorf("inOrder = %v, %v", out, err)
	}
}
