package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
)

// provCLI runs one quarry command with environment variables.
func provCLI(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errw bytes.Buffer
	code = RunEnv(context.Background(), testEnv(&out, &errw, vars), args)
	return out.String(), errw.String(), code
}

// helpCenterSubset copies a few folders of the sample help centre to a
// temp dir, enough to answer refund questions without ingesting it all.
func helpCenterSubset(t *testing.T, folders ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range folders {
		sub, err := fs.Sub(corpora.HelpCenter(), f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(dir, f), sub); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestProviderSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		groups  []string
		wantErr string // substring; "" for success
		check   func(t *testing.T, l llmConfig, e embedConfig)
	}{
		{name: "defaults are offline", groups: []string{"llm", "embed"}, check: func(t *testing.T, l llmConfig, e embedConfig) {
			if l.Provider != providerNone || e.Provider != providerCharngram || l.Rewrite != rewriteHeuristic || l.APIKeyEnv != defaultAPIKeyEnv {
				t.Errorf("got %+v %+v", l, e)
			}
		}},
		{name: "environment", groups: []string{"llm", "embed"},
			env: map[string]string{
				"QUARRY_LLM_PROVIDER": "OpenAI", "QUARRY_LLM_MODEL": "gpt-4o-mini", "QUARRY_LLM_BASE_URL": "http://localhost:8000/v1",
				"QUARRY_LLM_TIMEOUT": "90s", "QUARRY_LLM_MAX_CONTEXT_TOKENS": "2000", "QUARRY_LLM_MAX_ANSWER_TOKENS": "300",
				"QUARRY_LLM_TEMPERATURE": "0.3", "QUARRY_REWRITE": "llm",
				"QUARRY_EMBED_PROVIDER": "ollama", "QUARRY_EMBED_MODEL": "bge-m3", "QUARRY_EMBED_DIM": "1024",
				"QUARRY_EMBED_QUERY_PREFIX": "query: ", "QUARRY_EMBED_PASSAGE_PREFIX": "passage: ",
			},
			check: func(t *testing.T, l llmConfig, e embedConfig) {
				want := llmConfig{Provider: providerOpenAI, BaseURL: "http://localhost:8000/v1", Model: "gpt-4o-mini", APIKeyEnv: defaultAPIKeyEnv,
					Timeout: 90e9, MaxContextTokens: 2000, MaxAnswerTokens: 300, Temperature: 0.3, Rewrite: rewriteLLM}
				if l != want {
					t.Errorf("llm = %+v, want %+v", l, want)
				}
				wantE := embedConfig{Provider: providerOllama, Model: "bge-m3", APIKeyEnv: defaultAPIKeyEnv, Dim: 1024, QueryPrefix: "query: ", PassagePrefix: "passage: "}
				if e != wantE {
					t.Errorf("embed = %+v, want %+v", e, wantE)
				}
			}},
		{name: "the flag wins", groups: []string{"llm"},
			env:  map[string]string{"QUARRY_LLM_PROVIDER": "ollama", "QUARRY_LLM_MODEL": "from-env", "QUARRY_REWRITE": "off"},
			args: []string{"--llm-model", "from-flag", "--rewrite", "heuristic"},
			check: func(t *testing.T, l llmConfig, _ embedConfig) {
				if l.Model != "from-flag" || l.Rewrite != rewriteHeuristic || l.Provider != providerOllama {
					t.Errorf("got %+v", l)
				}
			}},
		{name: "only registered groups are read", groups: []string{"embed"},
			env: map[string]string{"QUARRY_LLM_PROVIDER": "bogus", "QUARRY_LLM_TIMEOUT": "soon"}},
		{name: "openai without a model", groups: []string{"llm"}, env: map[string]string{"QUARRY_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "k"},
			wantErr: "--llm-provider openai needs a model: set --llm-model or QUARRY_LLM_MODEL"},
		{name: "ollama without a model", groups: []string{"llm"}, args: []string{"--llm-provider", "ollama"},
			wantErr: "needs a model"},
		{name: "openai's API without a key", groups: []string{"llm"}, env: map[string]string{"QUARRY_LLM_PROVIDER": "openai", "QUARRY_LLM_MODEL": "m", "QUARRY_LLM_API_KEY_ENV": "MY_KEY"},
			wantErr: "the variable MY_KEY is empty"},
		{name: "a local openai-compatible server needs no key", groups: []string{"llm"},
			env: map[string]string{"QUARRY_LLM_PROVIDER": "openai", "QUARRY_LLM_MODEL": "m", "QUARRY_LLM_BASE_URL": "http://127.0.0.1:8000/v1"}},
		{name: "unknown provider", groups: []string{"llm"}, args: []string{"--llm-provider", "anthropic"}, wantErr: `unknown provider "anthropic"`},
		{name: "model without provider", groups: []string{"llm"}, env: map[string]string{"QUARRY_LLM_MODEL": "gpt-4o"}, wantErr: "no provider"},
		{name: "bad timeout", groups: []string{"llm"}, env: map[string]string{"QUARRY_LLM_TIMEOUT": "soon"}, wantErr: "--llm-timeout (env QUARRY_LLM_TIMEOUT): \"soon\""},
		{name: "negative tokens", groups: []string{"llm"}, args: []string{"--llm-max-answer-tokens", "-5"}, wantErr: "--llm-max-answer-tokens"},
		{name: "temperature out of range", groups: []string{"llm"}, env: map[string]string{"QUARRY_LLM_TEMPERATURE": "3"}, wantErr: "from 0 to 2"},
		{name: "llm rewriting without an llm", groups: []string{"llm"}, env: map[string]string{"QUARRY_REWRITE": "llm"}, wantErr: "llm rewriting needs a language model"},
		{name: "unknown rewrite mode", groups: []string{"llm"}, args: []string{"--rewrite", "magic"}, wantErr: `unknown mode "magic"`},
		{name: "credentials in the base URL", groups: []string{"llm"},
			env: map[string]string{"QUARRY_LLM_PROVIDER": "openai", "QUARRY_LLM_MODEL": "m", "QUARRY_LLM_BASE_URL": "http://user:sk-secret@host/v1"}, wantErr: "must not hold credentials"},
		{name: "base URL without scheme", groups: []string{"embed"},
			env: map[string]string{"QUARRY_EMBED_PROVIDER": "ollama", "QUARRY_EMBED_MODEL": "m", "QUARRY_EMBED_BASE_URL": "localhost:11434"}, wantErr: "want http(s)://"},
		{name: "embed openai without a model", groups: []string{"embed"}, env: map[string]string{"QUARRY_EMBED_PROVIDER": "openai"},
			wantErr: "--embed-provider openai needs a model: set --embed-model or QUARRY_EMBED_MODEL"},
		{name: "charngram takes no model", groups: []string{"embed"}, env: map[string]string{"QUARRY_EMBED_MODEL": "bge-m3"}, wantErr: "provider is charngram"},
		{name: "bad dimension", groups: []string{"embed"}, env: map[string]string{"QUARRY_EMBED_PROVIDER": "ollama", "QUARRY_EMBED_MODEL": "m", "QUARRY_EMBED_DIM": "big"}, wantErr: "--embed-dim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(io.Discard, io.Discard, tc.env)
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			p := providerFlags(fs, env, tc.groups...)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			l, e, err := p.validate()
			if tc.wantErr != "" {
				if !errors.Is(err, quarry.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want invalid containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "sk-secret") {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, l, e)
			}
		})
	}
}

