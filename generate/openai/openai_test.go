package openai

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

const testKey = "sk-test-0123456789"

// fake is an OpenAI-compatible server whose n-th request (from 0) is
// answered by steps[n]; the last step repeats.
type fake struct {
	t     *testing.T
	srv   *httptest.Server
	calls atomic.Int32
	mu    sync.Mutex
	reqs  []recorded
}

type recorded struct {
	Path, Auth, ContentType, Accept string
	Body                            map[string]any
}

func newFake(t *testing.T, steps ...http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(f.calls.Add(1)) - 1
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body is not JSON: %v: %s", err, raw)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Accept"), body})
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

// client returns a Client for f that records retry waits instead of
// sleeping.
func (f *fake) client(t *testing.T, cfg Config) (*Client, *[]time.Duration) {
	t.Helper()
	cfg.BaseURL = f.srv.URL + "/v1/"
	if cfg.Model == "" {
		cfg.Model = "gpt-test"
	}
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
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

func jsonReply(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const okCompletion = `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-test",
 "choices":[{"index":0,"message":{"role":"assistant","content":"Refunds take 5 days [1]."},"finish_reason":"stop"}],
 "usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}}`

// sse writes events, flushing after each so the client sees them one by
// one.
func sse(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, e := range events {
			io.WriteString(w, e)
			fl.Flush()
		}
	}
}

func delta(s string) string {
	b, _ := json.Marshal(s)
	return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":` + string(b) + `},"finish_reason":null}]}` + "\n\n"
}

const (
	roleChunk   = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
	finishChunk = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	usageChunk  = `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}` + "\n\n"
	done        = "data: [DONE]\n\n"
)

func temp(v float64) *float64 { return &v }

var testReq = generate.ChatRequest{
	Messages:    []quarry.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "how long do refunds take?"}},
	MaxTokens:   128,
	Temperature: temp(0),
	Stop:        []string{"\n\nQuestion:"},
}

