package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/quarry-kb/quarry"
)

// fakeAdmin runs one "rebuild" at a time and reports whether one runs.
type fakeAdmin struct {
	mu        sync.Mutex
	running   bool
	started   int
	statusErr error
	kbs       []string // the knowledge base of every call
	rollbacks int
}

type fakeStatus struct {
	Running bool `json:"running"`
	Started int  `json:"started"`
}

func (a *fakeAdmin) Status(ctx context.Context, kb string) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kbs = append(a.kbs, kb)
	if a.statusErr != nil {
		return nil, a.statusErr
	}
	return fakeStatus{Running: a.running, Started: a.started}, nil
}

func (a *fakeAdmin) Reindex(ctx context.Context, kb string) (any, error) {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return nil, quarry.Errorf(quarry.CodeConflict, "a rebuild is already running")
	}
	a.running = true
	a.started++
	a.mu.Unlock()
	return a.Status(ctx, kb)
}

func (a *fakeAdmin) Rollback(ctx context.Context, kb string) (any, error) {
	if kb != "default" && kb != "help" {
		return nil, quarry.Errorf(quarry.CodeNotFound, "no knowledge base %q", kb)
	}
	a.mu.Lock()
	a.rollbacks++
	a.mu.Unlock()
	return a.Status(ctx, kb)
}

func TestAdminRoutes(t *testing.T) {
	admin := &fakeAdmin{}
	var seen []string // routes the middleware saw: admin routes go through it
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.Method+" "+r.URL.Path+" "+RouteGroup(r.Context())+" "+KnowledgeBase(r.Context()))
			next.ServeHTTP(w, r)
		})
	}
	h := newServer(t, Config{Searcher: staticSearch(quarry.SearchResult{}), Admin: admin, Middleware: []func(http.Handler) http.Handler{mw}}).Handler()

	tests := []struct {
		name, method, path string
		status             int
		want               fakeStatus
		code               quarry.Code
	}{
		{"status idle", http.MethodGet, "/v1/admin/status", http.StatusOK, fakeStatus{}, ""},
		{"start", http.MethodPost, "/v1/admin/reindex", http.StatusAccepted, fakeStatus{Running: true, Started: 1}, ""},
		{"status running", http.MethodGet, "/v1/admin/status", http.StatusOK, fakeStatus{Running: true, Started: 1}, ""},
		{"second start conflicts", http.MethodPost, "/v1/admin/reindex", http.StatusConflict, fakeStatus{}, quarry.CodeConflict},
		{"reindex is POST only", http.MethodGet, "/v1/admin/reindex", http.StatusMethodNotAllowed, fakeStatus{}, "method_not_allowed"},
		{"status of a named knowledge base", http.MethodGet, "/v1/kb/help/admin/status", http.StatusOK, fakeStatus{Running: true, Started: 1}, ""},
		{"rollback", http.MethodPost, "/v1/kb/help/admin/rollback", http.StatusOK, fakeStatus{Running: true, Started: 1}, ""},
		{"rollback of the default", http.MethodPost, "/v1/admin/rollback", http.StatusOK, fakeStatus{Running: true, Started: 1}, ""},
		{"rollback of an unknown knowledge base", http.MethodPost, "/v1/kb/nope/admin/rollback", http.StatusNotFound, fakeStatus{}, quarry.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, h, tc.method, tc.path, "")
			if w.Code != tc.status {
				t.Fatalf("%s %s = %d, want %d\n%s", tc.method, tc.path, w.Code, tc.status, w.Body)
			}
			if tc.code != "" {
				if got := decodeErrorBody(t, w.Body.Bytes()); got.Code != tc.code {
					t.Errorf("error code %q, want %q", got.Code, tc.code)
				}
				return
			}
			var got fakeStatus
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got != tc.want {
				t.Errorf("body %s (%v), want %+v", w.Body, err, tc.want)
			}
		})
	}
	if len(seen) < 8 || seen[0] != "GET /v1/admin/status admin default" || seen[4] != "GET /v1/kb/help/admin/status admin help" {
		t.Errorf("the middleware saw %v; admin routes must go through Config.Middleware, with their group and knowledge base", seen)
	}
	if admin.rollbacks != 2 || !slices.Contains(admin.kbs, "help") {
		t.Errorf("rollbacks %d, knowledge bases %v", admin.rollbacks, admin.kbs)
	}

	admin.statusErr = quarry.Errorf(quarry.CodeUnavailable, "state unreadable")
	if w := do(t, h, http.MethodGet, "/v1/admin/status", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("failing status = %d, want 503", w.Code)
	}
}

func TestAdminRoutesOffWithoutAdmin(t *testing.T) {
	h := newServer(t, Config{Searcher: staticSearch(quarry.SearchResult{})}).Handler()
	for _, path := range []string{"/v1/admin/status", "/v1/admin/reindex"} {
		if w := do(t, h, http.MethodPost, path, ""); w.Code != http.StatusNotFound {
			t.Errorf("POST %s without Config.Admin = %d, want 404", path, w.Code)
		}
	}
}
