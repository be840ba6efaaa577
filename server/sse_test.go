package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

const sseAccept = "text/event-stream"

func TestAskStream(t *testing.T) {
	s := newServer(t, Config{Asker: streamingAsk()})
	w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"How do I install?"}`, "Accept", sseAccept)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d (%s)", w.Code, w.Body)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !w.Flushed {
		t.Error("events were not flushed")
	}
	events := readSSE(t, w.Body)
	wantNames := []string{"passages", "delta", "delta", "citations", "done"}
	if got := eventNames(events); !slices.Equal(got, wantNames) {
		t.Fatalf("events = %v, want %v", got, wantNames)
	}

	var passages passagesEventJSON
	mustUnmarshal(t, events[0].Data, &passages)
	if passages.Type != "passages" || !reflect.DeepEqual(passages.Passages, toPassages(answer1.Passages)) {
		t.Errorf("passages event = %+v", passages)
	}
	var text strings.Builder
	for _, ev := range events[1:3] {
		var d deltaEventJSON
		mustUnmarshal(t, ev.Data, &d)
		if d.Type != "delta" {
			t.Errorf("delta event type = %q", d.Type)
		}
		text.WriteString(d.Delta)
	}
	if text.String() != answer1.Text {
		t.Errorf("deltas join to %q, want %q", text.String(), answer1.Text)
	}
	var cits citationsEventJSON
	mustUnmarshal(t, events[3].Data, &cits)
	if !reflect.DeepEqual(cits.Citations, toCitations(answer1.Citations)) {
		t.Errorf("citations event = %+v", cits)
	}
	var done map[string]json.RawMessage
	mustUnmarshal(t, events[4].Data, &done)
	if keys := sortedKeys(done); !slices.Equal(keys, []string{"answer", "type"}) {
		t.Errorf("done event keys = %v", keys)
	}
	var ans answerJSON
	mustUnmarshal(t, string(done["answer"]), &ans)
	if ans.AnswerID == "" || ans.ConversationID == "" {
		t.Errorf("done answer without ids: %+v", ans)
	}
	ans.AnswerID, ans.ConversationID = "", ""
	if !reflect.DeepEqual(ans, toAnswer(answer1)) {
		t.Errorf("done answer = %+v, want %+v", ans, toAnswer(answer1))
	}
}

func mustUnmarshal(t *testing.T, data string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s into %T: %v", data, v, err)
	}
}

func TestAskStreamDoneFromReturnedAnswer(t *testing.T) {
	tests := []struct {
		name  string
		sends []quarry.Event
	}{
		{name: "asker sends no done", sends: []quarry.Event{{Type: quarry.EventDelta, Delta: "x"}}},
		{name: "asker sends done without answer", sends: []quarry.Event{{Type: quarry.EventDone}}},
		{name: "asker sends done twice", sends: []quarry.Event{{Type: quarry.EventDone}, {Type: quarry.EventDone}}},
		{name: "asker sends nothing", sends: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, Config{Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
				for _, ev := range tt.sends {
					if err := send(ev); err != nil {
						return quarry.Answer{}, err
					}
				}
				return answer1, nil
			})})
			w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
			events := readSSE(t, w.Body)
			if len(events) == 0 || events[len(events)-1].Name != "done" || slices.Index(eventNames(events), "done") != len(events)-1 {
				t.Fatalf("events = %v, want exactly one done, last", eventNames(events))
			}
			var done doneEventJSON
			mustUnmarshal(t, events[len(events)-1].Data, &done)
			done.Answer.AnswerID, done.Answer.ConversationID = "", ""
			if !reflect.DeepEqual(done.Answer, toAnswer(answer1)) {
				t.Errorf("done answer = %+v", done.Answer)
			}
		})
	}
}

func TestAskStreamSendContract(t *testing.T) {
	tests := []struct {
		name    string
		first   quarry.Event // sent first, must succeed
		bad     quarry.Event
		wantErr string
	}{
		{"event after done", quarry.Event{Type: quarry.EventDone}, quarry.Event{Type: quarry.EventDelta, Delta: "late"}, "delta event sent after done"},
		{"error event", quarry.Event{Type: quarry.EventDelta, Delta: "a"}, quarry.Event{Type: quarry.EventError}, "return the error from Ask"},
		{"invalid event name", quarry.Event{Type: quarry.EventDelta, Delta: "a"}, quarry.Event{Type: "delta\ndata: {}"}, "invalid type"},
		{"empty event name", quarry.Event{Type: quarry.EventDelta, Delta: "a"}, quarry.Event{}, "invalid type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sendErr error
			s := newServer(t, Config{Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
				if err := send(tt.first); err != nil {
					t.Errorf("first send: %v", err)
				}
				sendErr = send(tt.bad)
				return answer1, nil
			})})
			w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
			if sendErr == nil || !strings.Contains(sendErr.Error(), tt.wantErr) || !errors.Is(sendErr, quarry.ErrInternal) {
				t.Errorf("send(%+v) = %v, want internal error containing %q", tt.bad, sendErr, tt.wantErr)
			}
			events := readSSE(t, w.Body) // fails on broken framing
			if names := eventNames(events); names[len(names)-1] != "done" || slices.Contains(names, "error") {
				t.Errorf("events = %v", names)
			}
		})
	}
}

func TestAskStreamRelaysNewEventTypes(t *testing.T) {
	s := newServer(t, Config{Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		if err := send(quarry.Event{Type: "status", Delta: "searching"}); err != nil {
			return quarry.Answer{}, err
		}
		return answer1, nil
	})})
	events := readSSE(t, do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept).Body)
	if got := eventNames(events); !slices.Equal(got, []string{"status", "done"}) {
		t.Fatalf("events = %v", got)
	}
	if events[0].Data != `{"type":"status","delta":"searching"}` {
		t.Errorf("status data = %s", events[0].Data)
	}
}

func TestAskStreamSendAfterReturn(t *testing.T) {
	var leaked func(quarry.Event) error
	s := newServer(t, Config{Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		leaked = send
		return answer1, nil
	})})
	do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
	if err := leaked(quarry.Event{Type: quarry.EventDelta, Delta: "late"}); err == nil {
		t.Fatal("send after Ask returned succeeded; it must not touch a finished response")
	}
}

func TestAskStreamErrorBeforeFirstEvent(t *testing.T) {
	s := newServer(t, Config{Asker: askFunc(func(context.Context, quarry.AskRequest, func(quarry.Event) error) (quarry.Answer, error) {
		return quarry.Answer{}, quarry.Errorf(quarry.CodeUnavailable, "language model unavailable")
	})})
	w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
	if w.Code != http.StatusServiceUnavailable || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("got %d %s %s, want a 503 JSON error", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if e := decodeErrorBody(t, w.Body.Bytes()); e.Code != quarry.CodeUnavailable || e.Message != "language model unavailable" {
		t.Errorf("error = %+v", e)
	}
}

func TestAskStreamErrorAfterStart(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantCode    quarry.Code
		wantMessage string
	}{
		{"internal", errors.New("openai: 500 from https://api.example/v1?key=sk-LEAK"), quarry.CodeInternal, "internal error"},
		{"unavailable", quarry.Errorf(quarry.CodeUnavailable, "language model rate limited"), quarry.CodeUnavailable, "language model rate limited"},
		{"timeout", quarry.Errorf(quarry.CodeTimeout, "language model took longer than 30s"), quarry.CodeTimeout, "language model took longer than 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, Config{Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
				if err := send(quarry.Event{Type: quarry.EventPassages, Passages: []quarry.Passage{passageA}}); err != nil {
					return quarry.Answer{}, err
				}
				if err := send(quarry.Event{Type: quarry.EventDelta, Delta: "Run"}); err != nil {
					return quarry.Answer{}, err
				}
				return quarry.Answer{}, tt.err
			})})
			w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d: the stream had started", w.Code)
			}
			events := readSSE(t, w.Body)
			if got := eventNames(events); !slices.Equal(got, []string{"passages", "delta", "error"}) {
				t.Fatalf("events = %v", got)
			}
			if e := decodeErrorBody(t, []byte(events[2].Data)); e.Code != tt.wantCode || e.Message != tt.wantMessage {
				t.Errorf("error event = %+v, want %s %q", e, tt.wantCode, tt.wantMessage)
			}
			if strings.Contains(w.Body.String(), "sk-LEAK") {
				t.Error("stream leaks the internal error")
			}
		})
	}
}

func TestAskStreamTimeout(t *testing.T) {
	var sendErr error
	s := newServer(t, Config{StreamTimeout: time.Millisecond, Asker: askFunc(func(ctx context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		<-ctx.Done() // a model slower than the stream's budget
		sendErr = send(quarry.Event{Type: quarry.EventPassages})
		return quarry.Answer{}, ctx.Err()
	})})
	w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
	if !errors.Is(sendErr, quarry.ErrTimeout) {
		t.Errorf("send after the deadline = %v, want the timeout", sendErr)
	}
	if w.Code != http.StatusGatewayTimeout {
		t.Fatalf("status = %d (%s), want 504 before the stream opened", w.Code, w.Body)
	}
	if e := decodeErrorBody(t, w.Body.Bytes()); e.Code != quarry.CodeTimeout || !strings.Contains(e.Message, "1ms limit") {
		t.Errorf("error = %+v", e)
	}
}

func TestAskStreamUsesStreamTimeout(t *testing.T) {
	var budget, plainBudget time.Duration
	asker := func(b *time.Duration) askFunc {
		return func(ctx context.Context, _ quarry.AskRequest, _ func(quarry.Event) error) (quarry.Answer, error) {
			deadline, ok := ctx.Deadline()
			if !ok {
				return quarry.Answer{}, errors.New("no deadline")
			}
			*b = time.Until(deadline)
			return answer1, nil
		}
	}
	s := newServer(t, Config{Timeout: time.Hour, StreamTimeout: 100 * time.Hour, Asker: asker(&budget)})
	do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
	s2 := newServer(t, Config{Timeout: time.Hour, StreamTimeout: 100 * time.Hour, Asker: asker(&plainBudget)})
	do(t, s2.Handler(), "POST", "/v1/ask", `{"question":"q"}`)
	if budget <= 99*time.Hour || plainBudget > time.Hour || plainBudget <= 0 {
		t.Errorf("stream budget = %s (want the 100h StreamTimeout), plain budget = %s (want the 1h Timeout)", budget, plainBudget)
	}
}

func TestAskStreamConcurrentSends(t *testing.T) {
	const senders, each = 8, 50
	s := newServer(t, Config{Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					if err := send(quarry.Event{Type: quarry.EventDelta, Delta: fmt.Sprintf("%d-%d\n", g, i)}); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		return answer1, nil
	})})
	events := readSSE(t, do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept).Body)
	if len(events) != senders*each+1 || events[len(events)-1].Name != "done" {
		t.Fatalf("got %d events, want %d deltas and done", len(events), senders*each)
	}
	seen := map[string]bool{}
	for _, ev := range events[:len(events)-1] {
		var d deltaEventJSON
		mustUnmarshal(t, ev.Data, &d)
		seen[d.Delta] = true
	}
	if len(seen) != senders*each {
		t.Errorf("got %d distinct deltas, want %d", len(seen), senders*each)
	}
}

// brokenWriter is a ResponseWriter whose connection breaks after ok
// successful writes.
type brokenWriter struct {
	header http.Header
	ok     int
	writes int
	body   strings.Builder
}

func (w *brokenWriter) Header() http.Header { return w.header }
func (w *brokenWriter) WriteHeader(int)     {}
func (w *brokenWriter) Flush()              {}
func (w *brokenWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > w.ok {
		return 0, errors.New("write: broken pipe")
	}
	return w.body.Write(p)
}

func TestAskStreamSendErrorStopsAsker(t *testing.T) {
	var (
		sent    int
		sendErr error
		ctxErr  error
	)
	s := newServer(t, Config{Asker: askFunc(func(ctx context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		for i := range 100 {
			if err := send(quarry.Event{Type: quarry.EventDelta, Delta: fmt.Sprint(i)}); err != nil {
				sendErr, ctxErr = err, context.Cause(ctx)
				return quarry.Answer{}, err
			}
			sent++
		}
		return answer1, nil
	})})
	w := &brokenWriter{header: http.Header{}, ok: 2}
	r := httptest.NewRequest("POST", "/v1/ask", strings.NewReader(`{"question":"q"}`))
	r.Header.Set("Accept", sseAccept)
	s.Handler().ServeHTTP(w, r)

	if sent != 2 {
		t.Errorf("asker sent %d events before send failed, want 2", sent)
	}
	if !errors.Is(sendErr, quarry.ErrCanceled) || !strings.Contains(sendErr.Error(), "broken pipe") {
		t.Errorf("send error = %v, want a canceled error naming the write failure", sendErr)
	}
	if ctxErr == nil || !strings.Contains(ctxErr.Error(), "broken pipe") {
		t.Errorf("asker context not canceled by the write failure: cause %v", ctxErr)
	}
	if w.writes != 3 {
		t.Errorf("%d writes; nothing should be written after the connection broke", w.writes)
	}
}

func TestAskStreamClientDisconnect(t *testing.T) {
	stopped := make(chan error, 1)
	s := newServer(t, Config{Asker: askFunc(func(ctx context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		if err := send(quarry.Event{Type: quarry.EventPassages, Passages: []quarry.Passage{passageA}}); err != nil {
			stopped <- err
			return quarry.Answer{}, err
		}
		<-ctx.Done() // a slow model, waiting for the client
		stopped <- context.Cause(ctx)
		return quarry.Answer{}, ctx.Err()
	})})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/ask", strings.NewReader(`{"question":"q"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", sseAccept)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if ev, ok := nextSSE(t, sc); !ok || ev.Name != "passages" {
		t.Fatalf("first event = %+v, %v", ev, ok)
	}
	cancel() // the client goes away mid-answer

	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("asker stopped with %v, want context.Canceled", err)
	}
}

