package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSyncFolderBoundaries builds a folder with links that leave it,
// loop or stay inside, odd names and ignore files, and checks that every
// entry is either ingested or named with its reason, and that the counts
// add up.
func TestSyncFolderBoundaries(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "passwd.txt")
	write(t, secret, "root:x:0:0:root:/root:/bin/bash")
	src := t.TempDir()
	files := map[string]string{
		"good.md":                 "# Good\n\nA good document about refunds.",
		"docs/inner.md":           "# Inner\n\nShipping takes three days.",
		"..md":                    "# Dots\n\nA file named dot dot md.",
		"..hidden/x.md":           "# Hidden\n\nInside a dot-dot directory.",
		"drafts/wip.md":           "# Draft\n\nNot ready.",
		"notes/todo.md":           "# Todo\n\nExcluded by a nested ignore file.",
		"notes/keep.md":           "# Keep\n\nKept.",
		"build/out.txt":           "Excluded by --exclude.",
		"caf\xe9.md":              "# Latin-1 name\n\nA name that is not UTF-8.",
		".quarryignore":           "# drafts are not published\ndrafts/\n",
		"notes/.quarryignore":     "todo.md\n",
		"links/dangling-target.x": "",
	}
	for name, text := range files {
		write(t, filepath.Join(src, name), text)
	}
	os.Remove(filepath.Join(src, "links/dangling-target.x"))
	links := map[string]string{
		"links/passwd.txt":   secret,                                            // absolute, outside
		"links/up.md":        "../../" + filepath.Base(outside) + "/passwd.txt", // relative, outside
		"links/loop-a.md":    "loop-b.md",
		"links/loop-b.md":    "loop-a.md",
		"links/inner.md":     "../docs/inner.md",            // inside: ingested
		"links/abs-inner.md": filepath.Join(src, "good.md"), // absolute, inside (Root)
		"links/docs":         "../docs",                     // a directory
		"links/dangling.md":  "nowhere.md",
		"links/viadir.txt":   "outdir/passwd.txt", // through a link to a directory outside
		"links/outdir":       outside,
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	sink := newMemSink()
	sum, err := Sync(context.Background(), os.DirFS(src), sink, Options{Exclude: []string{"build/"}, Root: src})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	want := []string{"docs/inner.md", "good.md", "links/abs-inner.md", "links/inner.md", "notes/keep.md"}
	if got := sink.sortedPaths(); !slices.Equal(got, want) {
		t.Errorf("indexed %q, want %q", got, want)
	}
	wantSkips := map[string]string{
		"..hidden/":         KindHidden,
		"..md":              KindHidden,
		"build/":            KindIgnored,
		"caf\uFFFD.md":      KindBadName,
		"drafts/":           KindIgnored,
		"links/dangling.md": KindUnreadable,
		"links/docs":        KindLinkDir,
		"links/loop-a.md":   KindLoop,
		"links/loop-b.md":   KindLoop,
		"links/outdir":      KindOutside,
		"links/passwd.txt":  KindOutside,
		"links/up.md":       KindOutside,
		"links/viadir.txt":  KindOutside,
		"notes/todo.md":     KindIgnored,
	}
	got := map[string]string{}
	for _, sk := range sum.Skipped {
		got[sk.Path] = sk.Kind
		if sk.Reason == "" {
			t.Errorf("skip %s has no reason", sk.Path)
		}
	}
	for p, k := range wantSkips {
		if got[p] != k {
			t.Errorf("skip %q: kind %q, want %q", p, got[p], k)
		}
	}
	for p := range got {
		if _, ok := wantSkips[p]; !ok {
			t.Errorf("unexpected skip %q (%s)", p, got[p])
		}
	}
	if sum.Files != sum.Added+sum.Updated+sum.Unchanged+len(sum.Skipped) {
		t.Errorf("counts do not add up: %+v", sum)
	}
	for _, cs := range sink.chunks {
		for _, c := range cs {
			if strings.Contains(c.Text, "root:x:0:0") {
				t.Fatalf("a file outside the folder was indexed: %q", c.Text)
			}
		}
	}
	report := sum.String()
	for _, s := range []string{"symlink outside the folder: 4", "links/passwd.txt: symbolic link to " + secret, "symlink loop: 2", "hidden: 2", "ignored: 3"} {
		if !strings.Contains(report, s) {
			t.Errorf("report lacks %q:\n%s", s, report)
		}
	}

	// Following links outside the folder is the operator's choice.
	sink2 := newMemSink()
	if _, err := Sync(context.Background(), os.DirFS(src), sink2, Options{FollowSymlinks: true, Root: src}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sink2.docs["links/passwd.txt"]; !ok {
		t.Errorf("FollowSymlinks: links/passwd.txt not indexed: %q", sink2.sortedPaths())
	}
	// ... and a document indexed that way is removed once links are not
	// followed any more.
	sum, err = Sync(context.Background(), os.DirFS(src), sink2, Options{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sink2.docs["links/passwd.txt"]; ok {
		t.Errorf("links/passwd.txt still indexed after links stopped being followed")
	}
}

// A file whose parse failed is not parsed again while its content is
// the same, and is tried again once it changes.
func TestSyncRemembersFailures(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "bad.pdf"), "%PDF-1.4\nnot really\n%%EOF")
	write(t, filepath.Join(src, "ok.md"), "# OK\n\nFine.")
	store := filepath.Join(t.TempDir(), "failures.json")
	calls := map[string]int{}
	parse := func(_ context.Context, path string, data []byte) (Parsed, error) {
		calls[path]++
		return ParseFile(path, data)
	}
	run := func() Summary {
		t.Helper()
		f := LoadFailures(store)
		sum, err := Sync(context.Background(), os.DirFS(src), newMemSink(), Options{Parse: parse, Failures: f, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Save(); err != nil {
			t.Fatal(err)
		}
		return sum
	}
	run()
	sum := run()
	if calls["bad.pdf"] != 1 || calls["ok.md"] != 2 {
		t.Errorf("parse calls = %v, want bad.pdf parsed once", calls)
	}
	if len(sum.Skipped) != 1 || sum.Skipped[0].Kind != KindMalformed || !strings.Contains(sum.Skipped[0].Reason, "remembered") {
		t.Errorf("second run skips = %+v", sum.Skipped)
	}
	write(t, filepath.Join(src, "bad.pdf"), "%PDF-1.4\nstill not\n%%EOF")
	run()
	if calls["bad.pdf"] != 2 {
		t.Errorf("a changed file was not parsed again: %v", calls)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExcludeIn applies a source's --exclude patterns below the folder it
// is mounted at, as a .quarryignore file there would: an anchored pattern
// is relative to that folder, and nothing outside it is touched.
func TestExcludeIn(t *testing.T) {
	src := t.TempDir()
	for _, name := range []string{"en/drafts/a.md", "en/guide/drafts/b.md", "en/keep.md", "zh/drafts/c.md", "zh/tmp.log.md", "en/tmp.log.md"} {
		write(t, filepath.Join(src, name), "# T\n\nText of "+name+".")
	}
	tests := []struct {
		name  string
		opts  Options
		index []string
	}{
		{"anchored under en", Options{ExcludeIn: map[string][]string{"en": {"/drafts/"}}},
			[]string{"en/guide/drafts/b.md", "en/keep.md", "en/tmp.log.md", "zh/drafts/c.md", "zh/tmp.log.md"}},
		{"unanchored under en", Options{ExcludeIn: map[string][]string{"en": {"drafts/", "*.log.md"}}},
			[]string{"en/keep.md", "zh/drafts/c.md", "zh/tmp.log.md"}},
		{"root and a folder", Options{Exclude: []string{"/zh/drafts/"}, ExcludeIn: map[string][]string{"en/": {"tmp.log.md"}}},
			[]string{"en/drafts/a.md", "en/guide/drafts/b.md", "en/keep.md", "zh/tmp.log.md"}},
		{"negation inside the folder", Options{ExcludeIn: map[string][]string{"en": {"*.md", "!keep.md"}}},
			[]string{"en/keep.md", "zh/drafts/c.md", "zh/tmp.log.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newMemSink()
			if _, err := Sync(context.Background(), os.DirFS(src), sink, tt.opts); err != nil {
				t.Fatal(err)
			}
			if got := sink.sortedPaths(); !slices.Equal(got, tt.index) {
				t.Errorf("indexed %q, want %q", got, tt.index)
			}
		})
	}
}

// TestExcludeInStopsAtDeeperFolder: the patterns of the root stop where
// another folder's own begin (two sources, one mounted inside the other).
func TestExcludeInStopsAtDeeperFolder(t *testing.T) {
	src := t.TempDir()
	for _, name := range []string{"internal/a.md", "en/internal/b.md", "en/drafts/c.md", "drafts/d.md"} {
		write(t, filepath.Join(src, name), "# T\n\nText of "+name+".")
	}
	sink := newMemSink()
	opts := Options{ExcludeIn: map[string][]string{"": {"internal/"}, "en": {"drafts/"}}}
	if _, err := Sync(context.Background(), os.DirFS(src), sink, opts); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.sortedPaths(), []string{"drafts/d.md", "en/internal/b.md"}; !slices.Equal(got, want) {
		t.Errorf("indexed %q, want %q", got, want)
	}
}
