package index

import (
	"encoding/json"
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
