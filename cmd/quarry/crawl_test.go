package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quarry-kb/quarry/crawl"
)

// TestIngestURL: quarry ingest of a sitemap crawls the site into the
// knowledge base under the host's prefix; the next run re-indexes the
// page that changed and removes the one that is gone.
func TestIngestURL(t *testing.T) {
	var version atomic.Int32
	var mu sync.Mutex
	agents := map[string]int{} // User-Agent → requests
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.UserAgent()]++
		mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /admin/\n")
		case "/sitemap.xml":
			fmt.Fprintf(w, `<urlset><url><loc>%[1]s/help/doorbell-chime</loc></url><url><loc>%[1]s/help/old-hub</loc></url></urlset>`, srv.URL)
		case "/help/doorbell-chime":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<html><head><title>Doorbell chime</title></head><body><nav>Menu</nav><main><h1>Doorbell chime</h1><p>The chime plays tune number %d by default.</p></main></body></html>`, 7+version.Load())
		case "/help/old-hub":
			if version.Load() > 0 {
				http.Error(w, "gone", http.StatusGone)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html><head><title>Old hub</title></head><body><main><p>The Hub H1 was discontinued in 2024.</p></main></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	data := t.TempDir()
	args := []string{"ingest", "--data", data, "--crawl-interval", "1ms", srv.URL + "/sitemap.xml"}
	out, errOut, code := runCLI(t, args...)
	if code != 0 || !strings.Contains(out, "2 new or changed") || !strings.Contains(out, "2 added") {
		t.Fatalf("first ingest exited %d:\n%s%s", code, out, errOut)
	}
	mu.Lock()
	if len(agents) != 1 || agents[crawl.DefaultUserAgent] == 0 {
		t.Errorf("first crawl sent User-Agents %v, want only %q", agents, crawl.DefaultUserAgent)
	}
	clear(agents)
	mu.Unlock()
	version.Store(1)
	const agent = "AcmeHelpIndexer/2.0 (+https://acme.example/bot)"
	out, errOut, code = runCLI(t, append([]string{"ingest", "--crawl-user-agent", agent}, args[1:]...)...)
	if code != 0 || !strings.Contains(out, "1 updated") || !strings.Contains(out, "1 removed") {
		t.Fatalf("second ingest exited %d, want 1 updated and 1 removed:\n%s%s", code, out, errOut)
	}
	mu.Lock()
	if len(agents) != 1 || agents[agent] == 0 {
		t.Errorf("crawl with --crawl-user-agent sent User-Agents %v, want only %q", agents, agent)
	}
	mu.Unlock()
	host := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_")
	out, errOut, code = runCLI(t, "ask", "--data", data, "Which tune does the doorbell chime play by default?")
	if code != 0 || !strings.Contains(out, "tune number 8") || !strings.Contains(out, host+"/help/doorbell-chime.html") {
		t.Errorf("ask exited %d, want the new text cited by the page's URL path:\n%s%s", code, out, errOut)
	}
}
