package httpx

import (
	"context"
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
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 3 ", 3 * time.Second, true},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"empty", "", 0, false},
		{"negative", "-5", 0, false},
		{"garbage", "soon", 0, false},
		{"fraction", "1.5", 0, false},
		{"huge", "99999999999999", 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPolicyRetryAfterCapped(t *testing.T) {
	p := Policy{MaxRetryAfter: 10 * time.Second}
	h := http.Header{}
	h.Set("Retry-After", "3600")
	if d, ok := p.retryAfter(h); !ok || d != 10*time.Second {
		t.Errorf("retryAfter = %v, %v; want the 10s cap", d, ok)
	}
	h = http.Header{}
	h.Set("Retry-After-Ms", "250")
	if d, ok := p.retryAfter(h); !ok || d != 250*time.Millisecond {
		t.Errorf("retryAfter(ms) = %v, %v; want 250ms", d, ok)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		jitter float64
		want   time.Duration
	}{
		{"first retry, no jitter", 0, 0, 50 * time.Millisecond},
		{"first retry, full jitter", 0, 0.999999, 100 * time.Millisecond},
		{"third retry", 2, 0, 200 * time.Millisecond},
		{"capped", 10, 0, 500 * time.Millisecond},
		{"capped, jittered", 60, 0.5, 750 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: func() float64 { return tt.jitter }}
			got := p.Backoff(tt.n)
			if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Backoff(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"openai", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`,
			"Incorrect API key provided (type invalid_request_error, code invalid_api_key)"},
		{"openai null code", `{"error":{"message":"That model is currently overloaded","type":"server_error","code":null}}`,
			"That model is currently overloaded (type server_error)"},
		{"openai numeric code", `{"error":{"message":"bad","code":400}}`, "bad (code 400)"},
		{"ollama", `{"error":"model \"llama3\" not found, try pulling it first"}`, `model "llama3" not found, try pulling it first`},
		{"vllm", `{"object":"error","message":"The model does not exist.","type":"NotFoundError","code":404}`,
			"The model does not exist. (type NotFoundError, code 404)"},
		{"fastapi string", `{"detail":"Not Found"}`, "Not Found"},
		{"fastapi list", `{"detail":[{"msg":"field required"},{"msg":"bad input"}]}`, "field required; bad input"},
		{"html", "<html>\n<body>502 Bad   Gateway</body></html>", "<html> <body>502 Bad Gateway</body></html>"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorMessage([]byte(tt.body)); got != tt.want {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.want)
			}
		})
	}
	long := ErrorMessage([]byte(strings.Repeat("错", 400)))
	if len(long) > maxMessage+len("…") || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "错") {
		t.Errorf("long message not cut on a character boundary: %d bytes", len(long))
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		status   int
		code     quarry.Code
		contains string
	}{
		{400, quarry.CodeInvalid, "request rejected (400 Bad Request): boom"},
		{401, quarry.CodeUnavailable, "check the API key"},
		{403, quarry.CodeUnavailable, "check the API key"},
		{404, quarry.CodeNotFound, "check the model name"},
		{413, quarry.CodeTooLarge, "too large"},
		{422, quarry.CodeInvalid, "rejected"},
		{429, quarry.CodeUnavailable, "rate limited (429 Too Many Requests) after 4 attempts: boom"},
		{500, quarry.CodeUnavailable, "server error (500 Internal Server Error) after 4 attempts"},
		{503, quarry.CodeUnavailable, "server error"},
		{418, quarry.CodeUnavailable, "unexpected response"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			err := StatusError("svc", tt.status, "boom", 4)
			if quarry.ErrorCode(err) != tt.code {
				t.Errorf("code = %s, want %s (%v)", quarry.ErrorCode(err), tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.HasPrefix(err.Error(), "svc: ") {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

// sleeper records waits instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// script answers the n-th request (from 0) with steps[n], the last step
// repeating.
func script(t *testing.T, steps ...func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		steps[min(i, len(steps)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, body string, hdr ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func readAll(got *string) func(*http.Response) error {
	return func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		*got = string(b)
		return err
	}
}

func TestDo(t *testing.T) {
	ok := status(200, "fine")
	tests := []struct {
		name     string
		steps    []func(http.ResponseWriter, *http.Request)
		retries  int
		calls    int32
		waits    []time.Duration // nil: not checked, only the count
		nwaits   int
		code     quarry.Code // "" = success
		contains string
	}{
		{name: "ok", steps: steps(ok), calls: 1},
		{name: "429 with Retry-After then ok",
			steps: steps(status(429, `{"error":{"message":"slow down"}}`, "Retry-After", "7"), ok),
			calls: 2, waits: []time.Duration{7 * time.Second}},
		{name: "Retry-After capped",
			steps: steps(status(503, "", "Retry-After", "86400"), ok),
			calls: 2, waits: []time.Duration{time.Minute}},
		{name: "500 then ok", steps: steps(status(500, "oops"), ok), calls: 2, nwaits: 1},
		{name: "retries exhausted on 429", steps: steps(status(429, `{"error":"too many"}`)),
			retries: 2, calls: 3, nwaits: 2, code: quarry.CodeUnavailable, contains: "rate limited (429 Too Many Requests) after 3 attempts: too many"},
		{name: "retries exhausted on 502", steps: steps(status(502, "bad gateway")),
			calls: 4, nwaits: 3, code: quarry.CodeUnavailable, contains: "server error (502 Bad Gateway) after 4 attempts"},
		{name: "400 not retried", steps: steps(status(400, `{"error":{"message":"bad field"}}`)),
			calls: 1, code: quarry.CodeInvalid, contains: "bad field"},
		{name: "401 not retried", steps: steps(status(401, `{"error":{"message":"no key"}}`)),
			calls: 1, code: quarry.CodeUnavailable, contains: "check the API key"},
		{name: "404", steps: steps(status(404, `{"error":"model \"x\" not found"}`)),
			calls: 1, code: quarry.CodeNotFound, contains: `model "x" not found`},
		{name: "501 not retried", steps: steps(status(501, "")), calls: 1, code: quarry.CodeUnavailable},
		{name: "no retries configured", steps: steps(status(500, "")), retries: -1, calls: 1, code: quarry.CodeUnavailable},
		{name: "network error then ok", steps: steps(hangUp, ok), calls: 2, nwaits: 1},
		{name: "network errors exhausted", steps: steps(hangUp), retries: 1, calls: 2, nwaits: 1,
			code: quarry.CodeUnavailable, contains: "cannot reach the server (2 attempts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := script(t, tt.steps...)
			s := &sleeper{}
			c := &Client{Service: "svc", Retry: Policy{MaxRetries: tt.retries, Sleep: s.sleep}}
			var body string
			err := c.Do(context.Background(), Request{URL: srv.URL, Body: []byte(`{}`)}, readAll(&body))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if body != "fine" {
					t.Errorf("body = %q", body)
				}
			} else {
				if quarry.ErrorCode(err) != tt.code {
					t.Fatalf("code = %s, want %s (%v)", quarry.ErrorCode(err), tt.code, err)
				}
				if !strings.Contains(err.Error(), tt.contains) {
					t.Errorf("error %q does not contain %q", err, tt.contains)
				}
			}
			if got := calls.Load(); got != tt.calls {
				t.Errorf("calls = %d, want %d", got, tt.calls)
			}
			waits := s.got()
			if tt.waits != nil {
				if fmt.Sprint(waits) != fmt.Sprint(tt.waits) {
					t.Errorf("waits = %v, want %v", waits, tt.waits)
				}
			} else if len(waits) != tt.nwaits {
				t.Errorf("waits = %v, want %d of them", waits, tt.nwaits)
			}
		})
	}
}

func steps(s ...func(http.ResponseWriter, *http.Request)) []func(http.ResponseWriter, *http.Request) {
	return s
}

// hangUp closes the connection without answering.
func hangUp(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestDoSendsHeadersAndBody(t *testing.T) {
	var gotAuth, gotType, gotExtra, gotBody, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotType, gotExtra, gotMethod = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("X-Extra"), r.Method
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
	}))
	defer srv.Close()
	c := &Client{Service: "svc", Header: http.Header{"Authorization": {"Bearer k"}}}
	err := c.Do(context.Background(), Request{URL: srv.URL, Body: []byte(`{"a":1}`), Header: http.Header{"X-Extra": {"1"}}},
		func(*http.Response) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer k" || gotType != "application/json" || gotExtra != "1" || gotBody != `{"a":1}` || gotMethod != "POST" {
		t.Errorf("server saw auth=%q type=%q extra=%q body=%q method=%q", gotAuth, gotType, gotExtra, gotBody, gotMethod)
	}
}

func TestDoBodyResentOnRetry(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	srv, _ := script(t,
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.WriteHeader(500)
		},
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
		})
	c := &Client{Service: "svc", Retry: Policy{Sleep: (&sleeper{}).sleep}}
	if err := c.Do(context.Background(), Request{URL: srv.URL, Body: []byte(`{"x":"y"}`)}, func(*http.Response) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 || bodies[0] != `{"x":"y"}` || bodies[1] != bodies[0] {
		t.Errorf("bodies = %q, want the same body twice", bodies)
	}
}

func TestDoReadErrors(t *testing.T) {
	srv, calls := script(t, status(200, "x"))
	s := &sleeper{}
	c := &Client{Service: "svc", Retry: Policy{Sleep: s.sleep}}

	// A retryable read error is retried, then its cause returned.
	cause := quarry.Errorf(quarry.CodeUnavailable, "svc: cut")
	err := c.Do(context.Background(), Request{URL: srv.URL}, func(*http.Response) error { return Retryable(cause) })
	if !errors.Is(err, cause) || err != cause {
		t.Errorf("err = %v, want the unwrapped cause", err)
	}
	if calls.Load() != 4 {
		t.Errorf("calls = %d, want 4", calls.Load())
	}

	// A plain error (from the caller's callback, say) is returned as is.
	calls.Store(0)
	mine := errors.New("client went away")
	err = c.Do(context.Background(), Request{URL: srv.URL}, func(*http.Response) error { return mine })
	if err != mine || calls.Load() != 1 {
		t.Errorf("err = %v after %d calls, want %v after 1", err, calls.Load(), mine)
	}
}

func TestDoGivesUpWhenWaitOutlastsDeadline(t *testing.T) {
	srv, calls := script(t, status(429, "", "Retry-After", "30"), status(200, ""))
	s := &sleeper{}
	c := &Client{Service: "svc", Retry: Policy{Sleep: s.sleep}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.Do(ctx, Request{URL: srv.URL}, func(*http.Response) error { return nil })
	if quarry.ErrorCode(err) != quarry.CodeUnavailable || !strings.Contains(err.Error(), "rate limited") {
		t.Errorf("err = %v, want rate limited", err)
	}
	if calls.Load() != 1 || len(s.got()) != 0 {
		t.Errorf("calls = %d, waits = %v; want 1 call and no wait", calls.Load(), s.got())
	}
}

func TestDoCanceledDuringWait(t *testing.T) {
	srv, calls := script(t, status(503, ""))
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{Service: "svc", Retry: Policy{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}}
	err := c.Do(ctx, Request{URL: srv.URL}, func(*http.Response) error { return nil })
	if !errors.Is(err, quarry.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want canceled", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestDoRealSleepHonoursCancel(t *testing.T) {
	srv, _ := script(t, status(503, "", "Retry-After", "60"))
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{Service: "svc", OnRetry: func(int, time.Duration, error) { cancel() }}
	err := c.Do(ctx, Request{URL: srv.URL}, func(*http.Response) error { return nil })
	if !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("err = %v, want canceled", err)
	}
}

func TestDoAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{Service: "svc", Timeout: 50 * time.Millisecond}
	err := c.Do(context.Background(), Request{URL: srv.URL}, func(*http.Response) error { return nil })
	if !errors.Is(err, quarry.ErrTimeout) || !strings.Contains(err.Error(), "no response within 50ms") {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestDoRedactsSecret(t *testing.T) {
	srv, _ := script(t, status(401, `{"error":{"message":"Incorrect API key provided: sk-secret-123"}}`))
	c := &Client{Service: "svc", Secret: "sk-secret-123", Header: http.Header{"Authorization": {"Bearer sk-secret-123"}}}
	err := c.Do(context.Background(), Request{URL: srv.URL}, func(*http.Response) error { return nil })
	if err == nil || strings.Contains(err.Error(), "sk-secret-123") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err = %v, want the key redacted", err)
	}
}

func TestOnRetry(t *testing.T) {
	srv, _ := script(t, status(500, "a"), status(429, "b", "Retry-After", "2"), status(200, ""))
	var seen []string
	c := &Client{Service: "svc", Retry: Policy{Sleep: (&sleeper{}).sleep, Jitter: func() float64 { return 0 }},
		OnRetry: func(n int, d time.Duration, err error) {
			seen = append(seen, fmt.Sprintf("%d %v %s", n, d, quarry.ErrorCode(err)))
		}}
	if err := c.Do(context.Background(), Request{URL: srv.URL}, func(*http.Response) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := "[1 250ms unavailable 2 2s unavailable]"
	if fmt.Sprint(seen) != want {
		t.Errorf("retries = %v, want %s", seen, want)
	}
}

func TestReadError(t *testing.T) {
	c := &Client{Service: "svc"}
	req := httptest.NewRequest("POST", "/", nil)
	resp := &http.Response{Request: req}
	cut := errors.New("connection reset")

	err := c.ReadError(context.Background(), resp, cut, true)
	var r *retryable
	if errors.As(err, &r) || quarry.ErrorCode(err) != quarry.CodeUnavailable || !strings.Contains(err.Error(), "stream interrupted") {
		t.Errorf("after delivery: %v, want unretryable stream interrupted", err)
	}
	err = c.ReadError(context.Background(), resp, io.EOF, false)
	if !errors.As(err, &r) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("before delivery: %v, want retryable unexpected EOF", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.ReadError(ctx, resp, cut, true); !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestBatches(t *testing.T) {
	tests := []struct{ n, size, limit int }{
		{0, 4, 2}, {1, 4, 2}, {10, 3, 2}, {64, 64, 2}, {65, 64, 2}, {100, 7, 1}, {5, 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d/%d", tt.n, tt.size, tt.limit), func(t *testing.T) {
			out := make([]int, tt.n)
			var running, peak atomic.Int32
			var batches atomic.Int32
			err := Batches(context.Background(), tt.n, tt.size, tt.limit, func(ctx context.Context, lo, hi int) error {
				cur := running.Add(1)
				for {
					p := peak.Load()
					if cur <= p || peak.CompareAndSwap(p, cur) {
						break
					}
				}
				defer running.Add(-1)
				batches.Add(1)
				if hi-lo > max(tt.size, 1) {
					t.Errorf("batch %d-%d larger than %d", lo, hi, tt.size)
				}
				time.Sleep(time.Millisecond) // let batches overlap
				for i := lo; i < hi; i++ {
					out[i] = i + 1
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range out {
				if v != i+1 {
					t.Fatalf("out[%d] = %d", i, v)
				}
			}
			if p := int(peak.Load()); p > max(tt.limit, 1) {
				t.Errorf("peak concurrency %d > limit %d", p, tt.limit)
			}
			if want := (tt.n + max(tt.size, 1) - 1) / max(tt.size, 1); int(batches.Load()) != want {
				t.Errorf("batches = %d, want %d", batches.Load(), want)
			}
		})
	}
}

func TestBatchesError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32
	err := Batches(context.Background(), 100, 1, 1, func(ctx context.Context, lo, hi int) error {
		calls.Add(1)
		if lo == 3 {
			return boom
		}
		return nil
	})
	if err != boom {
		t.Errorf("err = %v", err)
	}
	if calls.Load() > 5 {
		t.Errorf("%d batches ran after the failure", calls.Load())
	}
	err = Batches(context.Background(), 4, 1, 2, func(ctx context.Context, lo, hi int) error { panic("bad") })
	if err == nil || !strings.Contains(err.Error(), "panic: bad") {
		t.Errorf("panic not turned into an error: %v", err)
	}
}

func TestSpaceName(t *testing.T) {
	tests := []struct{ provider, model, q, p, want string }{
		{"openai", "text-embedding-3-small", "", "", "openai:text-embedding-3-small"},
		{"ollama", "e5", "query: ", "passage: ", `ollama:e5;query="query: ";passage="passage: "`},
		{"ollama", "e5", "", "passage: ", `ollama:e5;passage="passage: "`},
		{"openai", "m", `a"b\`, "x\ny", `openai:m;query="a\"b\\";passage="x\ny"`},
	}
	for _, tt := range tests {
		if got := SpaceName(tt.provider, tt.model, tt.q, tt.p); got != tt.want {
			t.Errorf("SpaceName(%q, %q, %q, %q) = %s, want %s", tt.provider, tt.model, tt.q, tt.p, got, tt.want)
		}
	}
}

func TestEmbedBatches(t *testing.T) {
	embed := func(dim int) func(context.Context, []string) ([][]float32, error) {
		return func(_ context.Context, batch []string) ([][]float32, error) {
			out := make([][]float32, len(batch))
			for i, s := range batch {
				out[i] = make([]float32, dim)
				out[i][0] = float32(len(s))
			}
			return out, nil
		}
	}
	in := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	vecs, err := EmbedBatches(context.Background(), "svc", in, 2, 2, 3, embed(3))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if v.Dense[0] != float32(i+1) {
			t.Errorf("vector %d = %v", i, v.Dense)
		}
	}
	if _, err := EmbedBatches(context.Background(), "svc", in, 2, 2, 4, embed(3)); !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("dimension mismatch: %v", err)
	}
	short := func(_ context.Context, batch []string) ([][]float32, error) { return [][]float32{{1}}, nil }
	if _, err := EmbedBatches(context.Background(), "svc", in, 2, 2, 1, short); quarry.ErrorCode(err) != quarry.CodeUnavailable {
		t.Errorf("short answer: %v", err)
	}
	if _, err := EmbedBatches(context.Background(), "svc", []string{"a", ""}, 2, 2, 3, embed(3)); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("empty text: %v", err)
	}
}
