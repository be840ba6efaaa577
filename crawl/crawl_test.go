package crawl

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

// site is a small help centre served by httptest that records every
// request and can change between runs.
type site struct {
	mu       sync.Mutex
	requests []string // paths, in order
	agents   map[string]bool
	version  int  // bumps the changing page
	gone     bool // the removable page answers 410
	srv      *httptest.Server
}

const bigPageBytes = 300 << 10

func newSite(t *testing.T) *site {
	s := &site{agents: map[string]bool{}}
	mux := http.NewServeMux()
	page := func(title, body string) string {
		return `<!doctype html><html><head><title>` + title + `</title></head><body>` +
			`<header>Kestrel Help Centre banner</header><nav><a href="/articles/shipping">Shipping</a> <a href="/private/pricing">Secret</a></nav>` +
			`<main><h1>` + title + `</h1>` + body + `</main>` +
			`<footer>Copyright footer text 2025</footer></body></html>`
	}
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "User-agent: *\nDisallow: /private/\n")
	})
	mux.HandleFunc("/sitemap.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
		for _, p := range []string{"/articles/returns", "/articles/shipping", "/private/pricing", "/loop", "/missing", "/big", "/articles/changing", "/articles/removable"} {
			fmt.Fprintf(w, "<url><loc>%s%s</loc></url>", s.srv.URL, p)
		}
		fmt.Fprint(w, `</urlset>`)
	})
	mux.HandleFunc("/articles/returns", func(w http.ResponseWriter, r *http.Request) {
		const etag = `"returns-v1"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page("Return policy", "<p>You can return any device within 30 days of delivery.</p>"))
	})
	mux.HandleFunc("/articles/shipping", func(w http.ResponseWriter, r *http.Request) {
		// No validators: the content hash tells that it did not change.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page("Shipping", "<p>Standard shipping takes 3 to 5 business days.</p>"))
	})
	mux.HandleFunc("/private/pricing", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page("Internal pricing", "<p>Never to be crawled.</p>"))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page("Big", "<p>"+strings.Repeat("All work and no play. ", bigPageBytes/22)+"</p>"))
	})
	mux.HandleFunc("/articles/changing", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := s.version
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page("Firmware", fmt.Sprintf("<p>The latest firmware is version %d.0.</p>", 4+v)))
	})
	mux.HandleFunc("/articles/removable", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		gone := s.gone
		s.mu.Unlock()
		if gone {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page("Discontinued hub", "<p>The Hub H1 is no longer sold.</p>"))
	})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.Path)
		s.agents[r.UserAgent()] = true
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r == p {
			n++
		}
	}
	return n
}

// sink is an in-memory ingest.Sink.
type sink struct{ docs map[string]quarry.Document }

func (k *sink) Hash(p string) (string, bool) { d, ok := k.docs[p]; return d.Hash, ok }
func (k *sink) Paths() []string {
	var out []string
	for p := range k.docs {
		out = append(out, p)
	}
	return out
}
func (k *sink) Put(_ context.Context, d quarry.Document, _ []quarry.Chunk) error {
	k.docs[d.Path] = d
	return nil
}
func (k *sink) Remove(_ context.Context, p string) error { delete(k.docs, p); return nil }

func TestCrawl(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	cfg := Config{Interval: time.Millisecond, MaxPageBytes: 100 << 10, UserAgent: "QuarryTest/1.0"}
	ctx := context.Background()

	sum, err := Run(ctx, s.srv.URL+"/sitemap.xml", dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, sk := range sum.Skipped {
		reasons[strings.TrimPrefix(sk.URL, s.srv.URL)] = sk.Reason
	}
	for p, want := range map[string]string{"/loop": "redirect loop", "/missing": "HTTP 404", "/big": "page too large"} {
		if !strings.Contains(reasons[p], want) {
			t.Errorf("%s: skip reason %q, want one with %q (skips %v)", p, reasons[p], want, sum.Skipped)
		}
	}
	if sum.Written != 4 || sum.Blocked != 1 {
		t.Errorf("first run %+v, want 4 pages written and 1 forbidden", sum)
	}
	if n := s.count("/loop"); n > maxRedirects+1 {
		t.Errorf("the redirect loop was followed %d times", n)
	}
	ret, err := os.ReadFile(filepath.Join(dir, "articles/returns.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"banner", "Copyright footer", "Secret"} {
		if strings.Contains(string(ret), gone) {
			t.Errorf("stored page keeps the page chrome %q:\n%s", gone, ret)
		}
	}
	if !strings.Contains(string(ret), "within 30 days of delivery") || !strings.Contains(string(ret), s.srv.URL+"/articles/returns") {
		t.Errorf("stored page lacks its content or its URL:\n%s", ret)
	}

	// Ingest the mirror, as quarry ingest does.
	k := &sink{docs: map[string]quarry.Document{}}
	isum, err := ingest.Sync(ctx, os.DirFS(dir), k, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if isum.Added != 4 {
		t.Errorf("first ingest %+v, want 4 added", isum)
	}
	if d := k.docs["articles/returns.html"]; d.Title != "Return policy" {
		t.Errorf("returns page ingested as %+v", d)
	}

	// The site changes: one page changes, one is removed.
	s.mu.Lock()
	s.version, s.gone = 1, true
	s.mu.Unlock()
	sum, err = Run(ctx, s.srv.URL+"/sitemap.xml", dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.NotModified != 1 || sum.Unchanged != 1 || sum.Written != 1 || sum.Removed != 1 {
		t.Errorf("second run %+v, want 1 not modified (ETag), 1 unchanged (hash), 1 changed, 1 removed", sum)
	}
	isum, err = ingest.Sync(ctx, os.DirFS(dir), k, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if isum.Updated != 1 || isum.Removed != 1 || isum.Unchanged != 2 {
		t.Errorf("second ingest %+v, want the changed page re-indexed, the removed one deleted, 2 unchanged", isum)
	}
	if _, ok := k.docs["articles/removable.html"]; ok {
		t.Error("the removed page is still indexed")
	}
	ch, _ := os.ReadFile(filepath.Join(dir, "articles/changing.html"))
	if !strings.Contains(string(ch), "version 5.0") {
		t.Errorf("changed page not refreshed:\n%s", ch)
	}

	if n := s.count("/private/pricing"); n != 0 {
		t.Errorf("the path robots.txt forbids was fetched %d times", n)
	}
	if n := s.count("/robots.txt"); n != 2 {
		t.Errorf("robots.txt fetched %d times in 2 runs, want once per run", n)
	}
	s.mu.Lock()
	agents := slices.Collect(func(yield func(string) bool) {
		for a := range s.agents {
			if !yield(a) {
				return
			}
		}
	})
	s.mu.Unlock()
	if len(agents) != 1 || agents[0] != "QuarryTest/1.0" {
		t.Errorf("user agents %v, want only the configured one", agents)
	}
}

func TestCrawlDepthAndLimits(t *testing.T) {
	s := newSite(t)
	dir := t.TempDir()
	// From the returns page, depth 1 reaches the shipping page through
	// the navigation (the private link is forbidden); MaxPages 1 stops
	// after the start page.
	sum, err := Run(context.Background(), s.srv.URL+"/articles/returns", dir, Config{Interval: time.Millisecond, Depth: 1, MaxPages: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 1 || len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0].Reason, "page limit") {
		t.Errorf("summary %+v, want 1 page and the second skipped at the page limit", sum)
	}
	sum, err = Run(context.Background(), s.srv.URL+"/articles/returns", t.TempDir(), Config{Interval: time.Millisecond, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 2 || sum.Blocked != 1 {
		t.Errorf("summary %+v, want 2 pages and 1 forbidden", sum)
	}
	if s.count("/private/pricing") != 0 {
		t.Error("the forbidden path was fetched")
	}
	if _, err := Run(context.Background(), "ftp://example.com/", dir, Config{}); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

// TestCrawlStaysOnHost: a link to another host is not followed unless
// that host is allowed.
func TestCrawlStaysOnHost(t *testing.T) {
	var other atomic.Int32
	ext := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><head><title>Partner</title></head><body><main><p>Partner page.</p></main></body></html>")
	}))
	defer ext.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html><head><title>Home</title></head><body><main><p>See <a href="%s/partner">our partner</a>.</p></main></body></html>`, ext.URL)
	}))
	defer home.Close()
	cfg := Config{Interval: time.Millisecond, Depth: 1}
	sum, err := Run(context.Background(), home.URL+"/", t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 1 || other.Load() != 0 {
		t.Errorf("summary %+v, %d requests to the other host; want 1 page and none", sum, other.Load())
	}
	cfg.AllowHosts = []string{strings.TrimPrefix(ext.URL, "http://")}
	dir := t.TempDir()
	sum, err = Run(context.Background(), home.URL+"/", dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 2 || other.Load() == 0 {
		t.Errorf("with the host allowed: summary %+v, %d requests to it; want 2 pages", sum, other.Load())
	}
	extFile := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(ext.URL, "http://"), ":", "_"), "partner.html")
	if _, err := os.Stat(extFile); err != nil {
		t.Errorf("the other host's page is not under its host's name: %v", err)
	}
}

// TestCrawlWaitsBetweenRequests: with a request interval, or a
// robots.txt Crawl-delay, longer than the run is given, the crawler sends
// its first request (robots.txt) and then waits: no second request
// reaches the site before the context ends. (Nothing is timed: without
// the wait, every page would be requested at once.)
func TestCrawlWaitsBetweenRequests(t *testing.T) {
	cases := []struct {
		name     string
		robots   string
		interval time.Duration
	}{
		{"interval", "User-agent: *\nDisallow: /private/\n", time.Hour},
		{"crawl-delay", "User-agent: *\nCrawl-delay: 3600\n", time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.URL.Path)
				mu.Unlock()
				switch r.URL.Path {
				case "/robots.txt":
					fmt.Fprint(w, c.robots)
				default:
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprint(w, "<html><head><title>Page</title></head><body><main><p>Text.</p></main></body></html>")
				}
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, _ = Run(ctx, srv.URL+"/articles/a", t.TempDir(), Config{Interval: c.interval})
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != "/robots.txt" {
				t.Errorf("requests %v, want only /robots.txt before the wait", got)
			}
		})
	}
}
