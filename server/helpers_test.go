package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-kb/quarry"
)

// searchFunc and askFunc turn functions into the server's interfaces, so
// each test states its fake backend inline.
type searchFunc func(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error)

func (f searchFunc) Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	return f(ctx, req)
}

type askFunc func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)

func (f askFunc) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	return f(ctx, req, send)
}

// fixtures

var (
	passageA = quarry.Passage{
		Chunk: quarry.Chunk{
			ID: "d1#0", DocID: "d1", Path: "guide/install.md", Title: "Install",
			Heading: "Install > Linux", Ordinal: 0, Text: "Run make install.", Tokens: 4, Lang: "en",
		},
		Score: 0.9,
	}
	passageB = quarry.Passage{
		Chunk: quarry.Chunk{
			ID: "d2#3", DocID: "d2", Path: "manual.pdf", Title: "手册",
			Page: 7, Ordinal: 3, Text: "安装需要 <root> 权限。", Tokens: 9, Lang: "zh",
		},
		Score: 0.4,
		Explain: &quarry.Explanation{
			Method:  "weighted",
			Legs:    []quarry.LegScore{{Leg: "keyword", Rank: 2, Score: 3.1, Normalized: 0.5, Weight: 0.8, Contribution: 0.4}},
			Summary: "0.8×0.5",
		},
	}
	citation1 = quarry.Citation{N: 1, DocID: "d1", Path: "guide/install.md", Title: "Install", Heading: "Install > Linux", ChunkID: "d1#0", Snippet: "make install"}
	answer1   = quarry.Answer{
		Text: "Run make install [1].", Answered: true, Grounded: true, Lang: "en",
		Citations: []quarry.Citation{citation1},
		Passages:  []quarry.Passage{passageA},
	}
)

func staticSearch(res quarry.SearchResult) searchFunc {
	return func(context.Context, quarry.SearchRequest) (quarry.SearchResult, error) { return res, nil }
}

func failingSearch(err error) searchFunc {
	return func(context.Context, quarry.SearchRequest) (quarry.SearchResult, error) {
		return quarry.SearchResult{}, err
	}
}

// streamingAsk sends the usual events and returns answer1.
func streamingAsk() askFunc {
	return func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		for _, ev := range []quarry.Event{
			{Type: quarry.EventPassages, Passages: answer1.Passages},
			{Type: quarry.EventDelta, Delta: "Run make install"},
			{Type: quarry.EventDelta, Delta: " [1]."},
			{Type: quarry.EventCitations, Citations: answer1.Citations},
			{Type: quarry.EventDone, Answer: &answer1},
		} {
			if err := send(ev); err != nil {
				return quarry.Answer{}, err
			}
		}
		return answer1, nil
	}
}

func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// do sends one request through h and returns the response.
func do(t testing.TB, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			r.Header.Del(header[i])
		} else {
			r.Header.Set(header[i], header[i+1])
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeError parses an error response, failing the test when it is not
// exactly {"error": {"code", "message"}}.
func decodeErrorBody(t testing.TB, body []byte) errorDetail {
	t.Helper()
	var got map[string]map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, body)
	}
	if len(got) != 1 || got["error"] == nil {
		t.Fatalf("error body must be {\"error\": {...}}, got %s", body)
	}
	if keys := sortedKeys(got["error"]); !slices.Equal(keys, []string{"code", "message"}) {
		t.Fatalf("error object keys = %v, want [code message]", keys)
	}
	code, _ := got["error"]["code"].(string)
	msg, _ := got["error"]["message"].(string)
	if code == "" || msg == "" {
		t.Fatalf("error code and message must be non-empty strings, got %s", body)
	}
	return errorDetail{Code: quarry.Code(code), Message: msg}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// logBuffer is a concurrency-safe buffer for a JSON slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records whose msg is msg.
func (b *logBuffer) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func newLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level})), buf
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	Name string
	Data string
}

// readSSE parses an event stream strictly as this server writes it:
// every event is an "event:" line, one "data:" line and a blank line.
// Anything else fails the test.
func readSSE(t testing.TB, r io.Reader) []sseEvent {
	t.Helper()
	var events []sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for {
		ev, ok := nextSSE(t, sc)
		if !ok {
			return events
		}
		events = append(events, ev)
	}
}

// nextSSE reads one event; ok is false at a clean end of stream.
func nextSSE(t testing.TB, sc *bufio.Scanner) (ev sseEvent, ok bool) {
	t.Helper()
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		if err := sc.Err(); err != nil {
			t.Fatalf("read event stream: %v", err)
		}
		return sseEvent{}, false
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
		t.Fatalf("malformed SSE event: %q", lines)
	}
	ev = sseEvent{Name: strings.TrimPrefix(lines[0], "event: "), Data: strings.TrimPrefix(lines[1], "data: ")}
	if !json.Valid([]byte(ev.Data)) {
		t.Fatalf("event %s: data is not JSON: %s", ev.Name, ev.Data)
	}
	return ev, true
}

func eventNames(evs []sseEvent) []string {
	names := make([]string, len(evs))
	for i, ev := range evs {
		names[i] = ev.Name
	}
	return names
}

// doReader is do with a body reader.
func doReader(t testing.TB, h http.Handler, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var sharedDirs []string

// sharedTempDir makes a directory shared by several tests; TestMain
// removes it.
func sharedTempDir() (string, error) {
	d, err := os.MkdirTemp("", "server-test-")
	if err == nil {
		sharedDirs = append(sharedDirs, d)
	}
	return d, err
}
