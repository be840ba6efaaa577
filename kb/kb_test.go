package kb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/bleveindex"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/memvec"
	"github.com/quarry-kb/quarry/kb"
)

// embedded keeps vectors in the generation's directory (memvec), as
// cmd/quarry wires it.
type embedded struct{}

func (embedded) Kind() string { return kb.StoreEmbedded }
func (embedded) Prepare(_ context.Context, _, dir, _ string, _ index.Space) error {
	return kb.WriteVectorsRecord(dir, kb.VectorsRecord{Store: kb.StoreEmbedded})
}
func (embedded) Open(_ context.Context, _, dir string, space index.Space) (index.VectorStore, error) {
	return memvec.Open(filepath.Join(dir, kb.VectorsDir), space, memvec.Config{})
}
func (embedded) Publish(context.Context, string) (func(context.Context) error, error) {
	return func(context.Context) error { return nil }, nil
}
func (embedded) Cleanup(context.Context, []string) error { return nil }
func (embedded) Close() error                            { return nil }

func engineConfig() kb.EngineConfig {
	return kb.EngineConfig{
		OpenKeyword: func(dir string) (kb.Keyword, error) { return bleveindex.Open(dir, bleveindex.Config{}) },
		NewEmbed:    func() (index.Embedder, error) { return charngram.New(charngram.Config{}) },
		VectorsFor:  func(string, kb.VectorsRecord) (kb.VectorBackend, error) { return embedded{}, nil },
	}
}

func newManager(t *testing.T, data string) *kb.Manager {
	t.Helper()
	m, err := kb.New(kb.Config{Data: data, Engine: engineConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func docs(kv ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return fsys
}

func search(t *testing.T, e interface {
	Search(context.Context, quarry.SearchRequest) (quarry.SearchResult, error)
}, q string) []string {
	t.Helper()
	res, err := e.Search(context.Background(), quarry.SearchRequest{Query: q, K: 10, Mode: quarry.ModeKeyword})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range res.Passages {
		paths = append(paths, p.Path)
	}
	return paths
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"default", true}, {"support-en", true}, {"kb2", true}, {"9", true},
		{"", false}, {"Support", false}, {"-x", false}, {"a_b", false}, {"a/b", false}, {"..", false},
		{"a b", false}, {strings.Repeat("a", 64), false}, {"中文", false},
	} {
		err := kb.ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, quarry.ErrInvalid) || !strings.Contains(err.Error(), "lower-case letters, digits and '-'")) {
			t.Errorf("ValidateName(%q): unclear error %v", tc.name, err)
		}
	}
}

func TestCreateListDelete(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, t.TempDir())
	if names, err := m.List(); err != nil || len(names) != 0 {
		t.Fatalf("List of an empty data directory = %v, %v", names, err)
	}
	for _, n := range []string{"beta", "alpha"} {
		if err := m.Create(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Create("alpha"); !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("second Create = %v, want conflict", err)
	}
	if err := m.Create("Bad Name"); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("Create of a bad name = %v, want invalid", err)
	}
	if names, _ := m.List(); !slices.Equal(names, []string{"alpha", "beta"}) {
		t.Errorf("List = %v", names)
	}
	if _, _, err := m.Ingest(ctx, "alpha", docs("a.md", "# Alpha\n\nAlpha ships parcels."), kb.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	in, err := m.Describe("alpha")
	if err != nil || in.Documents != 1 || in.Generation == "" {
		t.Errorf("Describe = %+v, %v", in, err)
	}
	if _, _, err := m.Ingest(ctx, "gamma", docs("a.md", "x"), kb.BuildOptions{}); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("Ingest into a knowledge base that does not exist = %v, want not found", err)
	}
	if err := m.Delete(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "alpha"); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("second Delete = %v, want not found", err)
	}
	if names, _ := m.List(); !slices.Equal(names, []string{"beta"}) {
		t.Errorf("List after Delete = %v", names)
	}
}

// TestKnowledgeBasesAreSeparate ingests the same paths into two
// knowledge bases: each answers only from its own documents.
func TestKnowledgeBasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, t.TempDir())
	for _, n := range []string{"red", "blue"} {
		if err := m.Create(n); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Ingest(ctx, n, docs("policy.md", "# Policy\n\nThe "+n+" warehouse ships orders daily."), kb.BuildOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"red", "blue"} {
		e, err := m.Open(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Search(ctx, quarry.SearchRequest{Query: "warehouse ships", K: 10, Mode: quarry.ModeKeyword})
		e.Close()
		if err != nil || len(res.Passages) != 1 || !strings.Contains(res.Passages[0].Text, n) {
			t.Errorf("%s: %+v, %v", n, res.Passages, err)
		}
	}
}

func TestIngestRollbackAndServing(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m := newManager(t, data)
	if _, err := m.Engine(ctx, "nope"); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("Engine of an unknown knowledge base = %v, want not found", err)
	}
	if _, err := m.Engine(ctx, kb.Default); !errors.Is(err, quarry.ErrUnavailable) {
		t.Errorf("Engine of an empty knowledge base = %v, want unavailable", err)
	}
	_, st1, err := m.Ingest(ctx, kb.Default, docs("a.md", "# A\n\nAlpha ships parcels."), kb.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Engine(ctx, kb.Default)
	if err != nil || e.Gen() != st1.Current {
		t.Fatalf("Engine = %v, %v; want generation %s", e, err, st1.Current)
	}
	// Another manager (another process) writes; this one serves.
	writer := newManager(t, data)
	_, st2, err := writer.Ingest(ctx, kb.Default, docs("a.md", "# A\n\nAlpha ships parcels.", "b.md", "# B\n\nBravo ships crates."), kb.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitServing := func(want string) {
		t.Helper()
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan struct{})
		go func() { defer close(done); m.Watch(wctx) }()
		for i := 0; i < 200; i++ {
			if g, _ := m.Serving(kb.Default); g == want {
				cancel()
				<-done
				return
			}
			sleep()
		}
		t.Fatalf("still serving another generation than %s", want)
	}
	waitServing(st2.Current)
	e, _ = m.Engine(ctx, kb.Default)
	if got := search(t, e, "ships"); len(got) != 2 {
		t.Errorf("after the ingest: %v", got)
	}
	st3, err := writer.Rollback(ctx, kb.Default)
	if err != nil || st3.Current != st1.Current {
		t.Fatalf("Rollback = %+v, %v", st3, err)
	}
	waitServing(st1.Current)
	e, _ = m.Engine(ctx, kb.Default)
	if got := search(t, e, "ships"); !slices.Equal(got, []string{"a.md"}) {
		t.Errorf("after the rollback: %v", got)
	}
	if st, err := m.Status(kb.Default); err != nil || st.Generation.Serving != st1.Current || st.Generation.Current != st1.Current {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if _, err := os.Stat(kb.Root(data, kb.Default)); err != nil {
		t.Error(err)
	}
}
