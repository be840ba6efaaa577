package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/ingest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestRankingGolden writes recall@1, recall@5 and MRR@10 of every
// retrieval mode on the sample question file to a golden file, as zoekt
// does, so that any ranking change shows up in review. Run with -update
// to accept a change.
func TestRankingGolden(t *testing.T) {
	needOCR(t)
	data := t.TempDir()
	o := options{Data: data}
	if _, err := ingestInto(context.Background(), testEnv(nil, nil, nil), o, corpora.HelpCenter(), buildOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := engineConfig{}
	cfg.Retrieve.MaxPerDoc = 1 // rank documents by their best chunk
	e, err := openCurrent(data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	qs, err := corpora.Questions()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# Ranking of the sample help centre's answerable questions (document level).\n")
	b.WriteString("# Regenerate with: go test ./cmd/quarry -run TestRankingGolden -update\n")
	for _, lang := range []string{"all", "en", "zh"} {
		for _, mode := range []string{quarry.ModeKeyword, quarry.ModeVector, quarry.ModeHybrid} {
			var n, r1, r5 int
			var mrr float64
			for _, q := range qs {
				if !q.Answerable || (lang != "all" && q.Lang != lang) {
					continue
				}
				res, err := e.Search(context.Background(), quarry.SearchRequest{Query: q.Question, K: 10, Mode: mode})
				if err != nil {
					t.Fatalf("%s %s: %v", mode, q.ID, err)
				}
				n++
				for i, p := range res.Passages {
					if slices.Contains(q.ExpectedDocs, p.Path) {
						if i == 0 {
							r1++
						}
						if i < 5 {
							r5++
						}
						mrr += 1 / float64(i+1)
						break
					}
				}
			}
			fmt.Fprintf(&b, "%-4s %-8s questions=%d recall@1=%.3f recall@5=%.3f mrr@10=%.3f\n",
				lang, mode, n, float64(r1)/float64(n), float64(r5)/float64(n), mrr/float64(n))
		}
	}
	got := b.String()
	golden := filepath.Join("testdata", "ranking.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("ranking changed; if intended, run go test ./cmd/quarry -run TestRankingGolden -update\n--- got\n%s--- want\n%s", got, want)
	}
}

// needOCR skips a test whose figures count the help centre's scans,
// which only OCR reads, when OCR in English and Chinese is not available
// (scripts/test-deps.sh installs tesseract, eng and chi_sim); under
// CI=true it fails.
func needOCR(t *testing.T) {
	t.Helper()
	on, detail := ingest.OCRStatus()
	if langs := ingest.OCRLanguages(); !on || !strings.Contains(langs, "eng") || !strings.Contains(langs, "chi_sim") {
		msg := "the help centre's scans need OCR in English and Chinese: " + detail
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
