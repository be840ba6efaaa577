package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/quarry-kb/quarry/kb"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/gen"
)

// runCLIEnv runs one quarry command with environment variables.
func runCLIEnv(t *testing.T, vars map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errw bytes.Buffer
	code := RunEnv(context.Background(), testEnv(&out, &errw, vars), args)
	return out.String(), errw.String(), code
}

// mustCLI runs a command that must succeed.
func mustCLI(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLIEnv(t, vars, args...)
	if code != 0 {
		t.Fatalf("quarry %s exited %d:\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func state(t *testing.T, data string) gen.State {
	t.Helper()
	d, err := gen.Open(kbRoot(data))
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// genDirs lists the generation directories on disk, half-built ones
// included.
func genDirs(t *testing.T, data string) []string {
	t.Helper()
	ents, err := os.ReadDir(kbRoot(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && genCollection.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// corpusFor writes a source folder whose documents all belong to one
// "generation" tag: every file mentions the refund window, so any query
// about it matches every document, but paths and the window differ.
func corpusFor(t *testing.T, dir, tag string, n int) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("%s-%02d.md", tag, i)] = fmt.Sprintf(
			"# %s refund policy %d\n\nThe refund window for %s orders is %d days. Refunds go back to the original payment method within five business days. Shipping fees are refunded when the item arrives damaged.\n",
			strings.ToUpper(tag[:1])+tag[1:], i, tag, 10+i)
	}
	writeFiles(t, dir, files)
}

func TestReindexAndRollbackCLI(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)

	// reindex needs a recorded source.
	_, errOut, code := runCLIEnv(t, nil, "reindex", "--data", data)
	if code != 1 || !strings.Contains(errOut, "no source is recorded") {
		t.Fatalf("reindex before any ingest: exit %d, %s", code, errOut)
	}
	_, errOut, code = runCLIEnv(t, nil, "rollback", "--data", data)
	if code != 1 || !strings.Contains(errOut, "no index") {
		t.Fatalf("rollback before any ingest: exit %d, %s", code, errOut)
	}

	mustCLI(t, nil, "ingest", "--data", data, src)
	g1 := state(t, data).Current
	_, errOut, code = runCLIEnv(t, nil, "rollback", "--data", data)
	if code != 1 || !strings.Contains(errOut, "no previous generation") {
		t.Fatalf("rollback with one generation: exit %d, %s", code, errOut)
	}

	// The source changes; reindex reads it from the recorded path.
	corpusFor(t, src, "bravo", 4)
	out := mustCLI(t, nil, "reindex", "--data", data)
	s := state(t, data)
	if s.Current == g1 || s.Previous != g1 || s.Info.Reason != "reindex" || s.Info.Documents != 4 || s.Info.VectorStore != storeEmbedded {
		t.Fatalf("after reindex: %+v\n%s", s, out)
	}
	if !strings.Contains(out, "4 added") || !strings.Contains(out, "Switched to generation "+s.Current) {
		t.Errorf("reindex output:\n%s", out)
	}
	g2 := s.Current
	if got := mustCLI(t, nil, "search", "--data", data, "--k", "10", "refund window"); strings.Contains(got, "alpha-") || !strings.Contains(got, "bravo-") {
		t.Errorf("after reindex, search should see only bravo documents:\n%s", got)
	}

	// A reindex is fresh: nothing of the previous generation is copied, and
	// it switches even when the sources did not change.
	out = mustCLI(t, nil, "reindex", "--data", data)
	s = state(t, data)
	if s.Current == g2 || s.Previous != g2 || !strings.Contains(out, "4 added") {
		t.Fatalf("second reindex: %+v\n%s", s, out)
	}
	g3 := s.Current
	if dirs := genDirs(t, data); len(dirs) != 2 || dirs[0] != g2 || dirs[1] != g3 {
		t.Errorf("generations on disk %v, want [%s %s] (older ones pruned)", dirs, g2, g3)
	}

	out = mustCLI(t, nil, "rollback", "--data", data)
	s = state(t, data)
	if s.Current != g2 || s.Previous != g3 || s.Info.Reason != "rollback" || !strings.Contains(out, "Rolled back to generation "+g2) {
		t.Fatalf("after rollback: %+v\n%s", s, out)
	}

	// A reindex naming a folder uses it and records it for the next one.
	other := t.TempDir()
	corpusFor(t, other, "charlie", 2)
	mustCLI(t, nil, "reindex", "--data", data, other)
	mustCLI(t, nil, "reindex", "--data", data)
	if s := state(t, data); s.Info.Documents != 2 {
		t.Errorf("reindex after naming %s: %d documents, want 2", other, s.Info.Documents)
	}
	var rec kb.RebuildRecord
	b, err := os.ReadFile(filepath.Join(kbRoot(data), rebuildRecordFile))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.LastSuccess == nil || rec.LastTrigger != "cli" || rec.LastError != "" {
		t.Errorf("rebuild record %s (%v)", b, err)
	}
}

func TestReindexRefusesToLoseDocuments(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	mustCLI(t, nil, "ingest", "--data", data, src)
	before := state(t, data)

	// The folder went empty (an unmounted volume, say): a reindex must
	// not replace a good index with an empty one.
	corpusFor(t, src, "alpha", 0)
	_, errOut, code := runCLIEnv(t, nil, "reindex", "--data", data)
	if code != 1 || !strings.Contains(errOut, "no document") || !strings.Contains(errOut, "still serving the previous generation") {
		t.Errorf("reindex of an empty folder: exit %d\n%s", code, errOut)
	}
	// The folder is gone.
	os.RemoveAll(src)
	_, errOut, code = runCLIEnv(t, nil, "reindex", "--data", data)
	if code != 1 || !strings.Contains(errOut, "not a readable directory") {
		t.Errorf("reindex of a missing folder: exit %d\n%s", code, errOut)
	}
	if after := state(t, data); after.Current != before.Current || after.Versions != before.Versions {
		t.Errorf("failed rebuilds changed the state: %+v -> %+v", before, after)
	}
	if dirs := genDirs(t, data); len(dirs) != 1 {
		t.Errorf("failed rebuilds left generations behind: %v", dirs)
	}
	var rec kb.RebuildRecord
	b, _ := os.ReadFile(filepath.Join(kbRoot(data), rebuildRecordFile))
	if json.Unmarshal(b, &rec); !strings.Contains(rec.LastError, "not a readable directory") || rec.LastSuccess != nil {
		t.Errorf("rebuild record after failures: %s", b)
	}
}

// TestEmbedderChangeNeedsReindex: vectors of two embedders cannot be
// mixed, so an incremental ingest with another embedder is refused and a
// reindex is the way.
func TestEmbedderChangeNeedsReindex(t *testing.T) {
	ctx := context.Background()
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	mustCLI(t, nil, "ingest", "--data", data, src)
	before := state(t, data)

	other := engineConfig{NewEmbed: func() (index.Embedder, error) { return charngram.New(charngram.Config{Bits: 16}) }}
	env := testEnv(&bytes.Buffer{}, &bytes.Buffer{}, nil)
	o := options{Data: data}
	corpusFor(t, src, "bravo", 3) // something to ingest
	_, err := ingestInto(ctx, env, o, os.DirFS(src), buildOptions{engine: other})
	if !errors.Is(err, quarry.ErrConflict) || !strings.Contains(err.Error(), "quarry reindex") {
		t.Fatalf("ingest with another embedder: %v, want a conflict naming quarry reindex", err)
	}
	if after := state(t, data); after.Current != before.Current {
		t.Fatalf("refused ingest switched generations")
	}
	if dirs := genDirs(t, data); len(dirs) != 1 {
		t.Errorf("refused ingest left generations behind: %v", dirs)
	}
	_, st, err := reindex(ctx, env, o, rebuildRequest{engine: other})
	if err != nil {
		t.Fatal(err)
	}
	e, err := openCurrent(data, other)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	man, err := e.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := man.Space; !got.Equal(other.mustSpace(t)) || st.Info.Documents != 3 {
		t.Errorf("after reindex: space %+v, %d documents", got, st.Info.Documents)
	}
	// And the default embedder is now the odd one out.
	if _, err := openCurrent(data, engineConfig{}); !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("opening with the old embedder: %v, want conflict", err)
	}
}

func (c engineConfig) mustSpace(t *testing.T) index.Space {
	t.Helper()
	e, err := c.embedder()
	if err != nil {
		t.Fatal(err)
	}
	return e.Space()
}

func TestVectorStoreChangeNeedsReindex(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 2)
	mustCLI(t, nil, "ingest", "--data", data, src)
	corpusFor(t, src, "bravo", 2)
	addr := startFakeQdrant(t)
	_, errOut, code := runCLIEnv(t, nil, "ingest", "--data", data, "--vector-store", "qdrant", "--qdrant-addr", addr, src)
	if code != 1 || !strings.Contains(errOut, "quarry reindex") || !strings.Contains(errOut, "embedded store") {
		t.Errorf("ingest into qdrant over an embedded generation: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runCLIEnv(t, nil, "ingest", "--data", data, "--vector-store", "elastic", src)
	if code != 1 || !strings.Contains(errOut, "--vector-store") {
		t.Errorf("unknown vector store: exit %d\n%s", code, errOut)
	}
	// reindex moves the knowledge base into Qdrant.
	mustCLI(t, nil, "reindex", "--data", data, "--vector-store", "qdrant", "--qdrant-addr", addr)
	if s := state(t, data); s.Info.VectorStore != storeQdrant {
		t.Errorf("after reindex into qdrant: %+v", s.Info)
	}
	// Rolling back to the embedded generation needs the embedded store.
	_, errOut, code = runCLIEnv(t, nil, "rollback", "--data", data, "--vector-store", "qdrant", "--qdrant-addr", addr)
	if code != 1 || !strings.Contains(errOut, "--vector-store embedded") {
		t.Errorf("rollback across stores: exit %d\n%s", code, errOut)
	}
}

func TestReindexGate(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"returns.md":  "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n",
		"shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days. Express shipping takes one day.\n",
		"warranty.md": "# Warranty\n\nEvery thermostat carries a two-year limited warranty against defects.\n",
	})
	mustCLI(t, nil, "ingest", "--data", data, src)
	qfile := filepath.Join(t.TempDir(), "questions.jsonl")
	var qs strings.Builder
	for i, q := range []struct{ q, doc, ans string }{
		{"How long do I have to return an item?", "returns.md", "30 days"},
		{"How long does standard shipping take?", "shipping.md", "3 to 5 business days"},
		{"How long is the thermostat warranty?", "warranty.md", "two-year"},
	} {
		fmt.Fprintf(&qs, `{"id": "q%d", "question": %q, "lang": "en", "answerable": true, "expected_docs": [%q], "expected_answer": %q}`+"\n", i, q.q, q.doc, q.ans)
	}
	if err := os.WriteFile(qfile, []byte(qs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	before := state(t, data)

	// The warranty page is renamed: its question now misses, recall@5
	// drops from 1 to 2/3, more than the margin allows.
	if err := os.Rename(filepath.Join(src, "warranty.md"), filepath.Join(src, "guarantee.md")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLIEnv(t, nil, "reindex", "--data", data, "--gate-questions", qfile)
	if code != 1 || !strings.Contains(errOut, "gate:") || !strings.Contains(errOut, "0.667") || !strings.Contains(errOut, "not switching") {
		t.Fatalf("gated reindex that loses recall: exit %d\n%s", code, errOut)
	}
	if after := state(t, data); after.Current != before.Current {
		t.Fatal("a rebuild refused by the gate was switched to")
	}
	if dirs := genDirs(t, data); len(dirs) != 1 {
		t.Errorf("refused rebuild left generations: %v", dirs)
	}
	// A wide enough margin lets it through.
	_, errOut, code = runCLIEnv(t, nil, "reindex", "--data", data, "--gate-questions", qfile, "--gate-margin", "0.5")
	if code != 0 || !strings.Contains(errOut, "new g") {
		t.Fatalf("gated reindex within the margin: exit %d\n%s", code, errOut)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--gate-questions", filepath.Join(t.TempDir(), "missing.jsonl")}},
		{[]string{"--gate-questions", qfile, "--gate-margin", "2"}},
	} {
		_, errOut, code := runCLIEnv(t, nil, append([]string{"reindex", "--data", data}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, "--gate") {
			t.Errorf("reindex %v: exit %d\n%s", tc.args, code, errOut)
		}
	}
}