func TestAcceptsEventStream(t *testing.T) {
	tests := []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"application/json"}, false},
		{[]string{"text/event-stream"}, true},
		{[]string{"Text/Event-Stream"}, true},
		{[]string{"application/json, text/event-stream;q=0.9"}, true},
		{[]string{"application/json", "text/event-stream"}, true},
		{[]string{"text/event-streams"}, false},
		{[]string{"*/*"}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/v1/ask", nil)
		for _, a := range tt.accept {
			r.Header.Add("Accept", a)
		}
		if got := acceptsEventStream(r); got != tt.want {
			t.Errorf("Accept %q: got %v, want %v", tt.accept, got, tt.want)
		}
	}
}

func TestAskStreamPanicAfterStart(t *testing.T) {
	logger, logs := newLogger(slog.LevelInfo)
	s := newServer(t, Config{Logger: logger, Asker: askFunc(func(_ context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		if err := send(quarry.Event{Type: quarry.EventPassages}); err != nil {
			return quarry.Answer{}, err
		}
		panic("generator bug")
	})})
	w := do(t, s.Handler(), "POST", "/v1/ask", `{"question":"q"}`, "Accept", sseAccept)
	// The stream ends where it broke: no JSON error body glued onto it.
	if got := eventNames(readSSE(t, w.Body)); !slices.Equal(got, []string{"passages"}) {
		t.Errorf("events = %v", got)
	}
	if len(logs.records(t, "panic serving request")) != 1 {
		t.Error("panic not logged")
	}
}
