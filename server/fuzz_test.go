package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// FuzzRequestBody feeds arbitrary bodies to both POST routes: every
// response must be a 200 that reached the backend with a usable request,
// or a 4xx JSON error that did not — never a 500, never a panic.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		`{"query":"install","k":5,"explain":true,"mode":"hybrid"}`,
		`{"question":"怎么安装？","k":3,"history":[{"role":"user","content":"你好"}]}`,
		`{"query":"x",}`, `{"query": 1}`, `{"k":"1"}`, `[]`, `null`, `"query"`, ``, `{`,
		`{"query":"x"} {"query":"y"}`, `{"query":"\u0000"}`, `{"question":" ","history":[{"role":"system"}]}`,
		`{"query":"x","k":1e400}`, `{"query":"x","QUERY":"y"}`, `{"query":"x","k":-0}`,
		`{"query":"` + strings.Repeat("長", 2000) + `"}`,
	} {
		f.Add(seed)
	}
	s := newServer(f, Config{
		MaxBodyBytes: 4096,
		Searcher: searchFunc(func(_ context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
			if strings.TrimSpace(req.Query) == "" || req.K < 0 || req.K > DefaultMaxK {
				panic("backend got an invalid search request")
			}
			return quarry.SearchResult{Passages: []quarry.Passage{{Chunk: quarry.Chunk{Text: req.Query}}}}, nil
		}),
		Asker: askFunc(func(_ context.Context, req quarry.AskRequest, _ func(quarry.Event) error) (quarry.Answer, error) {
			if strings.TrimSpace(req.Question) == "" || req.K < 0 || req.K > DefaultMaxK {
				panic("backend got an invalid ask request")
			}
			for _, m := range req.History {
				if m.Role != "user" && m.Role != "assistant" {
					panic("backend got a history turn with role " + m.Role)
				}
			}
			return quarry.Answer{Text: req.Question}, nil
		}),
	})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/search", "/v1/ask"} {
			r := httptest.NewRequest("POST", path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch {
			case w.Code == http.StatusOK:
				if !json.Valid(w.Body.Bytes()) {
					t.Fatalf("%s: 200 with invalid JSON: %s", path, w.Body)
				}
			case w.Code == http.StatusBadRequest || w.Code == http.StatusRequestEntityTooLarge:
				decodeErrorBody(t, w.Body.Bytes())
			default:
				t.Fatalf("%s %q: status %d: %s", path, body, w.Code, w.Body)
			}
		}
	})
}
