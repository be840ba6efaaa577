package index

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

func TestLoadManifestMissingIsEmpty(t *testing.T) {
	m, err := LoadManifest(filepath.Join(t.TempDir(), "none", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Empty() || m.Docs == nil || m.Version != ManifestVersion {
		t.Errorf("manifest = %+v, want an empty one", m)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "manifest.json") // the directory is created
	m := NewManifest()
	m.Space = Space{Embedder: "quarry-charngram-v1", Dim: 1 << 18, Sparse: true, IDF: true}
	when := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	m.Docs["a/b.md"] = ManifestDoc{DocID: "0123456789abcdef", Path: "a/b.md", Title: "B", Type: "markdown",
		Lang: "en", Hash: "ff", Size: 12, Chunks: 3, Updated: when}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Space.Equal(m.Space) || len(got.Docs) != 1 || got.Docs["a/b.md"] != m.Docs["a/b.md"] {
		t.Errorf("loaded %+v, saved %+v", got, m)
	}
	// Saving again replaces the file and leaves no temporary files.
	delete(m.Docs, "a/b.md")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 || entries[0].Name() != "manifest.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only manifest.json", names)
	}
	if got, _ := LoadManifest(path); !got.Empty() {
		t.Errorf("second save did not replace the first: %+v", got)
	}
}

func TestLoadManifestErrors(t *testing.T) {
	dir := t.TempDir()
	newer, _ := json.Marshal(map[string]any{"version": ManifestVersion + 1, "docs": map[string]any{}})
	tests := []struct {
		name string
		data string
		code quarry.Code
	}{
		{"corrupt json", `{"version": 1, "docs": {`, quarry.CodeInvalid},
		{"wrong shape", `{"docs": []}`, quarry.CodeInvalid},
		{"newer format", string(newer), quarry.CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadManifest(path)
			if quarry.ErrorCode(err) != tt.code {
				t.Errorf("err = %v (code %q), want %q", err, quarry.ErrorCode(err), tt.code)
			}
		})
	}
}

func TestManifestSaveFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty directory, so the final rename fails.
	path := filepath.Join(dir, "manifest.json")
	if err := os.MkdirAll(filepath.Join(path, "occupied"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := NewManifest()
	m.Docs["x.md"] = ManifestDoc{DocID: "1", Hash: "h"}
	err := m.Save(path)
	if quarry.ErrorCode(err) != quarry.CodeUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed save left %d entries (temporary file not removed)", len(entries))
	}
}

// TestReadManifestHeader: the header says what the whole manifest says
// (space, version, empty or not), and the errors are LoadManifest's,
// however the file is laid out.
func TestReadManifestHeader(t *testing.T) {
	dir := t.TempDir()
	space := Space{Embedder: "quarry-charngram-v1", Dim: 1 << 18, Sparse: true, IDF: true}
	saved := func(docs int) string {
		m := NewManifest()
		m.Space = space
		for i := range docs {
			p := fmt.Sprintf("d/%d.md", i)
			m.Docs[p] = ManifestDoc{DocID: fmt.Sprint(i), Path: p, Hash: "ff", Chunks: 2}
		}
		path := filepath.Join(dir, fmt.Sprintf("saved%d.json", docs))
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	full := saved(3)
	newer, _ := json.Marshal(map[string]any{"version": ManifestVersion + 1, "docs": map[string]any{}})
	tests := []struct {
		name  string
		data  string // "" for no file
		code  quarry.Code
		empty bool
		space bool // the header holds space
	}{
		{"missing", "", "", true, false},
		{"saved, three documents", full, "", false, true},
		{"saved, none", saved(0), "", true, true},
		{"docs null", `{"version":1,"space":{"embedder":"quarry-charngram-v1","dim":262144,"sparse":true,"idf":true},"docs":null}`, "", true, true},
		{"docs before space", `{"docs":{"a.md":{"doc_id":"1","hash":"h"}},"space":{"embedder":"quarry-charngram-v1","dim":262144,"sparse":true,"idf":true},"version":1}`, "", false, true},
		{"keys in another case", `{"Version":1,"SPACE":{"embedder":"quarry-charngram-v1","dim":262144,"sparse":true,"idf":true},"Docs":{"a.md":{"doc_id":"1"}}}`, "", false, true},
		{"newer version after the documents", `{"space":{},"docs":{"a":{}},"version":9}`, quarry.CodeConflict, false, false},
		{"unknown field first", `{"extra":[1,{"x":2}],"version":1,"space":{"embedder":"quarry-charngram-v1","dim":262144,"sparse":true,"idf":true},"docs":{}}`, "", true, true},
		// Only the header is read: a document entry cut short is found
		// by the next whole load, not here.
		{"documents cut short", full[:len(full)-40], "", false, true},
		{"newer format", string(newer), quarry.CodeConflict, false, false},
		{"newer format, header first", `{"version":9,"space":{},"docs":{"a":{}}}`, quarry.CodeConflict, false, false},
		{"corrupt json", `{"version": 1, "docs": {`, quarry.CodeInvalid, false, false},
		{"wrong shape", `{"docs": []}`, quarry.CodeInvalid, false, false},
		{"version not a number", `{"version":"one","space":{},"docs":{}}`, quarry.CodeInvalid, false, false},
		{"docs not an object", `{"version":1,"space":{},"docs":[1]}`, quarry.CodeInvalid, false, false},
		{"not an object", `[1,2]`, quarry.CodeInvalid, false, false},
		{"empty file", ``, quarry.CodeInvalid, false, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("case%d.json", i))
			if tt.name != "missing" {
				if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			h, err := ReadManifestHeader(path)
			if quarry.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v (code %q), want code %q", err, quarry.ErrorCode(err), tt.code)
			}
			if err != nil {
				return
			}
			if h.Empty != tt.empty || h.Version != ManifestVersion || h.Space.Equal(space) != tt.space {
				t.Errorf("header = %+v, want empty %v, space %v", h, tt.empty, tt.space)
			}
			// Where the whole manifest loads, it agrees.
			if m, err := LoadManifest(path); err == nil && (m.Empty() != h.Empty || !m.Space.Equal(h.Space)) {
				t.Errorf("header %+v, whole manifest: empty %v, space %+v", h, m.Empty(), m.Space)
			}
		})
	}
}
