package crawl

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCrawl crawls a local site of 200 pages (a sitemap, a 20 KB
// page each) with no interval between requests: the crawler's own cost
// per page, fetch, main-content extraction and mirror write.
// Run: go test ./crawl -run '^$' -bench Crawl -benchtime 3x
func BenchmarkCrawl(b *testing.B) {
	const pages = 200
	body := "<html><head><title>T</title></head><body><nav>menu</nav><main><h1>Article</h1>" +
		strings.Repeat("<p>Standard shipping takes 3 to 5 business days within the mainland.</p>", 280) + "</main><footer>f</footer></body></html>"
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/sitemap.xml":
			fmt.Fprint(w, "<urlset>")
			for i := range pages {
				fmt.Fprintf(w, "<url><loc>%s/p/%d</loc></url>", srv.URL, i)
			}
			fmt.Fprint(w, "</urlset>")
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, body)
		}
	}))
	defer srv.Close()
	b.ReportAllocs()
	for b.Loop() {
		sum, err := Run(context.Background(), srv.URL+"/sitemap.xml", b.TempDir(), Config{Interval: -1})
		if err != nil || sum.Written != pages {
			b.Fatalf("%+v %v", sum, err)
		}
	}
	b.ReportMetric(float64(pages)*float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
