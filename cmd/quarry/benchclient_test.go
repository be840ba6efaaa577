package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The load generator sends each query's search, keeps connections alive,
// opens a new one when the server closes one (Connection: close, or
// between requests), and reports a status other than 200 as an error
// with the body's start.
func TestLoadClient(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Query string `json:"query"`
			K     int    `json:"k"`
			Mode  string `json:"mode"`
		}
		if r.URL.Path != "/v1/search" || json.NewDecoder(r.Body).Decode(&in) != nil || in.K != 7 || in.Mode != "keyword" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch i := n.Add(1); {
		case in.Query == "fail":
			http.Error(w, `{"error":{"code":"internal"}}`, http.StatusInternalServerError)
		case i%3 == 0:
			w.Header().Set("Connection", "close")
			w.Write([]byte(`{"results":[]}`))
		case i%5 == 0:
			// chunked
			w.Write([]byte(`{"results":[`))
			w.(http.Flusher).Flush()
			w.Write([]byte(`]}`))
		default:
			w.Write([]byte(`{"results":[]}`))
		}
	}))
	defer srv.Close()
	queries := []string{"tea", "green tea", "fail"}
	search, closeIdle, err := httpSearchFunc(srv.URL, 4, queries, 7, "keyword")
	if err != nil {
		t.Fatal(err)
	}
	defer closeIdle()
	sb := runLoad(context.Background(), 4, 60, queries, search)
	if sb.Errors != 20 || !strings.Contains(sb.FirstError, "status 500") || !strings.Contains(sb.FirstError, "internal") {
		t.Errorf("errors %d (%s); want the 20 searches for \"fail\", with status and body", sb.Errors, sb.FirstError)
	}
	if got := n.Load(); got != 60 {
		t.Errorf("the server got %d requests, want 60", got)
	}
	if _, _, err := httpSearchFunc("https://example.com", 1, queries, 7, "keyword"); err == nil {
		t.Error("an https URL was taken")
	}
}
