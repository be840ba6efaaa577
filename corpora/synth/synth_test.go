package synth

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCorpusIsAValidFS(t *testing.T) {
	c := New(Config{Docs: 1203, Words: 40})
	var want []string
	for i := range c.Docs() {
		want = append(want, Path(i))
	}
	// fstest.TestFS checks Open, ReadDir, ReadFile and Stat agree.
	if err := fstest.TestFS(c, want[0], want[999], want[1000], want[1202]); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := fs.WalkDir(c, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil || n != 1203 {
		t.Fatalf("walk found %d files (%v), want 1203", n, err)
	}
	for _, bad := range []string{"d0001/doc0000001.md", "d0002/doc0001203.md", "d0000/doc1.md", "x"} {
		if _, err := fs.ReadFile(c, bad); err == nil {
			t.Errorf("ReadFile(%q) succeeded", bad)
		}
	}
}

func TestCorpusIsDeterministic(t *testing.T) {
	a, b := New(Config{Docs: 10, Seed: 7}), New(Config{Docs: 10, Seed: 7})
	other := New(Config{Docs: 10, Seed: 8})
	for i := range 10 {
		if string(a.Document(i)) != string(b.Document(i)) {
			t.Fatalf("document %d differs between two corpora of one seed", i)
		}
		if string(a.Document(i)) == string(other.Document(i)) {
			t.Fatalf("document %d is the same under another seed", i)
		}
	}
	doc := string(a.Document(3))
	if !strings.HasPrefix(doc, "# ") || !strings.Contains(doc, "\n\n## ") || len(strings.Fields(doc)) < 40 {
		t.Errorf("document 3 is not a titled Markdown document of about 100 words:\n%s", doc)
	}
	qs := a.Queries(20, 1)
	for _, q := range qs {
		if n := len(strings.Fields(q)); n < 1 || n > 5 {
			t.Errorf("query %q has %d words", q, n)
		}
	}
	if strings.Join(qs, "|") != strings.Join(b.Queries(20, 1), "|") {
		t.Error("queries differ for one seed")
	}
}

func BenchmarkDocument(b *testing.B) {
	c := New(Config{Docs: 1 << 20})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = c.Document(i % c.Docs())
	}
}
