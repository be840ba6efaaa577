package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quarry-kb/quarry"
)

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs s.Serve in the background; the returned channel yields its
// result.
func serve(s *Server, ctx context.Context, ln net.Listener) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return done
}

func TestServeGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	s := newServer(t, Config{Searcher: searchFunc(func(ctx context.Context, _ quarry.SearchRequest) (quarry.SearchResult, error) {
		close(entered)
		<-release
		if err := ctx.Err(); err != nil {
			return quarry.SearchResult{}, err // the shutdown must not cancel in-flight work
		}
		finished.Store(true)
		return quarry.SearchResult{Passages: []quarry.Passage{passageA}}, nil
	})})
	shuttingDown := make(chan struct{})
	s.onShutdown = func() { close(shuttingDown) }

	ln := listen(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := serve(s, ctx, ln)

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/search", "application/json", strings.NewReader(`{"query":"x"}`))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()

	<-entered
	stop() // e.g. SIGTERM while a request is running
	<-shuttingDown

	// While draining, readiness fails so load balancers stop routing here.
	if w := do(t, s.Handler(), "GET", "/readyz", ""); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "shutting down") {
		t.Errorf("readyz while draining = %d %s", w.Code, w.Body)
	}
	close(release)

	r := <-got
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"chunk_id":"d1#0"`) {
		t.Fatalf("in-flight request: %d %q %v; want it to finish with 200", r.status, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after a graceful shutdown", err)
	}
	if !finished.Load() {
		t.Error("Serve returned before the in-flight request finished")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts connections after Serve returned")
	}
}

func TestServeShutdownEndsStreams(t *testing.T) {
	stopped := make(chan error, 1)
	s := newServer(t, Config{
		ShutdownTimeout: 1, // no grace: cancel streams at once
		Asker: askFunc(func(ctx context.Context, _ quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
			if err := send(quarry.Event{Type: quarry.EventPassages}); err != nil {
				return quarry.Answer{}, err
			}
			<-ctx.Done() // a stream that would outlive any grace period
			stopped <- context.Cause(ctx)
			return quarry.Answer{}, ctx.Err()
		}),
	})
	ln := listen(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := serve(s, ctx, ln)

	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/ask", strings.NewReader(`{"question":"q"}`))
	req.Header.Set("Accept", sseAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if ev, ok := nextSSE(t, sc); !ok || ev.Name != "passages" {
		t.Fatalf("first event = %+v", ev)
	}
	stop()

	if cause := <-stopped; !errors.Is(cause, quarry.ErrUnavailable) {
		t.Errorf("asker canceled with %v, want the server's shutdown cause", cause)
	}
	ev, ok := nextSSE(t, sc)
	if !ok || ev.Name != "error" {
		t.Fatalf("after shutdown got %+v, %v; want an error event", ev, ok)
	}
	if e := decodeErrorBody(t, []byte(ev.Data)); e.Code != quarry.CodeUnavailable || !strings.Contains(e.Message, "shutting down") {
		t.Errorf("error event = %+v", e)
	}
	if _, ok := nextSSE(t, sc); ok {
		t.Error("events after the error event")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

func TestServeListenerError(t *testing.T) {
	s := newServer(t, Config{Searcher: staticSearch(quarry.SearchResult{})})
	ln := listen(t)
	ln.Close()
	err := s.Serve(context.Background(), ln)
	if err == nil || !errors.Is(err, quarry.ErrUnavailable) {
		t.Fatalf("Serve on a closed listener = %v, want an unavailable error", err)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	s := newServer(t, Config{Searcher: staticSearch(quarry.SearchResult{})})
	err := s.ListenAndServe(context.Background(), "256.0.0.1:bad")
	if err == nil || !strings.Contains(err.Error(), "listen on 256.0.0.1:bad") {
		t.Fatalf("ListenAndServe = %v", err)
	}
}