func TestChatRequestShape(t *testing.T) {
	f := newFake(t, jsonReply(200, okCompletion))
	c, _ := f.client(t, Config{})
	resp, err := c.Chat(context.Background(), testReq, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := generate.ChatResponse{Text: "Refunds take 5 days [1].", FinishReason: "stop", Usage: generate.Usage{PromptTokens: 42, CompletionTokens: 7}}
	if resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	r := f.request(0)
	if r.Path != "/v1/chat/completions" {
		t.Errorf("path = %q", r.Path)
	}
	if r.Auth != "Bearer "+testKey {
		t.Errorf("Authorization = %q", r.Auth)
	}
	if r.ContentType != "application/json" {
		t.Errorf("Content-Type = %q", r.ContentType)
	}
	b := r.Body
	if b["model"] != "gpt-test" || b["max_tokens"] != 128.0 || b["temperature"] != 0.0 {
		t.Errorf("body = %v", b)
	}
	if _, ok := b["stream"]; ok {
		t.Errorf("non-streaming request has stream: %v", b["stream"])
	}
	if fmt.Sprint(b["stop"]) != "[\n\nQuestion:]" {
		t.Errorf("stop = %q", b["stop"])
	}
	msgs, _ := b["messages"].([]any)
	if len(msgs) != 2 || fmt.Sprint(msgs[1]) != "map[content:how long do refunds take? role:user]" {
		t.Errorf("messages = %v", b["messages"])
	}
}

func TestChatOmitsUnsetFields(t *testing.T) {
	f := newFake(t, jsonReply(200, okCompletion))
	c, err := New(Config{BaseURL: f.srv.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat(context.Background(), generate.ChatRequest{Messages: testReq.Messages}, nil); err != nil {
		t.Fatal(err)
	}
	r := f.request(0)
	if r.Auth != "" {
		t.Errorf("Authorization sent without a key: %q", r.Auth)
	}
	for _, k := range []string{"max_tokens", "temperature", "stop", "stream", "stream_options"} {
		if _, ok := r.Body[k]; ok {
			t.Errorf("unset field %q sent: %v", k, r.Body[k])
		}
	}
}

func TestChatStream(t *testing.T) {
	f := newFake(t, sse(": keep-alive\n\n", roleChunk, delta("Refunds "), delta("take 5 days"),
		strings.ReplaceAll(delta(" [1]."), "\n", "\r\n"), finishChunk, usageChunk, done))
	c, _ := f.client(t, Config{})
	var deltas []string
	resp, err := c.Chat(context.Background(), testReq, func(s string) error {
		deltas = append(deltas, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Refunds ", "take 5 days", " [1]."}; fmt.Sprint(deltas) != fmt.Sprint(want) {
		t.Errorf("deltas = %q, want %q", deltas, want)
	}
	want := generate.ChatResponse{Text: "Refunds take 5 days [1].", FinishReason: "stop", Usage: generate.Usage{PromptTokens: 11, CompletionTokens: 3}}
	if resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	r := f.request(0)
	if r.Body["stream"] != true || fmt.Sprint(r.Body["stream_options"]) != "map[include_usage:true]" {
		t.Errorf("stream fields = %v, %v", r.Body["stream"], r.Body["stream_options"])
	}
	if r.Accept != "text/event-stream" {
		t.Errorf("Accept = %q", r.Accept)
	}
}

func TestChatStreamNoUsageOption(t *testing.T) {
	f := newFake(t, sse(delta("hi"), finishChunk, done))
	c, _ := f.client(t, Config{NoStreamUsage: true})
	if _, err := c.Chat(context.Background(), testReq, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.request(0).Body["stream_options"]; ok {
		t.Error("stream_options sent with NoStreamUsage")
	}
}

func TestChatStreamEndsWithoutDone(t *testing.T) {
	// Some servers close the stream after the finishing chunk without
	// "[DONE]": the answer is complete.
	f := newFake(t, sse(delta("ok"), finishChunk))
	c, _ := f.client(t, Config{})
	resp, err := c.Chat(context.Background(), testReq, func(string) error { return nil })
	if err != nil || resp.Text != "ok" {
		t.Fatalf("Chat = %+v, %v", resp, err)
	}
}

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
		{name: "bad key", steps: hs(jsonReply(401, `{"error":{"message":"Incorrect API key provided: `+testKey+`","type":"invalid_request_error","code":"invalid_api_key"}}`)),
			code: quarry.CodeUnavailable, contains: []string{"check the API key", "invalid_api_key", "[redacted]"}, calls: 1},
		{name: "bad request", steps: hs(jsonReply(400, `{"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":null}}`)),
			code: quarry.CodeInvalid, contains: []string{"max_tokens is too large"}, calls: 1},
		{name: "model not found", steps: hs(jsonReply(404, `{"error":{"message":"The model 'gpt-nope' does not exist","type":"invalid_request_error","code":"model_not_found"}}`)),
			code: quarry.CodeNotFound, contains: []string{"gpt-nope", "check the model name"}, calls: 1},
		{name: "rate limited after retries", steps: hs(jsonReply(429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, "Retry-After", "1")),
			code: quarry.CodeUnavailable, contains: []string{"rate limited", "after 4 attempts", "Rate limit reached"}, calls: 4},
		{name: "server error after retries", steps: hs(jsonReply(500, `{"error":{"message":"The server had an error","type":"server_error"}}`)),
			retries: 1, code: quarry.CodeUnavailable, contains: []string{"server error (500", "after 2 attempts"}, calls: 2},
		{name: "malformed JSON", steps: hs(jsonReply(200, `{"choices":[{"message":`)),
			code: quarry.CodeUnavailable, contains: []string{"malformed response"}, calls: 1},
		{name: "HTML from a proxy", steps: hs(jsonReply(200, `<html>hello</html>`)),
			code: quarry.CodeUnavailable, contains: []string{"malformed response"}, calls: 1},
		{name: "no choices", steps: hs(jsonReply(200, `{"choices":[]}`)),
			code: quarry.CodeUnavailable, contains: []string{"malformed response", "no choices"}, calls: 1},
		{name: "error in a 200 body", steps: hs(jsonReply(200, `{"error":{"message":"upstream overloaded"}}`)),
			code: quarry.CodeUnavailable, contains: []string{"upstream overloaded"}, calls: 1},
		{name: "malformed chunk", steps: hs(sse(delta("a"), "data: {not json\n\n")), stream: true,
			code: quarry.CodeUnavailable, contains: []string{"malformed response"}, calls: 1},
		{name: "error event in stream", steps: hs(sse(delta("a"), `data: {"error":{"message":"context length exceeded","type":"invalid_request_error"}}`+"\n\n")), stream: true,
			code: quarry.CodeUnavailable, contains: []string{"error in stream", "context length exceeded"}, calls: 1},
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
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the API key: %v", err)
			}
			if got := f.calls.Load(); got != tt.calls {
				t.Errorf("calls = %d, want %d", got, tt.calls)
			}
		})
	}
}

func hs(h ...http.HandlerFunc) []http.HandlerFunc { return h }

func TestChatRetries(t *testing.T) {
	tests := []struct {
		name   string
		steps  []http.HandlerFunc
		stream bool
		waits  string
		calls  int32
	}{
		{"429 with Retry-After then ok", hs(jsonReply(429, `{"error":{"message":"slow down"}}`, "Retry-After", "3"), jsonReply(200, okCompletion)),
			false, "[3s]", 2},
		{"500 then ok", hs(jsonReply(500, `{"error":{"message":"oops"}}`), jsonReply(200, okCompletion)), false, "", 2},
		{"503 then ok, streaming", hs(jsonReply(503, `{"error":"loading"}`, "Retry-After", "2"), sse(delta("Refunds take 5 days [1]."), finishChunk, done)),
			true, "[2s]", 2},
		{"stream cut before any delta then ok", hs(sse(roleChunk), sse(delta("Refunds take 5 days [1]."), finishChunk, done)),
			true, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.steps...)
			c, waits := f.client(t, Config{})
			var onDelta func(string) error
			var got strings.Builder
			if tt.stream {
				onDelta = func(s string) error { got.WriteString(s); return nil }
			}
			resp, err := c.Chat(context.Background(), testReq, onDelta)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text != "Refunds take 5 days [1]." || (tt.stream && got.String() != resp.Text) {
				t.Errorf("text = %q, streamed %q", resp.Text, got.String())
			}
			if f.calls.Load() != tt.calls {
				t.Errorf("calls = %d, want %d", f.calls.Load(), tt.calls)
			}
			if len(*waits) != int(tt.calls)-1 {
				t.Errorf("waits = %v, want %d", *waits, tt.calls-1)
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
		{"clean end without [DONE]", sse(roleChunk, delta("Refunds "), delta("take"))},
		{"connection dropped mid-line", func(w http.ResponseWriter, r *http.Request) {
			sse(roleChunk, delta("Refunds "), delta("take"), `data: {"choices":[{"delta":{"cont`)(w, r)
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				buf.Flush()
				conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.cut, sse(delta("should not be asked"), finishChunk, done))
			c, waits := f.client(t, Config{})
			var deltas []string
			_, err := c.Chat(context.Background(), testReq, func(s string) error {
				deltas = append(deltas, s)
				return nil
			})
			if quarry.ErrorCode(err) != quarry.CodeUnavailable || !strings.Contains(err.Error(), "stream interrupted") {
				t.Fatalf("err = %v, want stream interrupted", err)
			}
			if fmt.Sprint(deltas) != "[Refunds  take]" {
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
		sse(roleChunk, delta("Refunds "))(w, r)
		<-r.Context().Done() // never finishes on its own
	})
	c, waits := f.client(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := c.Chat(ctx, testReq, func(s string) error {
			cancel() // the client went away after the first delta
			return nil
		})
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
	if f.calls.Load() != 1 || len(*waits) != 0 {
		t.Errorf("calls = %d, waits = %v", f.calls.Load(), *waits)
	}
}

func TestChatOnDeltaErrorStops(t *testing.T) {
	f := newFake(t, sse(delta("one"), delta("two"), delta("three"), finishChunk, done))
	c, _ := f.client(t, Config{})
	stop := errors.New("client gone")
	n := 0
	_, err := c.Chat(context.Background(), testReq, func(string) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("err = %v, want the callback's error unchanged", err)
	}
	if n != 2 || f.calls.Load() != 1 {
		t.Errorf("deltas after stop: %d, calls %d", n, f.calls.Load())
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		url  string // "" = error expected
	}{
		{"defaults", Config{Model: "m"}, "https://api.openai.com/v1/chat/completions"},
		{"trailing slash", Config{Model: "m", BaseURL: "http://localhost:8000/v1/"}, "http://localhost:8000/v1/chat/completions"},
		{"no model", Config{BaseURL: "http://x/v1"}, ""},
		{"not http", Config{Model: "m", BaseURL: "ftp://x/v1"}, ""},
		{"no host", Config{Model: "m", BaseURL: "localhost:8000"}, ""},
		{"credentials in URL", Config{Model: "m", BaseURL: "http://user:pw@x/v1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.url == "" {
				if !errors.Is(err, quarry.ErrInvalid) {
					t.Errorf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.url != tt.url {
				t.Errorf("url = %q, want %q", c.url, tt.url)
			}
			c.Close()
		})
	}
	c, _ := New(Config{Model: "m"})
	if _, err := c.Chat(context.Background(), generate.ChatRequest{}, nil); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("empty request: %v", err)
	}
}
