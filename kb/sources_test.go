package kb_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/kb"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	os.RemoveAll(dir)
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSourcesWithPrefixes: two folders with the same relative paths
// share a knowledge base, each under its prefix; ingesting one never
// removes or overwrites the other's documents, and a rebuild takes both.
func TestSourcesWithPrefixes(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	en, zh, plain := filepath.Join(root, "en"), filepath.Join(root, "zh"), filepath.Join(root, "plain")
	writeTree(t, en, map[string]string{"guide/setup.md": "# Setup\n\nPlug the hub into power.", "faq.md": "# FAQ\n\nThe hub has a reset button."})
	writeTree(t, zh, map[string]string{"guide/setup.md": "# 设置\n\n将集线器接通电源。", "faq.md": "# 常见问题\n\n集线器有一个重置按钮。"})
	writeTree(t, plain, map[string]string{"about.md": "# About\n\nThe hub company."})
	m := newManager(t, t.TempDir())

	ingest := func(dir, prefix string) {
		t.Helper()
		fsys, err := kb.OpenSource(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Ingest(ctx, kb.Default, fsys, kb.BuildOptions{Source: dir, Prefix: prefix}); err != nil {
			t.Fatal(err)
		}
	}
	paths := func() []string {
		t.Helper()
		e, err := m.Open(ctx, kb.Default)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		man, err := e.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		return man.Paths()
	}
	ingest(en, "en")
	ingest(zh, "zh")
	ingest(plain, "") // the root source coexists with prefixed ones
	want := []string{"about.md", "en/faq.md", "en/guide/setup.md", "zh/faq.md", "zh/guide/setup.md"}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("after ingesting en, zh and the root: %v, want %v", got, want)
	}
	// Re-ingesting en without one file removes only en's.
	os.Remove(filepath.Join(en, "faq.md"))
	ingest(en, "en")
	ingest(plain, "")
	want = []string{"about.md", "en/guide/setup.md", "zh/faq.md", "zh/guide/setup.md"}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("after re-ingesting en: %v, want %v", got, want)
	}
	// A rebuild reads every recorded source.
	if _, _, err := m.Reindex(ctx, kb.Default, kb.RebuildRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("after a rebuild: %v, want %v", got, want)
	}
	in, err := m.Describe(kb.Default)
	if err != nil || len(in.Sources) != 3 || in.Sources[1].Prefix != "en" || in.Sources[1].Path != en {
		t.Errorf("sources %+v, %v", in.Sources, err)
	}
	for _, bad := range []string{"../x", "/abs/../..", ".hidden"} {
		if _, _, err := m.Ingest(ctx, kb.Default, os.DirFS(en), kb.BuildOptions{Prefix: bad}); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}

// TestRebuildKeepsExclusions: the --exclude patterns a source was
// ingested with are recorded with it, so a rebuild (quarry reindex, the
// server's schedule) leaves the same files out, each below its own
// prefix; naming the same folder again keeps them.
func TestRebuildKeepsExclusions(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	en, plain := filepath.Join(root, "en"), filepath.Join(root, "plain")
	writeTree(t, en, map[string]string{"guide.md": "# Guide\n\nPlug the hub in.", "drafts/next.md": "# Next\n\nUnreleased.", "internal/notes.md": "# Notes\n\nStaff only."})
	writeTree(t, plain, map[string]string{"about.md": "# About\n\nThe hub company.", "drafts/old.md": "# Old\n\nStale.", "internal/notes.md": "# Notes\n\nRoot staff notes."})
	m := newManager(t, t.TempDir())
	ingest := func(dir, prefix string, exclude ...string) {
		t.Helper()
		fsys, err := kb.OpenSource(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Ingest(ctx, kb.Default, fsys, kb.BuildOptions{Source: dir, Prefix: prefix, Exclude: exclude}); err != nil {
			t.Fatal(err)
		}
	}
	paths := func() []string {
		t.Helper()
		e, err := m.Open(ctx, kb.Default)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		man, err := e.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		return man.Paths()
	}
	ingest(en, "en", "/drafts/")       // anchored: relative to en's folder
	ingest(plain, "", "internal/", "") // the root source's own patterns
	want := []string{"about.md", "drafts/old.md", "en/guide.md", "en/internal/notes.md"}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("after ingest: %v, want %v", got, want)
	}
	if _, _, err := m.Reindex(ctx, kb.Default, kb.RebuildRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("after a rebuild from the recorded sources: %v, want %v", got, want)
	}
	if _, _, err := m.Reindex(ctx, kb.Default, kb.RebuildRequest{Source: plain}); err != nil {
		t.Fatal(err)
	}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("after a rebuild naming the root folder again: %v, want %v", got, want)
	}
	in, err := m.Describe(kb.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range in.Sources {
		if s.Prefix == "en" && !slices.Equal(s.Exclude, []string{"/drafts/"}) {
			t.Errorf("en recorded with exclusions %q", s.Exclude)
		}
		if s.Prefix == "" && !slices.Contains(s.Exclude, "internal/") {
			t.Errorf("the root recorded with exclusions %q", s.Exclude)
		}
	}
}

// TestManifestLoadedOnUse: an engine reads its manifest's document list
// only when asked, and says so when the list has gone meanwhile instead
// of taking it for an empty knowledge base.
func TestManifestLoadedOnUse(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m := newManager(t, data)
	if _, _, err := m.Ingest(ctx, kb.Default, docs("a.md", "# A\n\nThe hub has a reset button."), kb.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	var manifests []string
	filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == kb.ManifestFile {
			manifests = append(manifests, p)
		}
		return nil
	})
	if len(manifests) != 1 {
		t.Fatalf("manifests %q, want one", manifests)
	}
	e, err := m.Open(ctx, kb.Default)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Empty() {
		t.Fatal("engine reports an empty knowledge base")
	}
	if err := os.Remove(manifests[0]); err != nil {
		t.Fatal(err)
	}
	if man, err := e.Manifest(); quarry.ErrorCode(err) != quarry.CodeUnavailable {
		t.Fatalf("Manifest() after its file was removed = %v, %v; want unavailable", man, err)
	}
}
