package kb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/kb"
)

// TestDocuments: documents sent over the API are ingested at once into
// a new generation (added, replaced, removed), refused without a trace
// when they cannot be ingested, kept apart from the folder sources, and
// read again by a full rebuild.
func TestDocuments(t *testing.T) {
	ctx := context.Background()
	data, src := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.md"), []byte("# A\n\nAlpha ships parcels."), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, data)
	if _, _, err := m.Ingest(ctx, kb.Default, os.DirFS(src), kb.BuildOptions{Source: src}); err != nil {
		t.Fatal(err)
	}
	serving := func() []string {
		t.Helper()
		e, err := m.Open(ctx, kb.Default)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		got := search(t, e, "ships")
		slices.Sort(got)
		return got
	}

	res, err := m.PutDocument(ctx, kb.Default, "guide/b.md", strings.NewReader("# B\n\nBravo ships crates."))
	if err != nil || res.Action != "added" || res.Path != "uploads/guide/b.md" || res.Chunks == 0 || res.Generation == "" {
		t.Fatalf("PutDocument = %+v, %v", res, err)
	}
	if got := serving(); !slices.Equal(got, []string{"a.md", "uploads/guide/b.md"}) {
		t.Errorf("after the put: %v", got)
	}
	before := res.Generation
	res, err = m.PutDocument(ctx, kb.Default, "guide/b.md", strings.NewReader("# B\n\nBravo ships crates."))
	if err != nil || res.Action != "unchanged" || res.Generation != before {
		t.Errorf("the same content again = %+v, %v", res, err)
	}
	res, err = m.PutDocument(ctx, kb.Default, "guide/b.md", strings.NewReader("# B\n\nBravo ships pallets."))
	if err != nil || res.Action != "updated" || res.Generation == before {
		t.Errorf("replaced = %+v, %v", res, err)
	}

	// Refused: nothing changes, the stored file included.
	st, _ := m.State(kb.Default)
	for _, tc := range []struct {
		path, body string
		code       quarry.Code
	}{
		{"../escape.md", "# X\n\nx ships", quarry.CodeInvalid},
		{"/etc/x.md", "# X\n\nx ships", quarry.CodeInvalid},
		{".hidden.md", "# X\n\nx ships", quarry.CodeInvalid},
		{"tool.exe", "MZ ships", quarry.CodeUnsupported},
		{"guide/b.md", "", quarry.CodeInvalid}, // empty: would drop the good one
	} {
		_, err := m.PutDocument(ctx, kb.Default, tc.path, strings.NewReader(tc.body))
		if quarry.ErrorCode(err) != tc.code {
			t.Errorf("PutDocument(%q) = %v, want code %s", tc.path, err, tc.code)
		}
		if err != nil && strings.Contains(err.Error(), data) {
			t.Errorf("PutDocument(%q): the error shows the server's path: %v", tc.path, err)
		}
	}
	if st2, _ := m.State(kb.Default); st2.Current != st.Current {
		t.Errorf("a refused document switched generation %s -> %s", st.Current, st2.Current)
	}
	if b, err := os.ReadFile(filepath.Join(kb.Root(data, kb.Default), kb.UploadsDir, "guide", "b.md")); err != nil || !strings.Contains(string(b), "pallets") {
		t.Errorf("the stored document after a refused replacement: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(kb.Root(data, kb.Default), kb.UploadsDir, "tool.exe")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused document was kept: %v", err)
	}
	if _, err := m.PutDocument(ctx, "nope", "a.md", strings.NewReader("# A")); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("PutDocument into a knowledge base that does not exist = %v", err)
	}

	// An ingest of the folder source leaves them alone; a rebuild reads
	// them again.
	if err := os.WriteFile(filepath.Join(src, "c.md"), []byte("# C\n\nCharlie ships boxes."), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Ingest(ctx, kb.Default, os.DirFS(src), kb.BuildOptions{Source: src}); err != nil {
		t.Fatal(err)
	}
	if got := serving(); !slices.Equal(got, []string{"a.md", "c.md", "uploads/guide/b.md"}) {
		t.Errorf("after an ingest of the folder: %v", got)
	}
	if _, _, err := m.Reindex(ctx, kb.Default, kb.RebuildRequest{Trigger: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := serving(); !slices.Equal(got, []string{"a.md", "c.md", "uploads/guide/b.md"}) {
		t.Errorf("after a rebuild: %v", got)
	}

	res, err = m.DeleteDocument(ctx, kb.Default, "guide/b.md")
	if err != nil || res.Action != "removed" {
		t.Fatalf("DeleteDocument = %+v, %v", res, err)
	}
	if got := serving(); !slices.Equal(got, []string{"a.md", "c.md"}) {
		t.Errorf("after the delete: %v", got)
	}
	if _, err := m.DeleteDocument(ctx, kb.Default, "guide/b.md"); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("deleted twice = %v", err)
	}
}