// fakeModel is an OpenAI-compatible chat server. For a grounded prompt
// it answers with the first sentence of passage [1], citing [1] and a
// passage that does not exist: [7] when the prompt holds fewer than 7
// passages, else the one after the last; for a rewriting prompt it
// answers a fixed standalone question. It speaks both the plain and the streamed wire formats.
type fakeModel struct {
	*httptest.Server
	mu       sync.Mutex
	requests []fakeChatRequest
	auth     []string
	passages []int // passages in each grounded prompt
	bogus    []int // the marker cited in each grounded answer that points to no passage
}

type fakeChatRequest struct {
	Model       string           `json:"model"`
	Messages    []quarry.Message `json:"messages"`
	Stream      bool             `json:"stream"`
	MaxTokens   int              `json:"max_tokens"`
	Temperature *float64         `json:"temperature"`
}

var passageHeaderRE = regexp.MustCompile(`(?m)^\[(\d+)\] `)

func newFakeModel(t *testing.T) *fakeModel {
	f := &fakeModel{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.Error(w, `{"error":{"message":"no such route","type":"invalid_request_error"}}`, http.StatusNotFound)
			return
		}
		var req fakeChatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		user := req.Messages[len(req.Messages)-1].Content
		var reply string
		n := 0
		if strings.Contains(user, "<conversation>") {
			reply = "How long does a refund take to reach my account?"
		} else {
			n = len(passageHeaderRE.FindAllString(user, -1))
			reply = "I don't know."
			if loc := passageHeaderRE.FindStringIndex(user); loc != nil {
				body := user[loc[1]:]
				_, body, _ = strings.Cut(body, "\n") // past the header line
				first := firstSentence(body)
				reply = fmt.Sprintf("%s [1][%d]", first, max(7, n+1))
			}
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		if n > 0 {
			f.passages = append(f.passages, n)
			f.bogus = append(f.bogus, max(7, n+1))
		}
		f.mu.Unlock()
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": reply}, "finish_reason": "stop"}},
				"usage":   map[string]any{"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
			})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		bw := bufio.NewWriter(w)
		chunk := func(delta map[string]any, finish any) {
			b, _ := json.Marshal(map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
			fmt.Fprintf(bw, "data: %s\n\n", b)
		}
		chunk(map[string]any{"role": "assistant", "content": ""}, nil)
		for _, piece := range splitEvery(reply, 7) {
			chunk(map[string]any{"content": piece}, nil)
		}
		chunk(map[string]any{}, "stop")
		fmt.Fprint(bw, "data: [DONE]\n\n")
		bw.Flush()
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeModel) snapshot() ([]fakeChatRequest, []string, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeChatRequest(nil), f.requests...), append([]string(nil), f.auth...), append([]int(nil), f.passages...)
}

