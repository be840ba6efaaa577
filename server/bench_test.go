package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// BenchmarkSearch measures the server's own cost for POST /v1/search
// (routing, middleware, decoding, validation, encoding ten passages)
// against a backend that answers instantly.
func BenchmarkSearch(b *testing.B) {
	passages := make([]quarry.Passage, 10)
	for i := range passages {
		p := passageA
		p.ID = fmt.Sprintf("d1#%d", i)
		p.Text = strings.Repeat("Quarry indexes every chunk of every document. ", 8)
		passages[i] = p
	}
	s := newServer(b, Config{Searcher: staticSearch(quarry.SearchResult{Passages: passages})})
	h := s.Handler()
	body := `{"query":"how do I install quarry on linux","k":10,"mode":"hybrid"}`

	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/v1/search", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
