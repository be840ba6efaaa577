package fsx

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	for _, v := range []map[string]int{{"a": 1}, {"a": 2}} {
		if err := WriteJSON(path, v); err != nil {
			t.Fatal(err)
		}
		var got map[string]int
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &got); err != nil || got["a"] != v["a"] {
			t.Fatalf("read back %s: %v, %v", b, got, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if err := WriteJSON(path, func() {}); err == nil {
		t.Error("unencodable value written")
	}
	if b, _ := os.ReadFile(path); len(b) == 0 {
		t.Error("a failed write damaged the existing file")
	}
}