// lastBogus returns the marker the last grounded answer cited in vain.
func (f *fakeModel) lastBogus() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bogus) == 0 {
		return 0
	}
	return f.bogus[len(f.bogus)-1]
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if line, _, ok := strings.Cut(s, "\n"); ok {
		s = line
	}
	for _, end := range []string{". ", "。"} {
		if i := strings.Index(s, end); i > 0 {
			return strings.TrimSpace(s[:i+len(end)])
		}
	}
	return s
}

func splitEvery(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

// TestAskWithOpenAIProvider: quarry ask with an OpenAI-compatible model
// returns the model's answer with its citations checked: [1] is kept,
// [7] (only 3 passages in the prompt) removed, with a note.
func TestAskWithOpenAIProvider(t *testing.T) {
	model := newFakeModel(t)
	src := helpCenterSubset(t, "returns", "billing")
	data := t.TempDir()
	if out, errOut, code := provCLI(t, nil, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %d\n%s%s", code, out, errOut)
	}
	const key = "sk-test-0123456789"
	vars := map[string]string{
		"QUARRY_LLM_PROVIDER":    "openai",
		"QUARRY_LLM_BASE_URL":    model.URL + "/v1",
		"QUARRY_LLM_MODEL":       "gpt-test",
		"QUARRY_LLM_API_KEY_ENV": "MY_LLM_KEY",
		"MY_LLM_KEY":             key,
	}
	out, errOut, code := provCLI(t, vars, "ask", "--data", data, "--k", "3", "--json", "How long does a refund take?")
	if code != 0 {
		t.Fatalf("ask: %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, key) {
		t.Fatal("the API key was printed")
	}
	var ans quarry.Answer
	if err := json.Unmarshal([]byte(out), &ans); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	reqs, auth, passages := model.snapshot()
	if len(reqs) != 1 || reqs[0].Model != "gpt-test" || reqs[0].Stream || auth[0] != "Bearer "+key {
		t.Fatalf("model saw %d requests: %+v, auth %q", len(reqs), reqs, auth)
	}
	if len(passages) != 1 || passages[0] != 3 {
		t.Fatalf("prompt held %v passages, want 3", passages)
	}
	if reqs[0].Temperature == nil || *reqs[0].Temperature != 0 || reqs[0].MaxTokens != 512 {
		t.Errorf("temperature %v, max_tokens %d", reqs[0].Temperature, reqs[0].MaxTokens)
	}
	if !ans.Answered || !ans.Grounded || !strings.HasSuffix(ans.Text, "[1]") || strings.Contains(ans.Text, "[7]") {
		t.Errorf("answer %+v: want the model's sentence citing [1] only", ans)
	}
	if len(ans.Citations) != 1 || ans.Citations[0].N != 1 || ans.Citations[0].Snippet == "" ||
		!strings.Contains(ans.Text, ans.Citations[0].Snippet) {
		t.Errorf("citations %+v: want [1] with the quoted sentence as its snippet", ans.Citations)
	}
	if !containsPrefix(ans.Notes, "removed citation markers that point to no passage: [7]") {
		t.Errorf("notes %q: want the removed [7] noted", ans.Notes)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestChatCompletionsWithLLM runs quarry serve with an OpenAI-compatible
// model and asks through /v1/chat/completions, plain and streamed, in a
// conversation: the follow-up is rewritten by the model, the marker
// pointing to no passage never reaches the client.
func TestChatCompletionsWithLLM(t *testing.T) {
	model := newFakeModel(t)
	src := helpCenterSubset(t, "returns", "billing")
	data := t.TempDir()
	if out, errOut, code := provCLI(t, nil, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %d\n%s%s", code, out, errOut)
	}
	vars := map[string]string{
		"QUARRY_LLM_PROVIDER": "openai",
		"QUARRY_LLM_BASE_URL": model.URL + "/v1",
		"QUARRY_LLM_MODEL":    "gpt-test",
		"QUARRY_REWRITE":      "llm",
	}
	p := startServerEnv(t, vars, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")

	body := map[string]any{"model": "quarry", "messages": []map[string]string{
		{"role": "user", "content": "How do refunds work?"},
		{"role": "assistant", "content": "You can request a refund from your orders page."},
		{"role": "user", "content": "and how long does that take?"},
	}}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			body["stream"] = stream
			b, _ := json.Marshal(body)
			resp, err := http.Post("http://"+p.addr+"/v1/chat/completions", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			content, extra := decodeCompletion(t, raw, stream)
			bogus := fmt.Sprintf("[%d]", model.lastBogus())
			if content == "" || strings.Contains(content, bogus) || !strings.HasSuffix(content, "[1]") {
				t.Errorf("content %q: want the model's sentence citing [1] only, without %s", content, bogus)
			}
			if !extra.Answered || !extra.Grounded || len(extra.Citations) != 1 || !strings.Contains(content, extra.Citations[0].Snippet) {
				t.Errorf("quarry field %+v", extra)
			}
			if !containsPrefix(extra.Notes, "removed citation markers that point to no passage: "+bogus) ||
				!containsPrefix(extra.Notes, `follow-up question rewritten from the conversation as "How long does a refund take to reach my account?"`) {
				t.Errorf("notes %q", extra.Notes)
			}
		})
	}
	reqs, _, passages := model.snapshot()
	if len(reqs) != 4 { // a rewrite and an answer per completion
		t.Fatalf("model saw %d requests, want 4", len(reqs))
	}
	if len(passages) != 2 || !reqs[3].Stream {
		t.Errorf("grounded prompts %v; last request streamed %v", passages, reqs[len(reqs)-1].Stream)
	}
}

type quarryField struct {
	Answered  bool     `json:"answered"`
	Grounded  bool     `json:"grounded"`
	Notes     []string `json:"notes"`
	Citations []struct {
		N       int    `json:"n"`
		Path    string `json:"path"`
		ChunkID string `json:"chunk_id"`
		Snippet string `json:"snippet"`
	} `json:"citations"`
}

// decodeCompletion returns the content and the quarry field of a chat
// completion, or of a chunk stream.
func decodeCompletion(t *testing.T, raw []byte, stream bool) (string, quarryField) {
	t.Helper()
	type completion struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
			Delta   struct{ Content string } `json:"delta"`
		} `json:"choices"`
		Quarry *quarryField `json:"quarry"`
	}
	if !stream {
		var c completion
		if err := json.Unmarshal(raw, &c); err != nil || len(c.Choices) != 1 || c.Quarry == nil {
			t.Fatalf("completion %s: %v", raw, err)
		}
		return c.Choices[0].Message.Content, *c.Quarry
	}
	var content strings.Builder
	var extra *quarryField
	done := false
	for _, line := range strings.Split(string(raw), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c completion
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, ch := range c.Choices {
			content.WriteString(ch.Delta.Content)
		}
		if c.Quarry != nil {
			extra = c.Quarry
		}
	}
	if !done || extra == nil {
		t.Fatalf("stream without [DONE] or quarry field:\n%s", raw)
	}
	return content.String(), *extra
}

// startServerEnv is startServer with environment variables.
func startServerEnv(t *testing.T, vars map[string]string, args ...string) *quarryProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &quarryProc{t: t, cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ready := make(chan string, 1)
	env := testEnv(p.stdout, p.stderr, vars)
	env.Ready = func(addr string) { ready <- addr }
	go func() { p.done <- RunEnv(ctx, env, args) }()
	select {
	case p.addr = <-ready:
	case code := <-p.done:
		t.Fatalf("quarry %v exited with %d before listening:\n%s%s", args, code, p.stdout, p.stderr)
	}
	t.Cleanup(p.stop)
	return p
}

// fakeEmbeddings is an OpenAI-compatible embeddings server: each text
// becomes a hashed bag of its words, so related texts get close vectors.
func newFakeEmbeddings(t *testing.T, dim int) (*httptest.Server, *int) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/embeddings" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		calls++
		mu.Unlock()
		type item struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var data []item
		for i, text := range req.Input {
			v := make([]float32, dim)
			for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
				return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r > 0x2e80)
			}) {
				h := fnv.New32a()
				h.Write([]byte(w))
				v[h.Sum32()%uint32(dim)]++
			}
			v[0] += 0.01 // never the zero vector
			var norm float64
			for _, x := range v {
				norm += float64(x * x)
			}
			for j := range v {
				v[j] = float32(float64(v[j]) / math.Sqrt(norm))
			}
			data = append(data, item{Object: "embedding", Index: i, Embedding: v})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
			"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestEmbedderSwitchNeedsReindex: an index built with the offline
