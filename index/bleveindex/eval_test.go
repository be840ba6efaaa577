package bleveindex

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/quarry-kb/quarry"
)

// The evaluation tests index public BEIR-style benchmarks (shared/eval,
// next to the repository) and check ranking quality against published
// BM25 numbers. They skip when the data is absent or with -short.
var (
	evalDir  = flag.String("evaldir", "", "benchmark folder (default $QUARRY_EVAL_DIR or ../../../shared/eval)")
	evalTune = flag.Bool("evaltune", false, "print a parameter grid on SciFact train (slow)")
)

func benchDir(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("benchmark evaluation skipped with -short")
	}
	dir := *evalDir
	if dir == "" {
		dir = os.Getenv("QUARRY_EVAL_DIR")
	}
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "eval")
	}
	dir = filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(dir, "corpus.jsonl")); err != nil {
		t.Skipf("no %s benchmark at %s (set -evaldir or QUARRY_EVAL_DIR)", name, dir)
	}
	return dir
}

type beir struct {
	docs    []quarry.Chunk
	queries map[string]string
	qrels   map[string]map[string]bool // query → relevant docs
}

func readJSONL(t testing.TB, path string, fn func(line []byte) error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// loadBEIR reads a benchmark as one chunk per document (title + text).
func loadBEIR(t testing.TB, dir, split, lang string) *beir {
	t.Helper()
	b := &beir{queries: map[string]string{}, qrels: map[string]map[string]bool{}}
	readJSONL(t, filepath.Join(dir, "corpus.jsonl"), func(line []byte) error {
		var raw map[string]string
		if err := json.Unmarshal(line, &raw); err != nil {
			return err
		}
		id := raw["_id"]
		b.docs = append(b.docs, quarry.Chunk{
			ID: id, DocID: id, Path: id, Title: raw["title"], Text: raw["text"], Lang: lang,
		})
		return nil
	})
	readJSONL(t, filepath.Join(dir, "queries.jsonl"), func(line []byte) error {
		var raw map[string]string
		if err := json.Unmarshal(line, &raw); err != nil {
			return err
		}
		b.queries[raw["_id"]] = raw["text"]
		return nil
	})
	data, err := os.ReadFile(filepath.Join(dir, "qrels", split+".tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 3 || f[2] == "0" {
			continue
		}
		if b.qrels[f[0]] == nil {
			b.qrels[f[0]] = map[string]bool{}
		}
		b.qrels[f[0]][f[1]] = true
	}
	return b
}

// sample keeps every nth judged query (in id order).
func (b *beir) sample(n int) {
	ids := make([]string, 0, len(b.qrels))
	for q := range b.qrels {
		ids = append(ids, q)
	}
	sort.Strings(ids)
	for i, q := range ids {
		if i%n != 0 {
			delete(b.qrels, q)
		}
	}
}

type metrics struct {
	NDCG10, Recall100, MRR10 float64
}

// evaluate ranks documents by their best chunk, with binary relevance.
func (b *beir) evaluate(t testing.TB, ix *Index, s Scoring) metrics {
	t.Helper()
	ids := make([]string, 0, len(b.qrels))
	for q := range b.qrels {
		ids = append(ids, q)
	}
	sort.Strings(ids)
	var m metrics
	for _, q := range ids {
		hits, err := ix.SearchScored(context.Background(), b.queries[q], 100, s)
		if err != nil {
			t.Fatalf("query %s: %v", q, err)
		}
		rel := b.qrels[q]
		var ranked []string
		seen := map[string]bool{}
		for _, h := range hits {
			if !seen[h.Chunk.DocID] {
				seen[h.Chunk.DocID] = true
				ranked = append(ranked, h.Chunk.DocID)
			}
		}
		var dcg, idcg float64
		found := 0
		for i, d := range ranked {
			if !rel[d] {
				continue
			}
			found++
			if i < 10 {
				dcg += 1 / math.Log2(float64(i+2))
				if found == 1 {
					m.MRR10 += 1 / float64(i+1)
				}
			}
		}
		for i := 0; i < min(len(rel), 10); i++ {
			idcg += 1 / math.Log2(float64(i+2))
		}
		m.NDCG10 += dcg / idcg
		m.Recall100 += float64(found) / float64(len(rel))
	}
	n := float64(len(ids))
	return metrics{m.NDCG10 / n, m.Recall100 / n, m.MRR10 / n}
}

func openBenchIndex(t testing.TB, b *beir, cfg Config) *Index {
	t.Helper()
	ix, err := Open(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), b.docs); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestSciFact checks the keyword leg against the published Lucene BM25
// baseline on SciFact test (nDCG@10 0.679 for title+text as one field,
// k1 0.9, b 0.4; see shared/eval/README.md).
func TestSciFact(t *testing.T) {
	dir := benchDir(t, "scifact")
	b := loadBEIR(t, dir, "test", "en")
	ix := openBenchIndex(t, b, Config{})
	for _, tc := range []struct {
		name    string
		scoring Scoring
		min     float64
	}{
		// Lucene "flat": k1 0.9, b 0.4, title and text weighted alike as
		// if one field. Published: 0.679 (Pyserini), 0.676 (FINDINGS.md).
		{"flat", Scoring{K1: 0.9, B: 0.4, TitleBoost: 1, HeadingBoost: 1}, 0.672},
		// Quarry's defaults (BM25F, title ×2), chosen on the train split.
		{"default", Scoring{}, 0.679},
	} {
		m := b.evaluate(t, ix, tc.scoring)
		t.Logf("SciFact test %-8s nDCG@10 %.4f  R@100 %.4f  MRR@10 %.4f", tc.name, m.NDCG10, m.Recall100, m.MRR10)
		if m.NDCG10 < tc.min {
			t.Errorf("%s: nDCG@10 %.4f < %.3f", tc.name, m.NDCG10, tc.min)
		}
	}
}

// TestCMRC2018 checks Chinese retrieval on CMRC 2018 dev, where BM25
// over character bigrams reaches nDCG@10 ≈ 0.98.
func TestCMRC2018(t *testing.T) {
	dir := benchDir(t, "cmrc2018-dev")
	b := loadBEIR(t, dir, "test", "zh")
	if raceEnabled {
		b.sample(4) // 3,219 questions take minutes under -race
	}

	// Single characters taken from the questions, as one-character queries.
	seen := map[rune]bool{}
	var chars []string
	qids := make([]string, 0, len(b.queries))
	for id := range b.queries {
		qids = append(qids, id)
	}
	sort.Strings(qids)
	for _, id := range qids {
		for _, r := range b.queries[id] {
			if unicode.Is(unicode.Han, r) && !seen[r] && len(chars) < 200 {
				seen[r] = true
				chars = append(chars, string(r))
			}
		}
	}

	// Bigrams alone (Lucene's CJKAnalyzer) for comparison, with -evaltune.
	modes := []string{CJKBigramUnigram}
	if *evalTune {
		modes = append(modes, CJKBigram)
	}
	for _, mode := range modes {
		ix, err := Open(t.TempDir(), Config{Analyzer: Analyzer{CJK: mode}})
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.Upsert(context.Background(), b.docs); err != nil {
			t.Fatal(err)
		}
		m := b.evaluate(t, ix, Scoring{})
		found := 0
		for _, c := range chars {
			hits, err := ix.Search(context.Background(), c, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) > 0 && strings.Contains(hits[0].Chunk.Text+hits[0].Chunk.Title, c) {
				found++
			}
		}
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		single := float64(found) / float64(len(chars))
		t.Logf("CMRC2018 %-15s nDCG@10 %.4f  R@100 %.4f  MRR@10 %.4f  1-char queries answered %.3f",
			mode, m.NDCG10, m.Recall100, m.MRR10, single)
		if m.NDCG10 < 0.95 {
			t.Errorf("%s: nDCG@10 %.4f < 0.95", mode, m.NDCG10)
		}
		if mode == CJKBigramUnigram && single < 1 {
			t.Errorf("%s: %d of %d one-character queries found nothing", mode, len(chars)-found, len(chars))
		}
	}
}

// TestSciFactTune prints a small parameter grid on the train split; run
// with -evaltune. It informs the defaults, it asserts nothing.
func TestSciFactTune(t *testing.T) {
	if !*evalTune {
		t.Skip("run with -evaltune")
	}
	dir := benchDir(t, "scifact")
	for _, a := range []Analyzer{{}, {Stemmer: StemmerSnowball}, {StopWords: StopSnowball}} {
		b := loadBEIR(t, dir, "train", "en")
		ix := openBenchIndex(t, b, Config{Analyzer: a})
		for _, k1 := range []float64{0.9, 1.2, 1.5} {
			for _, bb := range []float64{0.4, 0.6, 0.75} {
				for _, tb := range []float64{-1, 1, 1.5, 2, 3} {
					m := b.evaluate(t, ix, Scoring{K1: k1, B: bb, TitleBoost: tb})
					t.Logf("%+v k1=%.2f b=%.2f title=%.1f  nDCG@10 %.4f R@100 %.4f", a, k1, bb, tb, m.NDCG10, m.Recall100)
				}
			}
		}
	}
}
