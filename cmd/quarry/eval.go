package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/eval"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/retrieve"
)

func runEval(ctx context.Context, env *Env, args []string) error {
	var o options
	var split, modes string
	var keep bool
	fs := newFlags(env, "eval", "quarry eval [flags] DATASET_DIR",
		"Measure retrieval quality on a dataset in BEIR layout (corpus.jsonl, queries.jsonl,\n"+
			"qrels/<split>.tsv, optionally answers.jsonl). The corpus is ingested through the same\n"+
			"pipeline as real documents into --data (a temporary directory unless given), then every\n"+
			"judged query runs through the same retriever as /v1/search. Reports nDCG@10, Recall@100\n"+
			"and MRR@10 for the keyword leg, the vector leg and the hybrid, answer recall@1/@5 when the\n"+
			"dataset has answers, and query latency.", &o, "chunk", "json")
	fs.StringVar(&split, "split", "test", "qrels split to evaluate")
	fs.StringVar(&modes, "modes", "keyword,vector,hybrid", "comma-separated retrieval modes to evaluate")
	fs.BoolVar(&keep, "keep", false, "keep the temporary data directory")
	var kn knobs
	kn.register(fs)
	pf := providerFlags(fs, env, "embed")
	dataSet := false
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			dataSet = true
		}
	})
	if env.Getenv("QUARRY_DATA") != "" {
		dataSet = true
	}
	ds, err := eval.Load(fs.Arg(0), split)
	if err != nil {
		return err
	}
	if !dataSet {
		tmp, err := os.MkdirTemp("", "quarry-eval-")
		if err != nil {
			return err
		}
		o.Data = tmp
		if !keep {
			defer os.RemoveAll(tmp)
		}
	}
	progressOut := env.Stderr
	fmt.Fprintf(progressOut, "eval: %s: %d documents, %d %s queries; ingesting into %s\n", ds.Name, len(ds.Corpus), len(ds.Queries), split, o.Data)

	fsys, ids := ds.FS()
	start := time.Now()
	sum, err := ingestInto(ctx, env, o, fsys, buildOptions{Reason: "eval", engine: prov.apply(engineConfig{})})
	if err != nil {
		return err
	}
	ingestTime := time.Since(start)
	fmt.Fprintf(progressOut, "eval: ingested %d files into %d chunks in %s\n", sum.Files, sum.Chunks, ingestTime.Round(time.Millisecond))

	// Documents are ranked by their best chunk: one passage per document.
	// Answer recall uses the retriever as it serves (several passages of
	// a document allowed), over the same open indexes.
	e, err := openCurrent(o.Data, prov.apply(kn.apply(engineConfig{})))
	if err != nil {
		return err
	}
	defer e.Close()
	docCfg := kn.apply(engineConfig{}).Retrieve
	docCfg.MaxPerDoc = 1
	docCfg.MaxK = 1000
	docs := retrieve.New(docCfg, e.kw, e.vs, e.emb)

	bar := newProgress(env.Stderr)
	rep, err := eval.Run(ctx, ds, docs, func(p quarry.Passage) (string, bool) {
		id, ok := ids[p.Path]
		return id, ok
	}, eval.Options{
		Modes:   splitList(modes),
		Answers: e,
		Progress: func(done, total int) {
			bar.update(ingest.Progress{Done: done, Total: total})
		},
	})
	bar.finish()
	if err != nil {
		return err
	}
	st := evalStats{IngestSeconds: ingestTime.Seconds(), Chunks: sum.Chunks}
	if d, err := gen.Open(kbRoot(o.Data)); err == nil {
		if s, err := d.State(); err == nil {
			st.IndexBytes = dirSize(d.Path(s.Current))
		}
	}
	if o.JSON {
		return writeJSON(env.Stdout, struct {
			*eval.Report
			Ingest evalStats `json:"ingest"`
		}{rep, st})
	}
	fmt.Fprint(env.Stdout, rep.Table())
	fmt.Fprintf(env.Stdout, "\ningest: %.1f s, %d chunks, index %.1f MiB\n", st.IngestSeconds, st.Chunks, float64(st.IndexBytes)/(1<<20))
	return nil
}

type evalStats struct {
	IngestSeconds float64 `json:"seconds"`
	Chunks        int     `json:"chunks"`
	IndexBytes    int64   `json:"index_bytes"`
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// knobs are the query-time ranking settings that eval can override, to
// tune on a train split without rebuilding the index. Zero keeps the
// default.
type knobs struct {
	fusion                string
	kwWeight, vecWeight   float64
	k1, b                 float64
	titleBoost, headBoost float64
	candidates            int
}

func (k *knobs) register(fs *flag.FlagSet) {
	fs.StringVar(&k.fusion, "fusion", "", "tuning: fusion method, weighted or rrf (default weighted)")
	fs.Float64Var(&k.kwWeight, "keyword-weight", 0, "tuning: weight of the keyword leg in fusion")
	fs.Float64Var(&k.vecWeight, "vector-weight", 0, "tuning: weight of the vector leg in fusion")
	fs.Float64Var(&k.k1, "bm25-k1", 0, "tuning: BM25 k1")
	fs.Float64Var(&k.b, "bm25-b", 0, "tuning: BM25 b (negative for 0)")
	fs.Float64Var(&k.titleBoost, "title-boost", 0, "tuning: BM25F weight of the title field (negative to leave it out)")
	fs.Float64Var(&k.headBoost, "heading-boost", 0, "tuning: BM25F weight of the heading field (negative to leave it out)")
	fs.IntVar(&k.candidates, "candidates", 0, "tuning: hits fetched from each leg before fusion")
}

func (k knobs) apply(cfg engineConfig) engineConfig {
	cfg.Retrieve.Fusion = k.fusion
	cfg.Retrieve.KeywordWeight = k.kwWeight
	cfg.Retrieve.VectorWeight = k.vecWeight
	cfg.Retrieve.CandidateK = k.candidates
	cfg.Keyword.K1 = k.k1
	cfg.Keyword.B = k.b
	cfg.Keyword.TitleBoost = k.titleBoost
	cfg.Keyword.HeadingBoost = k.headBoost
	return cfg
}
