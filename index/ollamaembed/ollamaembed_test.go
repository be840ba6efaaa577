package ollamaembed

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

// server is a fake Ollama /api/embed. It embeds "t<N>" (after any
// prefix) as [N, len(text), 0...] of dim dimensions.
type server struct {
	srv      *httptest.Server
	calls    atomic.Int32
	inflight atomic.Int32
	peak     atomic.Int32
	mu       sync.Mutex
	reqs     []request
	dim      int
	fail     func(n int, w http.ResponseWriter) bool
}

type request struct {
	Path string
	Body struct {
		Model     string   `json:"model"`
		Input     []string `json:"input"`
		KeepAlive string   `json:"keep_alive"`
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
	req.Path = r.URL.Path
	raw, _ := io.ReadAll(r.Body)
	json.Unmarshal(raw, &req.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	if s.fail != nil && s.fail(n, w) {
		return
	}
	time.Sleep(2 * time.Millisecond) // let concurrent batches overlap
	var embs [][]float32
	for _, text := range req.Body.Input {
		v := make([]float32, s.dim)
		if j := strings.LastIndex(text, "t"); j >= 0 {
			num, _ := strconv.Atoi(text[j+1:])
			v[0] = float32(num)
		}
		if s.dim > 1 {
			v[1] = float32(len(text))
		}
		embs = append(embs, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"model": req.Body.Model, "embeddings": embs, "total_duration": 1, "prompt_eval_count": 2})
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

func (s *server) embedder(t *testing.T, cfg Config) *Embedder {
	t.Helper()
	cfg.BaseURL = s.srv.URL
	if cfg.Model == "" {
		cfg.Model = "nomic-embed-text"
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
	e := s.embedder(t, Config{Dim: 3, KeepAlive: "30m"})
	vecs, err := e.EmbedPassages(context.Background(), texts(130))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if len(v.Dense) != 3 || v.Dense[0] != float32(i) {
			t.Fatalf("vector %d = %v: out of order", i, v.Dense)
		}
	}
	reqs := s.requests()
	total := 0
	for _, r := range reqs {
		total += len(r.Body.Input)
		if r.Path != "/api/embed" || r.Body.Model != "nomic-embed-text" || r.Body.KeepAlive != "30m" || len(r.Body.Input) > 64 {
			t.Errorf("request %+v", r)
		}
	}
	if len(reqs) != 3 || total != 130 {
		t.Errorf("%d requests for %d texts, want 3 for 130", len(reqs), total)
	}
	if s.peak.Load() > 2 {
		t.Errorf("%d requests at once, limit 2", s.peak.Load())
	}
}

func TestPrefixesAndSpace(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Dim: 3, QueryPrefix: "search_query: ", PassagePrefix: "search_document: "})
	if _, err := e.EmbedPassages(context.Background(), []string{"t1"}); err != nil {
		t.Fatal(err)
	}
	q, err := e.EmbedQuery(context.Background(), "t2")
	if err != nil || q.Dense[0] != 2 {
		t.Fatalf("query = %v, %v", q, err)
	}
	reqs := s.requests()
	if reqs[0].Body.Input[0] != "search_document: t1" || reqs[1].Body.Input[0] != "search_query: t2" {
		t.Errorf("inputs = %q, %q", reqs[0].Body.Input, reqs[1].Body.Input)
	}
	want := index.Space{Embedder: `ollama:nomic-embed-text;query="search_query: ";passage="search_document: "`, Dim: 3, Distance: "cosine"}
	if e.Space() != want {
		t.Errorf("space = %+v, want %+v", e.Space(), want)
	}
}

func TestNewProbesDimension(t *testing.T) {
	s := newServer(t)
	s.dim = 768
	e, err := New(context.Background(), Config{BaseURL: s.srv.URL, Model: "nomic-embed-text"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Space().Dim != 768 || s.calls.Load() != 1 {
		t.Errorf("dim = %d after %d calls", e.Space().Dim, s.calls.Load())
	}
	s.fail = func(int, http.ResponseWriter) bool { return false }
	_, err = New(context.Background(), Config{BaseURL: s.srv.URL + "/nowhere-but-ok", Model: "m", Dim: 12})
	if err != nil || s.calls.Load() != 1 {
		t.Errorf("New with Dim called the server or failed: %v", err)
	}
}

func TestNewProbeFailure(t *testing.T) {
	s := newServer(t)
	s.fail = func(n int, w http.ResponseWriter) bool {
		w.WriteHeader(404)
		io.WriteString(w, `{"error":"model \"nope\" not found, try pulling it first"}`)
		return true
	}
	_, err := New(context.Background(), Config{BaseURL: s.srv.URL, Model: "nope"})
	if !errors.Is(err, quarry.ErrNotFound) || !strings.Contains(err.Error(), "try pulling it first") {
		t.Errorf("err = %v, want not found", err)
	}
}

func TestDimensionMismatchIsConflict(t *testing.T) {
	s := newServer(t)
	e := s.embedder(t, Config{Dim: 1024})
	if _, err := e.EmbedPassages(context.Background(), texts(2)); !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("err = %v, want conflict", err)
	}
}

func TestEmbedErrorsAndRetries(t *testing.T) {
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
	once := func(f func(int, http.ResponseWriter) bool) func(int, http.ResponseWriter) bool {
		return func(n int, w http.ResponseWriter) bool { return n == 0 && f(n, w) }
	}
	tests := []struct {
		name     string
		fail     func(int, http.ResponseWriter) bool
		code     quarry.Code // "" = success
		contains string
		calls    int32
	}{
		{"bad request", reply(400, `{"error":"input is empty"}`), quarry.CodeInvalid, "input is empty", 1},
		{"server error after retries", reply(500, `{"error":"llama runner process has terminated"}`), quarry.CodeUnavailable, "after 4 attempts", 4},
		{"malformed JSON", reply(200, `{"embeddings":[[1,2,3]`), quarry.CodeUnavailable, "malformed response", 1},
		{"count mismatch", reply(200, `{"embeddings":[[1,2,3]]}`), quarry.CodeUnavailable, "1 embeddings for 2 texts", 1},
		{"error in a 200 body", reply(200, `{"error":"model does not support embeddings"}`), quarry.CodeUnavailable, "does not support embeddings", 1},
		{"429 with Retry-After then ok", once(reply(429, `{"error":"busy"}`, "Retry-After", "3")), "", "", 2},
		{"502 then ok", once(reply(502, `bad gateway`)), "", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.fail = tt.fail
			e := s.embedder(t, Config{Dim: 3})
			var waits []time.Duration
			e.http.Retry.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			vecs, err := e.EmbedPassages(context.Background(), []string{"t1", "t2"})
			if tt.code == "" {
				if err != nil || vecs[1].Dense[0] != 2 {
					t.Fatalf("EmbedPassages = %v, %v", vecs, err)
				}
				if len(waits) != 1 || (strings.Contains(tt.name, "Retry-After") && waits[0] != 3*time.Second) {
					t.Errorf("waits = %v", waits)
				}
			} else if quarry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("err = %v (%s), want %s containing %q", err, quarry.ErrorCode(err), tt.code, tt.contains)
			}
			if s.calls.Load() != tt.calls {
				t.Errorf("calls = %d, want %d", s.calls.Load(), tt.calls)
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	for _, cfg := range []Config{{}, {Model: "m", BaseURL: "localhost:11434"}, {Model: "m", BatchSize: -1}} {
		if _, err := New(context.Background(), cfg); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want invalid", cfg, err)
		}
	}
}
