package server

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
)

// fakeDocuments keeps documents in memory, with kb/DocumentResult's
// shape of answer.
type fakeDocuments struct {
	mu   sync.Mutex
	docs map[string]string // kb + "/" + path -> content
}

type fakeDocResult struct {
	KB         string `json:"kb"`
	Path       string `json:"path"`
	Action     string `json:"action"`
	Chunks     int    `json:"chunks"`
	Generation string `json:"generation"`
}

func (f *fakeDocuments) PutDocument(_ context.Context, kb, path string, body io.Reader) (any, error) {
	if strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return nil, quarry.Errorf(quarry.CodeInvalid, "invalid document path %q", path)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.docs == nil {
		f.docs = map[string]string{}
	}
	old, had := f.docs[kb+"/"+path]
	f.docs[kb+"/"+path] = string(b)
	action := "added"
	switch {
	case had && old == string(b):
		action = "unchanged"
	case had:
		action = "updated"
	}
	return fakeDocResult{KB: kb, Path: "uploads/" + path, Action: action, Chunks: 1, Generation: "g1"}, nil
}

func (f *fakeDocuments) DeleteDocument(_ context.Context, kb, path string) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.docs[kb+"/"+path]; !ok {
		return nil, quarry.Errorf(quarry.CodeNotFound, "no document %q", path)
	}
	delete(f.docs, kb+"/"+path)
	return fakeDocResult{KB: kb, Path: "uploads/" + path, Action: "removed", Generation: "g2"}, nil
}

// TestDocumentRoutes: PUT and DELETE /v1/kb/{kb}/documents pass the
// knowledge base, path and body through, need ?path=, cap the body, and
// are audited with the document's path.
func TestDocumentRoutes(t *testing.T) {
	dir := t.TempDir()
	docs := &fakeDocuments{}
	audit := auth.NewAudit(dir)
	h := newServer(t, Config{
		Searcher: staticSearch(quarry.SearchResult{}), Documents: docs, MaxDocumentBytes: 64, Audit: audit,
	}).Handler()
	md := []string{"Content-Type", "text/markdown"}
	w := do(t, h, "PUT", "/v1/kb/shop/documents?path=guide/install.md", "# Install\n\nRun it.", md...)
	var res fakeDocResult
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &res) != nil || res.Action != "added" || res.KB != "shop" {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	if got := docs.docs["shop/guide/install.md"]; got != "# Install\n\nRun it." {
		t.Errorf("stored %q", got)
	}
	if w := do(t, h, "PUT", "/v1/kb/shop/documents?path=guide/install.md", "# Install\n\nRun it again.", md...); w.Code != 200 || !strings.Contains(w.Body.String(), `"updated"`) {
		t.Errorf("replace: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "PUT", "/v1/kb/shop/documents", "# X", md...); w.Code != 400 || !strings.Contains(w.Body.String(), "?path=") {
		t.Errorf("without ?path=: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "PUT", "/v1/kb/shop/documents?path=big.md", strings.Repeat("x", 65), md...); w.Code != 413 {
		t.Errorf("65 bytes over a 64-byte limit: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "DELETE", "/v1/kb/shop/documents?path=guide/install.md", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"removed"`) {
		t.Errorf("delete: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "DELETE", "/v1/kb/shop/documents?path=guide/install.md", ""); w.Code != 404 {
		t.Errorf("delete again: %d %s", w.Code, w.Body)
	}
	events, err := audit.List(0, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Action+" "+e.Detail+" "+e.Outcome)
	}
	want := []string{
		"document.delete guide/install.md error", "document.delete guide/install.md ok",
		"document.put big.md error", "document.put  error",
		"document.put guide/install.md ok", "document.put guide/install.md ok",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
