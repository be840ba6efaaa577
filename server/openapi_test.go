package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
)

// loadOpenAPI fetches /openapi.json from h and checks that it is a valid
// OpenAPI 3.1 document.
func loadOpenAPI(t *testing.T, h http.Handler) *openapi3.T {
	t.Helper()
	w := do(t, h, "GET", "/openapi.json", "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %v", w.Code, w.Header())
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(w.Body.Bytes())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q: want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	return doc
}

// fullServer has every optional route turned on, with keys.
func fullServer(t *testing.T) (*Server, *keyed) {
	t.Helper()
	k := newKeyed(t, RateLimit{PerKey: 1000, PerAddr: -1})
	// newKeyed serves the examples; a server with the same routes is
	// built again for its mux, to walk.
	s := newServer(t, Config{
		Searcher: staticSearch(quarry.SearchResult{}), Asker: streamingAsk(), Admin: &fakeAdmin{}, Documents: &fakeDocuments{},
		KnowledgeBases: []string{"default", "shop"}, Audit: k.audit, Keys: openKeys{},
		Conversations: openConvlog(t), Reports: openConvlog(t), Metrics: NewMetrics(), Widget: true,
		Strategies: fakeStrategies{}, Channels: fakeChannels,
	})
	return s, k
}

// TestOpenAPIListsTheRoutes: /openapi.json describes exactly the routes
// the router serves, method by method.
func TestOpenAPIListsTheRoutes(t *testing.T) {
	s, _ := fullServer(t)
	doc := loadOpenAPI(t, s.Handler())
	var served, described []string
	err := chi.Walk(s.mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served = append(served, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(described)
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("%s is served but not described in server/openapi.json: add it", r)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			t.Errorf("%s is described in server/openapi.json but not served", r)
		}
	}
}

// TestOpenAPIExamples sends example requests through the real handler
// and validates each request and its response against the description.
func TestOpenAPIExamples(t *testing.T) {
	_, k := fullServer(t)
	doc := loadOpenAPI(t, k.h)
	doc.Servers = nil // match any host
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	chat := `{"model": "default", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "How do I install?"}]}`
	tests := []struct {
		name, method, path, body, key string
		header                        []string
		status                        int
		invalidRequest                bool // the request breaks the description on purpose
		sse                           bool
	}{
		{name: "health", method: "GET", path: "/healthz", status: 200},
		{name: "ready", method: "GET", path: "/readyz", status: 200},
		{name: "openapi", method: "GET", path: "/openapi.json", status: 200},
		{name: "search", method: "POST", path: "/v1/search", body: `{"query": "install", "k": 3, "explain": false}`, key: k.search, status: 200},
		{name: "search, no key", method: "POST", path: "/v1/search", body: `{"query": "install"}`, status: 401},
		{name: "search, wrong scope", method: "POST", path: "/v1/search", body: `{"query": "install"}`, key: k.ask, status: 403},
		{name: "search, blank query", method: "POST", path: "/v1/search", body: `{"query": ""}`, key: k.search, status: 400, invalidRequest: true},
		{name: "ask", method: "POST", path: "/v1/ask", body: `{"question": "How do I install?", "history": [{"role": "user", "content": "hi"}]}`, key: k.ask, status: 200},
		{name: "ask, streamed", method: "POST", path: "/v1/ask", body: `{"question": "How do I install?"}`, key: k.ask, header: []string{"Accept", "text/event-stream"}, status: 200, sse: true},
		{name: "chat", method: "POST", path: "/v1/chat/completions", body: chat, key: k.ask, status: 200},
		{name: "chat, other kb", method: "POST", path: "/v1/chat/completions", body: strings.Replace(chat, "default", "shop", 1), key: k.ask, status: 403},
		{name: "chat, unknown model", method: "POST", path: "/v1/chat/completions", body: strings.Replace(chat, "default", "nope", 1), key: k.ask, status: 404},
		{name: "models", method: "GET", path: "/v1/models", key: k.all, status: 200},
		{name: "model", method: "GET", path: "/v1/models/shop", key: k.all, status: 200},
		{name: "model, unknown", method: "GET", path: "/v1/models/nope", key: k.all, status: 404},
		{name: "admin status", method: "GET", path: "/v1/admin/status", key: k.admin, status: 200},
		{name: "reindex", method: "POST", path: "/v1/admin/reindex", key: k.admin, status: 202},
		{name: "reindex again", method: "POST", path: "/v1/admin/reindex", key: k.admin, status: 409},
		{name: "audit", method: "GET", path: "/v1/kb/default/admin/audit?limit=5", key: k.admin, status: 200},
		{name: "put document", method: "PUT", path: "/v1/kb/default/documents?path=guide/install.md", body: "# Install\n\nRun it.", header: []string{"Content-Type", "text/plain; charset=utf-8"}, key: k.ingest, status: 200},
		{name: "put document, ask key", method: "PUT", path: "/v1/kb/default/documents?path=guide/install.md", body: "# Install", header: []string{"Content-Type", "application/octet-stream"}, key: k.ask, status: 403},
		{name: "put document, no key", method: "PUT", path: "/v1/kb/default/documents?path=guide/install.md", body: "# Install", header: []string{"Content-Type", "application/octet-stream"}, status: 401},
		{name: "put document, no path", method: "PUT", path: "/v1/kb/default/documents", body: "# Install", header: []string{"Content-Type", "application/octet-stream"}, key: k.ingest, status: 400, invalidRequest: true},
		{name: "delete document", method: "DELETE", path: "/v1/kb/default/documents?path=guide/install.md", key: k.ingest, status: 200},
		{name: "delete document, gone", method: "DELETE", path: "/v1/kb/default/documents?path=guide/install.md", key: k.ingest, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newReq := func() *http.Request {
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				r := httptest.NewRequest(tt.method, tt.path, body)
				if tt.body != "" {
					r.Header.Set("Content-Type", "application/json")
				}
				if tt.key != "" {
					r.Header.Set("Authorization", "Bearer "+tt.key)
				}
				for i := 0; i+1 < len(tt.header); i += 2 {
					r.Header.Set(tt.header[i], tt.header[i+1])
				}
				return r
			}
			req := newReq()
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("no route in the description: %v", err)
			}
			opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeResponseBody: tt.sse}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
			err = openapi3filter.ValidateRequest(context.Background(), in)
			if tt.invalidRequest != (err != nil) {
				t.Errorf("request validation: %v (want an error: %v)", err, tt.invalidRequest)
			}
			w := httptest.NewRecorder()
			k.h.ServeHTTP(w, newReq())
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			out := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: w.Code, Header: w.Header(),
				Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())), Options: opts,
			}
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Errorf("response does not match the description: %v\n%s", err, w.Body)
			}
		})
	}
}

// TestOpenAPIErrorCodes: the description's error codes are quarry's.
func TestOpenAPIErrorCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	for _, c := range []quarry.Code{quarry.CodeInvalid, quarry.CodeNotFound, quarry.CodeConflict, quarry.CodeTooLarge,
		quarry.CodeUnsupported, quarry.CodeUnavailable, quarry.CodeTimeout, quarry.CodeCanceled, quarry.CodeInternal,
		quarry.CodeUnauthenticated, quarry.CodeForbidden, quarry.CodeRateLimited, CodeHeadersTooLarge, CodeBadRequest} {
		if !slices.Contains(got, string(c)) {
			t.Errorf("error code %q is missing from the Error schema", c)
		}
	}
}
