package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// liveServer is "quarry serve" run in-process with test hooks.
type liveServer struct {
	addr   string
	stderr *syncBuffer
	stop   func()
}

// startServe runs serveWith until the test ends.
func startServe(t *testing.T, o options, vars map[string]string, hooks serveHooks) *liveServer {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if hooks.watchEvery == 0 {
		hooks.watchEvery = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &liveServer{stderr: &syncBuffer{}}
	env := testEnv(io.Discard, s.stderr, vars)
	ready := make(chan string, 1)
	hooks.announce = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, env, o, hooks) }()
	select {
	case s.addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited before listening: %v\n%s", err, s.stderr)
	case <-time.After(time.Minute):
		cancel()
		t.Fatal("serve did not start listening")
	}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(time.Minute):
				t.Error("serve did not stop within a minute")
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// call sends a JSON request and decodes the JSON answer into out (when
// not nil); it returns the status, or an error for a transport failure.
func (s *liveServer) call(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %s: %w", method, path, raw, err)
		}
	}
	return resp.StatusCode, nil
}

func (s *liveServer) status(t *testing.T) adminStatusJSON {
	t.Helper()
	var st adminStatusJSON
	if code, err := s.call(http.MethodGet, "/v1/admin/status", nil, &st); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/admin/status: %d, %v", code, err)
	}
	return st
}

// adminStatusJSON is GET /v1/admin/status as a client reads it.
type adminStatusJSON struct {
	Running      bool    `json:"running"`
	LastStarted  *string `json:"last_started"`
	LastFinished *string `json:"last_finished"`
	LastSuccess  *string `json:"last_success"`
	LastError    string  `json:"last_error"`
	LastTrigger  string  `json:"last_trigger"`
	Generation   struct {
		Current, Previous, Serving string
	} `json:"generation"`
	Documents       int     `json:"documents"`
	Chunks          int     `json:"chunks"`
	IndexAgeSeconds float64 `json:"index_age_seconds"`
	Embedder        string  `json:"embedder"`
	VectorStore     string  `json:"vector_store"`
	Schedule        string  `json:"schedule"`
	NextRun         *string `json:"next_run"`
}

// waitFor polls the status until ok accepts it.
func (s *liveServer) waitFor(t *testing.T, what string, ok func(adminStatusJSON) bool) adminStatusJSON {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := s.status(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v\nserver log:\n%s", what, st, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reindexVia triggers a rebuild through the admin API and waits until it
// is served.
func (s *liveServer) reindexVia(t *testing.T) adminStatusJSON {
	t.Helper()
	before := s.status(t)
	var st adminStatusJSON
	if code, err := s.call(http.MethodPost, "/v1/admin/reindex", nil, &st); err != nil || code != http.StatusAccepted {
		t.Fatalf("POST /v1/admin/reindex: %d, %v", code, err)
	}
	return s.waitFor(t, "the rebuild to be served", func(st adminStatusJSON) bool {
		return !st.Running && st.Generation.Current != before.Generation.Current && st.Generation.Serving == st.Generation.Current
	})
}

// tagOf returns the generation tag of a corpusFor path ("bravo-02.md" →
// "bravo").
func tagOf(path string) string {
	tag, _, _ := strings.Cut(path, "-")
	return tag
}

type explainedResults struct {
	Results []struct {
		Path    string `json:"path"`
		Explain *struct {
			Legs []struct {
				Leg  string `json:"leg"`
				Rank int    `json:"rank"`
			} `json:"legs"`
		} `json:"explain"`
	} `json:"results"`
}

// loadStats is what the load generators saw.
type loadStats struct {
	mu       sync.Mutex
	requests int
	failures []string
	tags     map[string]int // responses per generation tag
	legs     map[string]int // passages each leg ranked
	wait     func()         // waits for the load generators to end
}

func (l *loadStats) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

// oneGeneration checks that the paths of one response come from one
// generation and records which.
func (l *loadStats) oneGeneration(what string, paths []string) {
	tags := map[string]bool{}
	for _, p := range paths {
		tags[tagOf(p)] = true
	}
	if len(tags) != 1 {
		l.fail("%s mixes generations: %v", what, paths)
		return
	}
	l.mu.Lock()
	for tag := range tags {
		l.tags[tag]++
	}
	l.mu.Unlock()
}

// load queries /v1/search (with explain) and /v1/ask from several
// goroutines until stop is closed, or the caps are reached.
func load(s *liveServer, workers, maxIter int, stop <-chan struct{}) *loadStats {
	st := &loadStats{tags: map[string]int{}, legs: map[string]int{}}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range maxIter {
				select {
				case <-stop:
					return
				default:
				}
				st.mu.Lock()
				st.requests++
				st.mu.Unlock()
				if (i+w)%2 == 0 {
					var res explainedResults
					code, err := s.call(http.MethodPost, "/v1/search", map[string]any{"query": "refund window orders", "k": 8, "explain": true}, &res)
					if err != nil || code != http.StatusOK {
						st.fail("search: %d %v", code, err)
						continue
					}
					var paths []string
					for _, r := range res.Results {
						paths = append(paths, r.Path)
						if r.Explain == nil {
							st.fail("search result without explanation")
							continue
						}
						for _, leg := range r.Explain.Legs {
							if leg.Rank > 0 {
								st.mu.Lock()
								st.legs[leg.Leg]++
								st.mu.Unlock()
							}
						}
					}
					st.oneGeneration("search", paths)
				} else {
					var ans askResponse
					code, err := s.call(http.MethodPost, "/v1/ask", map[string]any{"question": "What is the refund window for orders?"}, &ans)
					if err != nil || code != http.StatusOK {
						st.fail("ask: %d %v", code, err)
						continue
					}
					if len(ans.Citations) > 0 {
						var paths []string
						for _, c := range ans.Citations {
							paths = append(paths, c.Path)
						}
						st.oneGeneration("ask citations", paths)
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	st.wait = func() { <-done }
	return st
}
