package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the quarry binary into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "quarry")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var servingAddr = regexp.MustCompile(`addr=http://([0-9.]+:[0-9]+)`)

// TestKillDuringRebuild runs the real binary: quarry reindex is killed
// with SIGKILL while its generation is half built; quarry serve started
// afterwards serves the previous generation and removes the half-built
// one (files, and the collection in Qdrant).
func TestKillDuringRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and ingests a hundred and fifty files; skipped with -short")
	}
	bin := buildBinary(t)
	for _, store := range []string{storeEmbedded, storeQdrant} {
		t.Run(store, func(t *testing.T) {
			src, data := t.TempDir(), t.TempDir()
			// The embedder is an OpenAI-compatible server that the test
			// can hold: once armed, it answers one request and then holds
			// every other until released, so the reindex is caught half
			// way however fast the machine is.
			emb := newHeldEmbeddings(t)
			env := append(os.Environ(), "QUARRY_VECTOR_STORE="+store, "QUARRY_LOG_LEVEL=info",
				"QUARRY_EMBED_PROVIDER=openai", "QUARRY_EMBED_BASE_URL="+emb.URL+"/v1", "QUARRY_EMBED_MODEL=embed-test",
				"OPENAI_API_KEY=test")
			var view *qdrantView
			if store == storeQdrant {
				addr := startFakeQdrant(t)
				env = append(env, "QUARRY_QDRANT_ADDR="+addr)
				view = viewQdrant(t, addr, "")
			}
			run := func(args ...string) string {
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("quarry %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			corpusFor(t, src, "alpha", 3)
			run("ingest", "--data", data, src)
			g1 := state(t, data).Current

			// A corpus of several embedding batches.
			files := map[string]string{}
			for i := range 150 {
				files[fmt.Sprintf("bravo-%03d.md", i)] = fmt.Sprintf("# Bravo %d\n\n%s\n", i,
					strings.Repeat(fmt.Sprintf("The refund window for bravo orders %d is thirty days. ", i), 60))
			}
			corpusFor(t, src, "alpha", 0)
			writeFiles(t, src, files)

			emb.arm()
			re := exec.Command(bin, "reindex", "--data", data)
			re.Env = env
			re.Stdout, re.Stderr = io.Discard, io.Discard
			if err := re.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-emb.holding:
			case <-time.After(time.Minute):
				re.Process.Kill()
				t.Fatal("the reindex sent no second embedding request within a minute")
			}
			half := ""
			deadline := time.Now().Add(time.Minute)
			for half == "" {
				for _, g := range genDirs(t, data) {
					if _, err := os.Stat(filepath.Join(kbRoot(data), g, ".building")); err == nil && g != g1 {
						// Wait for the build to be under way (its vector
						// store prepared), not only begun.
						if _, err := os.Stat(filepath.Join(kbRoot(data), g, vectorsRecordFile)); err == nil {
							half = g
						}
					}
				}
				if time.Now().After(deadline) {
					re.Process.Kill()
					t.Fatal("no half-built generation appeared within a minute")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := re.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			werr := re.Wait()
			emb.release() // the server's searches embed their queries
			if ws, ok := re.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("reindex ended on its own (%v) while its embedder was held", werr)
			}
			if _, err := os.Stat(filepath.Join(kbRoot(data), half, ".building")); err != nil {
				t.Fatalf("the killed reindex left no half-built generation: %v", err)
			}
			if view != nil && !slices.Contains(view.collections(), "quarry_default_"+half) {
				t.Fatalf("the killed reindex left no half-built collection: %v", view.collections())
			}

			srv := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0")
			srv.Env = env
			srv.Stdout = io.Discard
			logs, err := srv.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				srv.Process.Signal(syscall.SIGTERM)
				done := make(chan error, 1)
				go func() { done <- srv.Wait() }()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("quarry serve after SIGTERM: %v", err)
					}
				case <-time.After(time.Minute):
					srv.Process.Kill()
					t.Error("quarry serve did not stop within a minute of SIGTERM")
				}
			}()
			addrc := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(logs)
				for sc.Scan() {
					if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
						addrc <- m[1]
					}
				}
			}()
			var addr string
			select {
			case addr = <-addrc:
			case <-time.After(time.Minute):
				t.Fatal("quarry serve did not report its address")
			}
			s := &liveServer{addr: addr}
			var res explainedResults
			if code, err := s.call(http.MethodPost, "/v1/search", map[string]any{"query": "refund window orders", "k": 5}, &res); err != nil || code != 200 ||
				len(res.Results) == 0 || tagOf(res.Results[0].Path) != "alpha" {
				t.Fatalf("search after the crash: %d %v %+v, want the previous generation's alpha documents", code, err, res)
			}
			if st := state(t, data); st.Current != g1 {
				t.Errorf("serving %s after the crash, want %s", st.Current, g1)
			}
			if dirs := genDirs(t, data); !slices.Equal(dirs, []string{g1}) {
				t.Errorf("generations on disk after serve started: %v, want [%s] (half-built %s removed)", dirs, g1, half)
			}
			if view != nil {
				if got := view.collections(); !slices.Equal(got, []string{"quarry_default_" + g1}) {
					t.Errorf("collections after serve started: %v, want only %s's", got, g1)
				}
			}
		})
	}
}

// heldEmbeddings wraps the fake embeddings server with a gate: after arm,
// the first request is answered and every later one waits until release
// (or until its client goes away), and holding is closed when the first
// request is held.
type heldEmbeddings struct {
	*httptest.Server
	armed    atomic.Bool
	passed   atomic.Int32
	holding  chan struct{}
	held     sync.Once
	released chan struct{}
	rel      sync.Once
}

func newHeldEmbeddings(t *testing.T) *heldEmbeddings {
	inner, _ := newFakeEmbeddings(t, 64)
	h := &heldEmbeddings{holding: make(chan struct{}), released: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.armed.Load() && h.passed.Add(1) > 1 {
			h.held.Do(func() { close(h.holding) })
			select {
			case <-h.released:
			case <-r.Context().Done():
				return
			}
		}
		inner.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(h.Server.Close)
	t.Cleanup(h.release)
	return h
}

func (h *heldEmbeddings) arm()     { h.armed.Store(true) }
func (h *heldEmbeddings) release() { h.rel.Do(func() { close(h.released) }) }