// embedder refuses an incremental ingest with an OpenAI-compatible
// embedder, naming quarry reindex; quarry reindex with the new embedder
// builds a fresh generation, and search works with it (and no longer
// with the old embedder).
func TestEmbedderSwitchNeedsReindex(t *testing.T) {
	emb, _ := newFakeEmbeddings(t, 64)
	src := helpCenterSubset(t, "returns")
	data := t.TempDir()
	if out, errOut, code := provCLI(t, nil, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %d\n%s%s", code, out, errOut)
	}
	openaiVars := map[string]string{
		"QUARRY_EMBED_PROVIDER": "openai",
		"QUARRY_EMBED_BASE_URL": emb.URL + "/v1",
		"QUARRY_EMBED_MODEL":    "embed-test",
	}
	// Something new to ingest, so the refusal is not a no-op.
	if err := os.WriteFile(filepath.Join(src, "returns", "gift-returns.md"), []byte("# Gift returns\n\nGifts can be returned for store credit within 60 days.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := provCLI(t, openaiVars, "ingest", "--data", data, src)
	if code == 0 {
		t.Fatalf("ingest with another embedder succeeded:\n%s", out)
	}
	if !strings.Contains(errOut, "quarry reindex") || !strings.Contains(errOut, "openai:embed-test") {
		t.Errorf("refusal does not name quarry reindex and the new embedder:\n%s", errOut)
	}
	// The index is untouched: the offline embedder still serves.
	if out, errOut, code := provCLI(t, nil, "search", "--data", data, "--json", "refund"); code != 0 {
		t.Fatalf("search after the refused ingest: %d\n%s%s", code, out, errOut)
	}

	if out, errOut, code := provCLI(t, openaiVars, "reindex", "--data", data); code != 0 {
		t.Fatalf("reindex with the new embedder: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = provCLI(t, openaiVars, "search", "--data", data, "--json", "--mode", "vector", "store credit for gifts")
	if code != 0 {
		t.Fatalf("search with the new embedder: %d\n%s%s", code, out, errOut)
	}
	var res quarry.SearchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Passages) == 0 || !strings.Contains(res.Passages[0].Path, "gift-returns.md") {
		t.Errorf("vector search over the new generation: %+v", res.Passages)
	}
	if _, errOut, code := provCLI(t, nil, "search", "--data", data, "refund"); code == 0 || !strings.Contains(errOut, "quarry reindex") {
		t.Errorf("search with the old embedder after reindex: exit %d\n%s", code, errOut)
	}
}
