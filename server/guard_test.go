package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
)

// keyed is a server guarded by a real keyring over a temp directory,
// with keys of every kind.
type keyed struct {
	h                                                http.Handler
	audit                                            *auth.Audit
	ask, search, admin, ingest, shopAsk, widget, all string
	ids                                              map[string]string // key -> id
}

func newKeyed(t *testing.T, rl RateLimit) *keyed {
	t.Helper()
	dir := t.TempDir()
	st := auth.NewStore(dir)
	k := &keyed{ids: map[string]string{}}
	mk := func(kb string, origin string, scopes ...auth.Scope) string {
		key, secret, err := st.Create(auth.Spec{KB: kb, Scopes: scopes, Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		k.ids[secret] = key.ID
		return secret
	}
	k.ask = mk("default", "", auth.ScopeAsk)
	k.search = mk("default", "", auth.ScopeSearch)
	k.admin = mk("default", "", auth.ScopeAdmin)
	k.ingest = mk("default", "", auth.ScopeIngest)
	k.shopAsk = mk("shop", "", auth.ScopeAsk, auth.ScopeSearch)
	k.widget = mk("shop", "https://shop.example", auth.ScopeAsk)
	k.all = mk(auth.AllKBs, "", auth.AllScopes...)
	ring, err := auth.NewKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	k.audit = auth.NewAudit(dir)
	k.h = newServer(t, Config{
		Searcher: staticSearch(quarry.SearchResult{Passages: []quarry.Passage{passageA}}), Asker: streamingAsk(), Admin: &fakeAdmin{},
		Documents: &fakeDocuments{}, KnowledgeBases: []string{"default", "shop"},
		Keys: ring, Audit: k.audit, RateLimit: rl,
	}).Handler()
	return k
}

func bearerHeader(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

func TestGuardScopes(t *testing.T) {
	k := newKeyed(t, RateLimit{PerKey: -1, PerAddr: -1})
	chat := func(model string) string {
		return `{"model": "` + model + `", "messages": [{"role": "user", "content": "hi"}]}`
	}
	tests := []struct {
		name, key, method, path, body, origin string
		status                                int
		says                                  string // in the error message
	}{
		{"health is open", "", "GET", "/healthz", "", "", 200, ""},
		{"ready is open", "", "GET", "/readyz", "", "", 200, ""},
		{"no key", "", "POST", "/v1/search", `{"query": "x"}`, "", 401, "missing API key"},
		{"unknown key", auth.Prefix + "AAAA", "POST", "/v1/search", `{"query": "x"}`, "", 401, "invalid API key"},
		{"search with search", k.search, "POST", "/v1/search", `{"query": "x"}`, "", 200, ""},
		{"search with ask", k.ask, "POST", "/v1/search", `{"query": "x"}`, "", 403, `scope "search"`},
		{"ask with ask", k.ask, "POST", "/v1/ask", `{"question": "x"}`, "", 200, ""},
		{"ask with search", k.search, "POST", "/v1/ask", `{"question": "x"}`, "", 403, `scope "ask"`},
		{"admin status with admin", k.admin, "GET", "/v1/admin/status", "", "", 200, ""},
		{"admin status with ask", k.ask, "GET", "/v1/admin/status", "", "", 403, `scope "admin"`},
		{"reindex with admin", k.admin, "POST", "/v1/admin/reindex", "", "", 202, ""},
		{"reindex with search", k.search, "POST", "/v1/admin/reindex", "", "", 403, `scope "admin"`},
		{"default route with a shop key", k.shopAsk, "POST", "/v1/ask", `{"question": "x"}`, "", 403, `knowledge base "default"`},
		{"audit of default with default admin", k.admin, "GET", "/v1/kb/default/admin/audit", "", "", 200, ""},
		{"audit of shop with default admin", k.admin, "GET", "/v1/kb/shop/admin/audit", "", "", 403, `knowledge base "shop"`},
		{"audit of shop with a * admin", k.all, "GET", "/v1/kb/shop/admin/audit", "", "", 200, ""},
		{"chat with ask", k.ask, "POST", "/v1/chat/completions", chat("default"), "", 200, ""},
		{"chat with search", k.search, "POST", "/v1/chat/completions", chat("default"), "", 403, `scope "ask"`},
		{"chat on another kb", k.ask, "POST", "/v1/chat/completions", chat("shop"), "", 403, `knowledge base "shop"`},
		{"chat on own kb", k.shopAsk, "POST", "/v1/chat/completions", chat("shop"), "", 200, ""},
		{"chat without key", "", "POST", "/v1/chat/completions", chat("default"), "", 401, "missing API key"},
		{"widget from its origin", k.widget, "POST", "/v1/chat/completions", chat("shop"), "https://shop.example", 200, ""},
		{"widget from another origin", k.widget, "POST", "/v1/chat/completions", chat("shop"), "https://evil.example", 403, "origin https://shop.example"},
		{"widget without origin", k.widget, "POST", "/v1/chat/completions", chat("shop"), "", 403, "no Origin header"},
		{"model of another kb", k.ask, "GET", "/v1/models/shop", "", "", 403, `knowledge base "shop"`},
		{"put a document with ingest", k.ingest, "PUT", "/v1/kb/default/documents?path=a.md", "# A", "", 200, ""},
		{"put a document with ask", k.ask, "PUT", "/v1/kb/default/documents?path=a.md", "# A", "", 403, `scope "ingest"`},
		{"put a document with admin", k.admin, "PUT", "/v1/kb/default/documents?path=a.md", "# A", "", 403, `scope "ingest"`},
		{"put a document without key", "", "PUT", "/v1/kb/default/documents?path=a.md", "# A", "", 401, "missing API key"},
		{"put a document in another kb", k.ingest, "PUT", "/v1/kb/shop/documents?path=a.md", "# A", "", 403, `knowledge base "shop"`},
		{"delete a document with ingest", k.ingest, "DELETE", "/v1/kb/default/documents?path=a.md", "", "", 200, ""},
		{"delete a document with search", k.search, "DELETE", "/v1/kb/default/documents?path=a.md", "", "", 403, `scope "ingest"`},
		{"ingest key searches", k.ingest, "POST", "/v1/search", `{"query": "x"}`, "", 403, `scope "search"`},
		{"ingest key reindexes", k.ingest, "POST", "/v1/admin/reindex", "", "", 403, `scope "admin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, k.h, tt.method, tt.path, tt.body, "Authorization", bearerHeader(tt.key), "Origin", tt.origin)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.says == "" {
				return
			}
			var body struct {
				Error struct{ Code, Message, Type string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("error body %s: %v", w.Body, err)
			}
			wantCode := map[int]string{401: "unauthenticated", 403: "forbidden"}[tt.status]
			if body.Error.Code != wantCode || !strings.Contains(body.Error.Message, tt.says) {
				t.Errorf("error %+v: want code %s saying %s", body.Error, wantCode, tt.says)
			}
			if strings.HasPrefix(tt.path, "/v1/chat") || strings.HasPrefix(tt.path, "/v1/models") {
				want := map[int]string{401: "authentication_error", 403: "permission_error"}[tt.status]
				if body.Error.Type != want {
					t.Errorf("OpenAI error type %q, want %q", body.Error.Type, want)
				}
			}
			if tt.key != "" && strings.Contains(w.Body.String(), strings.TrimPrefix(tt.key, auth.Prefix)) {
				t.Errorf("error body holds the key: %s", w.Body)
			}
			if tt.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestGuardModelsListsOwnKnowledgeBases(t *testing.T) {
	k := newKeyed(t, RateLimit{})
	for _, tt := range []struct {
		key  string
		want []string
	}{
		{k.ask, []string{"default"}},
		{k.shopAsk, []string{"shop"}},
		{k.all, []string{"default", "shop"}},
	} {
		w := do(t, k.h, "GET", "/v1/models", "", "Authorization", bearerHeader(tt.key))
		var list modelListJSON
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 {
			t.Fatalf("%d %s: %v", w.Code, w.Body, err)
		}
		var got []string
		for _, m := range list.Data {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("key %s sees models %v, want %v", k.ids[tt.key], got, tt.want)
		}
	}
	if w := do(t, k.h, "GET", "/v1/models", ""); w.Code != 401 {
		t.Errorf("models without a key: %d", w.Code)
	}
}

func TestGuardRateLimit(t *testing.T) {
	k := newKeyed(t, RateLimit{PerKey: 3, PerAddr: 5, Window: time.Second})
	search := func(key string) *httpResponse {
		w := do(t, k.h, "POST", "/v1/search", `{"query": "x"}`, "Authorization", bearerHeader(key))
		return &httpResponse{w.Code, w.Header(), w.Body.Bytes()}
	}
	// Per key: 3 a second, then 429 with Retry-After and a JSON error.
	for i := range 3 {
		if r := search(k.search); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := search(k.search)
	if r.status != 429 {
		t.Fatalf("4th request: %d, want 429", r.status)
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if e := decodeErrorBody(t, r.body); e.Code != quarry.CodeRateLimited {
		t.Errorf("429 body %s", r.body)
	}
	// Per address: the 5 requests of the window are used up (4 above
	// and this refused one); another key from the same address is
	// refused too, and so are failed attempts.
	if r := search(k.all); r.status != 200 {
		t.Fatalf("another key: %d", r.status)
	}
	if r := search(k.all); r.status != 429 {
		t.Errorf("address over its limit: %d", r.status)
	}
	if r := search(auth.Prefix + "guess"); r.status != 429 {
		t.Errorf("guessing keys over the address limit: %d, want 429 (not 401)", r.status)
	}
	// The limits recover once the window has slid past.
	deadline := time.Now().Add(5 * time.Second)
	for search(k.search).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the rate limit did not recover")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type httpResponse struct {
	status int
	header http.Header
	body   []byte
}

func TestGuardCORS(t *testing.T) {
	k := newKeyed(t, RateLimit{})
	preflight := func(origin string) *httpResponse {
		w := do(t, k.h, "OPTIONS", "/v1/ask", "", "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
		return &httpResponse{w.Code, w.Header(), w.Body.Bytes()}
	}
	r := preflight("https://shop.example")
	if r.status >= 300 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("preflight from a key's origin: %d %v", r.status, r.header)
	}
	if !strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight must allow the Authorization header: %v", r.header)
	}
	if r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials must never be allowed")
	}
	if r := preflight("https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an unknown origin allowed: %v", r.header)
	}
	w := do(t, k.h, "POST", "/v1/ask", `{"question": "x"}`, "Authorization", bearerHeader(k.widget), "Origin", "https://shop.example")
	// The widget key is for shop, the legacy route is default's: refused, but with CORS headers so the browser can read why.
	if w.Code != 403 || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("actual request: %d %v", w.Code, w.Header())
	}
}

func TestGuardAudit(t *testing.T) {
	k := newKeyed(t, RateLimit{})
	do(t, k.h, "POST", "/v1/admin/reindex", "", "Authorization", bearerHeader(k.admin))
	do(t, k.h, "POST", "/v1/admin/reindex", "", "Authorization", bearerHeader(k.admin)) // 409: already running
	do(t, k.h, "POST", "/v1/admin/reindex", "", "Authorization", bearerHeader(k.ask))
	do(t, k.h, "POST", "/v1/admin/reindex", "")
	do(t, k.h, "GET", "/v1/admin/status", "", "Authorization", bearerHeader(k.admin)) // reads are not audited

	w := do(t, k.h, "GET", "/v1/kb/default/admin/audit", "", "Authorization", bearerHeader(k.admin))
	var got auditListJSON
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	want := []struct {
		keyID, outcome string
		status         int
	}{
		{"", auth.OutcomeDenied, 401},
		{k.ids[k.ask], auth.OutcomeDenied, 403},
		{k.ids[k.admin], auth.OutcomeError, 409},
		{k.ids[k.admin], auth.OutcomeOK, 202},
	}
	if len(got.Events) != len(want) {
		t.Fatalf("events %+v, want %d", got.Events, len(want))
	}
	for i, e := range got.Events {
		if e.Action != "reindex" || e.KB != "default" || e.KeyID != want[i].keyID || e.Outcome != want[i].outcome ||
			e.Status != want[i].status || e.Time.IsZero() || e.RequestID == "" {
			t.Errorf("event %d: %+v, want %+v", i, e, want[i])
		}
	}
	if w := do(t, k.h, "GET", "/v1/kb/default/admin/audit?limit=zero", "", "Authorization", bearerHeader(k.admin)); w.Code != 400 {
		t.Errorf("bad limit: %d", w.Code)
	}
}

// TestGuardPolicy: every route the router serves needs the scope meant
// for it; a route the policy does not know needs admin.
func TestGuardPolicy(t *testing.T) {
	s := newServer(t, Config{Searcher: staticSearch(quarry.SearchResult{}), Admin: &fakeAdmin{}, Documents: &fakeDocuments{}, Audit: auth.NewAudit(t.TempDir()), Keys: openKeys{}})
	want := map[string]auth.Scope{
		"POST /v1/search": auth.ScopeSearch, "POST /v1/ask": auth.ScopeAsk,
		"POST /v1/chat/completions": auth.ScopeAsk, "GET /v1/models": "", "GET /v1/models/{model}": "",
		"GET /v1/admin/status": auth.ScopeAdmin, "POST /v1/admin/reindex": auth.ScopeAdmin,
		"GET /v1/kb/{kb}/admin/audit": auth.ScopeAdmin, "POST /v1/admin/rollback": auth.ScopeAdmin,
		"POST /v1/kb/{kb}/admin/reindex": auth.ScopeAdmin, "GET /v1/kb/{kb}/admin/status": auth.ScopeAdmin,
		"POST /v1/kb/{kb}/search": auth.ScopeSearch, "POST /v1/kb/{kb}/ask": auth.ScopeAsk,
		"POST /v1/kb/{kb}/admin/rollback": auth.ScopeAdmin, "DELETE /v1/kb/{kb}": auth.ScopeAdmin,
		"PUT /v1/kb/{kb}/documents": auth.ScopeIngest, "DELETE /v1/kb/{kb}/documents": auth.ScopeIngest,
		"GET /v1/something/new": auth.ScopeAdmin,
	}
	err := chi.Walk(s.mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/healthz" || route == "/readyz" || route == "/openapi.json" {
			return nil
		}
		if _, ok := want[method+" "+route]; !ok {
			t.Errorf("route %s %s has no expected scope in this test", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for route, scope := range want {
		_, pattern, _ := strings.Cut(route, " ")
		if got, _ := policy(httptestRequest(pattern), pattern); got != scope {
			t.Errorf("policy(%s) = %q, want %q", route, got, scope)
		}
	}
	for method, want := range map[string]string{"POST /v1/admin/reindex": "reindex", "POST /v1/kb/{kb}/admin/rollback": "rollback",
		"DELETE /v1/kb/{kb}": auth.ActionKBDelete, "PUT /v1/kb/{kb}": auth.ActionKBCreate,
		"PUT /v1/kb/{kb}/documents": auth.ActionDocumentPut, "DELETE /v1/kb/{kb}/documents": auth.ActionDocumentDelete} {
		m, p, _ := strings.Cut(method, " ")
		if got := auditAction(m, p); got != want {
			t.Errorf("auditAction(%s) = %q, want %q", method, got, want)
		}
	}
}

// openKeys lets everything through, as a server without keys on loopback.
type openKeys struct{}

func (openKeys) Authorize(auth.Request) (auth.Key, error) { return auth.Key{}, nil }
func (openKeys) AllowOrigin(string) bool                  { return false }

func httptestRequest(pattern string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x"+strings.ReplaceAll(pattern, "{kb}", "shop"), nil)
	return r
}

// TestGuardOpen: with a keyring that lets requests through without a
// key, nothing is limited or refused, as before keys existed.
func TestGuardOpen(t *testing.T) {
	h := newServer(t, Config{Searcher: staticSearch(quarry.SearchResult{}), Keys: openKeys{}, RateLimit: RateLimit{PerKey: 1, PerAddr: 1}}).Handler()
	for i := range 5 {
		if w := do(t, h, "POST", "/v1/search", `{"query": "x"}`); w.Code != 200 {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
}

// TestGuardRateLimitPerKB: a knowledge base with a limit of its own
// counts a key's requests to it apart (chat completions by their model).
func TestGuardRateLimitPerKB(t *testing.T) {
	k := newKeyed(t, RateLimit{PerKey: -1, PerAddr: -1, PerKeyForKB: map[string]int{"shop": 2}, Window: time.Minute})
	auth := []string{"Authorization", bearerHeader(k.all)}
	for i := range 5 {
		if w := do(t, k.h, "POST", "/v1/kb/default/search", `{"query": "x"}`, auth...); w.Code != 200 {
			t.Fatalf("default, request %d: %d (no limit there)", i, w.Code)
		}
	}
	if w := do(t, k.h, "POST", "/v1/kb/shop/search", `{"query": "x"}`, auth...); w.Code != 200 {
		t.Fatalf("shop, first: %d", w.Code)
	}
	chat := `{"model": "shop", "messages": [{"role": "user", "content": "hi"}]}`
	if w := do(t, k.h, "POST", "/v1/chat/completions", chat, auth...); w.Code != 200 {
		t.Fatalf("shop chat, second: %d %s", w.Code, w.Body)
	}
	w := do(t, k.h, "POST", "/v1/kb/shop/search", `{"query": "x"}`, auth...)
	if w.Code != 429 || w.Header().Get("X-RateLimit-Limit") != "2" {
		t.Errorf("shop, third: %d, limit header %q; want 429 at 2", w.Code, w.Header().Get("X-RateLimit-Limit"))
	}
	if _, err := New(Config{Searcher: staticSearch(quarry.SearchResult{}), RateLimit: RateLimit{PerKeyForKB: map[string]int{"shop": 0}}}); err == nil {
		t.Error("a zero per-KB limit was accepted")
	}
}
