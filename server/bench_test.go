package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// benchPassages are ten passages of about 400 bytes, like a top 10 of
// SciFact.
func benchPassages() []quarry.Passage {
	passages := make([]quarry.Passage, 10)
	for i := range passages {
		p := passageA
		p.ID = fmt.Sprintf("d1#%d", i)
		p.Text = strings.Repeat("Quarry indexes every chunk of every document. ", 8)
		passages[i] = p
	}
	return passages
}

// serveConfig is the configuration quarry serve runs with (keys, as
// on loopback without any (openKeys),
// metrics, a logger at warn level), around a backend that answers at
// once: what is left is the server's own cost.
func serveConfig(search Searcher) Config {
	return Config{
		Searcher: search,
		Keys:     openKeys{},
		Metrics:  NewMetrics(),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

const benchSearchBody = `{"query":"how do I install quarry on linux","k":10,"mode":"hybrid"}`

// BenchmarkSearch measures the server's own cost for POST /v1/search
// (routing, middleware, decoding, validation, encoding ten passages)
// against a backend that answers instantly, bare (no keys, metrics or
// logger) and configured as quarry serve runs it.
func BenchmarkSearch(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"bare", Config{Searcher: staticSearch(quarry.SearchResult{Passages: benchPassages()})}},
		{"serve", serveConfig(staticSearch(quarry.SearchResult{Passages: benchPassages()}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newServer(b, bc.cfg).Handler()
			body := strings.NewReader(benchSearchBody)
			r := httptest.NewRequest("POST", "/v1/search", body)
			r.Header.Set("Content-Type", "application/json")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(benchSearchBody)
				clear(w.h)
				w.status = 0
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status only, so the
// benchmark counts the server's allocations, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

// BenchmarkSearchLoopback measures POST /v1/search over real HTTP on
// loopback (Serve, keep-alive connections, parallel clients), with the
// configuration of quarry serve and an instant backend: the HTTP layer
// end to end, client included.
func BenchmarkSearchLoopback(b *testing.B) {
	s := newServer(b, serveConfig(staticSearch(quarry.SearchResult{Passages: benchPassages()})))
	ln := listen(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := serve(s, ctx, ln)
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String() + "/v1/search"
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body := []byte(benchSearchBody)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
