package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
)

// fake is an Ollama server whose n-th request (from 0) is answered by
// steps[n]; the last step repeats.
type fake struct {
	srv   *httptest.Server
	calls atomic.Int32
	mu    sync.Mutex
	reqs  []recorded
}

type recorded struct {
	Path, Method, ContentType string
	Body                      map[string]any
}

func newFake(t *testing.T, steps ...http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(f.calls.Add(1)) - 1
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body is not JSON: %v: %s", err, raw)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.URL.Path, r.Method, r.Header.Get("Content-Type"), body})
		f.mu.Unlock()
		steps[min(i, len(steps)-1)](w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) request(i int) recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[i]
}

func (f *fake) client(t *testing.T, cfg Config) (*Client, *[]time.Duration) {
	t.Helper()
	cfg.BaseURL = f.srv.URL
	if cfg.Model == "" {
		cfg.Model = "qwen2.5:7b"
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.http.Retry.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, waits
}

func reply(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const okWhole = `{"model":"qwen2.5:7b","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"退款需要5天[1]。"},"done_reason":"stop","done":true,"total_duration":1,"prompt_eval_count":30,"eval_count":9}`

// ndjson writes lines, flushing after each.
func ndjson(lines ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		fl := w.(http.Flusher)
		for _, l := range lines {
			io.WriteString(w, l)
			fl.Flush()
		}
	}
}

func part(s string) string {
	b, _ := json.Marshal(s)
	return `{"model":"qwen2.5:7b","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":` + string(b) + `},"done":false}` + "\n"
}

const doneLine = `{"model":"qwen2.5:7b","created_at":"2026-01-01T00:00:01Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"prompt_eval_count":12,"eval_count":4}` + "\n"

func temp(v float64) *float64 { return &v }

var testReq = generate.ChatRequest{
	Messages:    []quarry.Message{{Role: "system", Content: "简洁"}, {Role: "user", Content: "退款需要多久？"}},
	MaxTokens:   64,
	Temperature: temp(0.2),
	Stop:        []string{"问题："},
}

func TestChatRequestShape(t *testing.T) {
	f := newFake(t, reply(200, okWhole))
	c, _ := f.client(t, Config{NumCtx: 8192, KeepAlive: "10m"})
	resp, err := c.Chat(context.Background(), testReq, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := generate.ChatResponse{Text: "退款需要5天[1]。", FinishReason: "stop", Usage: generate.Usage{PromptTokens: 30, CompletionTokens: 9}}
	if resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	r := f.request(0)
	if r.Path != "/api/chat" || r.Method != "POST" || r.ContentType != "application/json" {
		t.Errorf("request %s %s (%s)", r.Method, r.Path, r.ContentType)
	}
	b := r.Body
	if b["model"] != "qwen2.5:7b" || b["stream"] != false || b["keep_alive"] != "10m" {
		t.Errorf("body = %v", b)
	}
	if got := fmt.Sprint(b["options"]); got != "map[num_ctx:8192 num_predict:64 stop:[问题：] temperature:0.2]" {
		t.Errorf("options = %s", got)
	}
	if fmt.Sprint(b["messages"]) != "[map[content:简洁 role:system] map[content:退款需要多久？ role:user]]" {
		t.Errorf("messages = %v", b["messages"])
	}
}

func TestChatOmitsOptions(t *testing.T) {
	f := newFake(t, reply(200, okWhole))
	c, _ := f.client(t, Config{})
	if _, err := c.Chat(context.Background(), generate.ChatRequest{Messages: testReq.Messages}, nil); err != nil {
		t.Fatal(err)
	}
	b := f.request(0).Body
	if _, ok := b["options"]; ok {
		t.Errorf("options sent: %v", b["options"])
	}
	if s, ok := b["stream"]; !ok || s != false {
		t.Errorf(`"stream": false must always be sent (Ollama streams by default); got %v`, s)
	}
}

func TestChatStream(t *testing.T) {
	f := newFake(t, ndjson(part("退款"), "\n", part("需要5天"), part("[1]。"), doneLine))
	c, _ := f.client(t, Config{})
	var deltas []string
	resp, err := c.Chat(context.Background(), testReq, func(s string) error {
		deltas = append(deltas, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(deltas) != "[退款 需要5天 [1]。]" {
		t.Errorf("deltas = %q", deltas)
	}
	want := generate.ChatResponse{Text: "退款需要5天[1]。", FinishReason: "stop", Usage: generate.Usage{PromptTokens: 12, CompletionTokens: 4}}
	if resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	if f.request(0).Body["stream"] != true {
		t.Errorf("stream = %v", f.request(0).Body["stream"])
	}
}

func hs(h ...http.HandlerFunc) []http.HandlerFunc { return h }

func TestChatErrors(t *testing.T) {
	tests := []struct {
		name     string
		steps    []http.HandlerFunc
		stream   bool
		retries  int
		code     quarry.Code
		contains []string
		calls    int32
	}{
		{name: "model not found", steps: hs(reply(404, `{"error":"model \"qwen9\" not found, try pulling it first"}`)),
			code: quarry.CodeNotFound, contains: []string{`model "qwen9" not found`}, calls: 1},
		{name: "bad request", steps: hs(reply(400, `{"error":"invalid options: num_predict"}`)),
			code: quarry.CodeInvalid, contains: []string{"invalid options"}, calls: 1},
		{name: "forbidden behind a proxy", steps: hs(reply(403, `{"error":"forbidden"}`)),
			code: quarry.CodeUnavailable, contains: []string{"check the API key"}, calls: 1},
		{name: "server error after retries", steps: hs(reply(500, `{"error":"llama runner process has terminated"}`)),
			retries: 2, code: quarry.CodeUnavailable, contains: []string{"server error (500", "after 3 attempts", "llama runner"}, calls: 3},
		{name: "rate limited after retries", steps: hs(reply(429, `{"error":"too many requests"}`)),
			code: quarry.CodeUnavailable, contains: []string{"rate limited", "after 4 attempts"}, calls: 4},
		{name: "malformed JSON", steps: hs(reply(200, `{"message":{"content":"hi"`)),
			code: quarry.CodeUnavailable, contains: []string{"malformed response"}, calls: 1},
		{name: "no message", steps: hs(reply(200, `{"done":true}`)),
			code: quarry.CodeUnavailable, contains: []string{"malformed response"}, calls: 1},
		{name: "error in a 200 body", steps: hs(reply(200, `{"error":"model is loading"}`)),
			code: quarry.CodeUnavailable, contains: []string{"model is loading"}, calls: 1},
		{name: "malformed line in stream", steps: hs(ndjson(part("a"), "{oops}\n")), stream: true,
			code: quarry.CodeUnavailable, contains: []string{"malformed response"}, calls: 1},
		{name: "error line in stream", steps: hs(ndjson(part("a"), `{"error":"out of memory"}`+"\n")), stream: true,
			code: quarry.CodeUnavailable, contains: []string{"error in stream", "out of memory"}, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.steps...)
			c, _ := f.client(t, Config{MaxRetries: tt.retries})
			var onDelta func(string) error
			if tt.stream {
				onDelta = func(string) error { return nil }
			}
			_, err := c.Chat(context.Background(), testReq, onDelta)
			if quarry.ErrorCode(err) != tt.code {
				t.Fatalf("code = %q, want %q (%v)", quarry.ErrorCode(err), tt.code, err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if got := f.calls.Load(); got != tt.calls {
				t.Errorf("calls = %d, want %d", got, tt.calls)
			}
		})
	}
}

func TestChatRetries(t *testing.T) {
	tests := []struct {
		name   string
		steps  []http.HandlerFunc
		stream bool
		waits  string
	}{
		{"429 with Retry-After then ok", hs(reply(429, `{"error":"busy"}`, "Retry-After", "4"), reply(200, okWhole)), false, "[4s]"},
		{"500 then ok", hs(reply(500, `{"error":"oops"}`), reply(200, okWhole)), false, ""},
		{"503 then ok, streaming", hs(reply(503, `{"error":"loading"}`, "Retry-After", "1"), ndjson(part("退款需要5天[1]。"), doneLine)), true, "[1s]"},
		{"stream ended before any text then ok", hs(ndjson(part("")), ndjson(part("退款需要5天[1]。"), doneLine)), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.steps...)
			c, waits := f.client(t, Config{})
			var onDelta func(string) error
			if tt.stream {
				onDelta = func(string) error { return nil }
			}
			resp, err := c.Chat(context.Background(), testReq, onDelta)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text != "退款需要5天[1]。" {
				t.Errorf("text = %q", resp.Text)
			}
			if f.calls.Load() != 2 || len(*waits) != 1 {
				t.Errorf("calls = %d, waits = %v", f.calls.Load(), *waits)
			}
			if tt.waits != "" && fmt.Sprint(*waits) != tt.waits {
				t.Errorf("waits = %v, want %s", *waits, tt.waits)
			}
		})
	}
}

func TestChatStreamCutInTheMiddle(t *testing.T) {
	tests := []struct {
		name string
		cut  http.HandlerFunc
	}{
		{"clean end without done", ndjson(part("退款"), part("需要"))},
		{"connection dropped mid-line", func(w http.ResponseWriter, r *http.Request) {
			ndjson(part("退款"), part("需要"), `{"message":{"content":"5`)(w, r)
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				buf.Flush()
				conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.cut, ndjson(part("should not be asked"), doneLine))
			c, waits := f.client(t, Config{})
			var deltas []string
			_, err := c.Chat(context.Background(), testReq, func(s string) error {
				deltas = append(deltas, s)
				return nil
			})
			if quarry.ErrorCode(err) != quarry.CodeUnavailable || !strings.Contains(err.Error(), "stream interrupted") {
				t.Fatalf("err = %v, want stream interrupted", err)
			}
			if fmt.Sprint(deltas) != "[退款 需要]" {
				t.Errorf("deltas = %q", deltas)
			}
			if f.calls.Load() != 1 || len(*waits) != 0 {
				t.Errorf("retried after the stream started: %d calls, waits %v", f.calls.Load(), *waits)
			}
		})
	}
}

func TestChatCancelMidStream(t *testing.T) {
	serverDone := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(serverDone)
		ndjson(part("退款"))(w, r)
		<-r.Context().Done()
	})
	c, _ := f.client(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := c.Chat(ctx, testReq, func(string) error { cancel(); return nil })
		result <- err
	}()
	select {
	case err := <-result:
		if !errors.Is(err, quarry.ErrCanceled) {
			t.Errorf("err = %v, want canceled", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a speed assertion
		t.Fatal("Chat did not return after its context was canceled")
	}
	<-serverDone
	if f.calls.Load() != 1 {
		t.Errorf("calls = %d", f.calls.Load())
	}
}

func TestChatOnDeltaErrorStops(t *testing.T) {
	f := newFake(t, ndjson(part("a"), part("b"), part("c"), doneLine))
	c, _ := f.client(t, Config{})
	stop := errors.New("client gone")
	n := 0
	_, err := c.Chat(context.Background(), testReq, func(string) error {
		n++
		return stop
	})
	if err != stop || n != 1 || f.calls.Load() != 1 {
		t.Errorf("err = %v after %d deltas and %d calls; want the callback's error after 1", err, n, f.calls.Load())
	}
}

func TestNew(t *testing.T) {
	c, err := New(Config{Model: "m"})
	if err != nil || c.url != "http://localhost:11434/api/chat" {
		t.Errorf("defaults: %v, %v", c, err)
	}
	for _, cfg := range []Config{{}, {Model: "m", BaseURL: "localhost:11434"}, {Model: "m", NumCtx: -1}} {
		if _, err := New(cfg); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want invalid", cfg, err)
		}
	}
}
