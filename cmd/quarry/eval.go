package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/eval"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/kb"
)

func runEval(ctx context.Context, env *Env, args []string) error {
	var o options
	var split, modes string
	var keep, misses bool
	var ids string
	fs := newFlags(env, "eval", "quarry eval [flags] DATASET_DIR | QUESTIONS.jsonl | builtin:helpcenter",
		"Measure retrieval quality (on a BEIR dataset) or answer quality (on a question file).\n\n"+
			"DATASET_DIR (retrieval quality): a dataset in BEIR layout (corpus.jsonl, queries.jsonl,\n"+
			"qrels/<split>.tsv, optionally answers.jsonl). The corpus is ingested through the same\n"+
			"pipeline as real documents into --data (a temporary directory unless given), then every\n"+
			"judged query runs through the same retriever as /v1/search. Reports nDCG@10, Recall@100\n"+
			"and MRR@10 for the keyword leg, the vector leg and the hybrid, answer recall@1/@5 when the\n"+
			"dataset has answers, and query latency.\n\n"+
			"QUESTIONS.jsonl or builtin:helpcenter (answer quality): every question of a question file\n"+
			"(JSON lines: id, question, lang, answerable, expected_docs, expected_answer; the format\n"+
			"of corpora/helpcenter-questions.jsonl) is answered as /v1/ask answers it, with the\n"+
			"configured answerer (the offline extractive one, or the language model of --llm-* /\n"+
			"QUARRY_LLM_*). Reports, overall and by language, the share of answerable questions whose\n"+
			"first citation is an expected document, whose answer contains the expected phrase, and\n"+
			"both (the answer accuracy), and the share of unanswerable questions declined; then\n"+
			"passage recall@1/5/10: the share of answerable questions whose expected phrase is in a\n"+
			"passage from an expected document among the first 1, 5, 10 searched, by language and\n"+
			"for each retrieval mode. A question\n"+
			"file is evaluated against the knowledge base already ingested in --data; its\n"+
			"expected_docs are paths relative to the ingested folder. builtin:helpcenter ingests the\n"+
			"built-in sample help centre into --data (a temporary directory unless given) and uses\n"+
			"its question file. --misses lists the questions not answered right. --kb names the\n"+
			"knowledge base of --data to use.", &o, "chunk", "json", "kb")
	fs.StringVar(&split, "split", "test", "qrels split to evaluate (DATASET_DIR only)")
	fs.StringVar(&modes, "modes", "keyword,vector,hybrid", "comma-separated retrieval modes to evaluate (DATASET_DIR only)")
	fs.BoolVar(&keep, "keep", false, "keep the temporary data directory")
	fs.StringVar(&ids, "ids", "", "evaluate only the questions whose id matches this regular expression, e.g. '[13579]$' (answer quality only)")
	fs.BoolVar(&misses, "misses", false, "list the questions not answered right, after the table (answer quality only; --json always includes them)")
	var kn knobs
	kn.register(fs)
	pf := providerFlags(fs, env, "llm", "embed")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	target := fs.Arg(0)
	answers, err := isQuestionFile(target)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var only *regexp.Regexp
	if answers {
		for _, name := range []string{"split", "modes"} {
			if set[name] {
				return quarry.Errorf(quarry.CodeInvalid, "--%s applies to BEIR datasets, not to question files", name)
			}
		}
		if only, err = regexp.Compile(ids); err != nil {
			return quarry.Errorf(quarry.CodeInvalid, "--ids: %w", err)
		}
	} else {
		if set["ids"] {
			return quarry.Errorf(quarry.CodeInvalid, "--ids applies to question files, not to BEIR datasets")
		}
		// Retrieval quality never asks for an answer: the language model
		// settings are not read (nor validated).
		pf.llm = false
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	// Only a question file evaluates a knowledge base in place; the
	// others ingest, into a temporary directory unless one is named.
	if target != kb.BuiltinHelpCenter && answers {
		return evalQuestionFile(ctx, env, o, target, only, misses, prov, kn)
	}
	if !set["data"] && env.Getenv("QUARRY_DATA") == "" {
		tmp, err := os.MkdirTemp("", "quarry-eval-")
		if err != nil {
			return err
		}
		o.Data = tmp
		if !keep {
			defer os.RemoveAll(tmp)
		}
	}
	if answers {
		return evalHelpCenter(ctx, env, o, only, misses, prov, kn)
	}
	return evalRetrieval(ctx, env, o, target, split, modes, prov, kn)
}

// isQuestionFile tells the answer evaluations (builtin:helpcenter or a
// *.jsonl file) from BEIR dataset directories.
func isQuestionFile(target string) (bool, error) {
	if target == kb.BuiltinHelpCenter {
		return true, nil
	}
	if strings.HasPrefix(target, "builtin:") {
		return false, quarry.Errorf(quarry.CodeInvalid, "unknown built-in question set %q (there is %s)", target, kb.BuiltinHelpCenter)
	}
	st, err := os.Stat(target)
	if err != nil {
		return false, quarry.Errorf(quarry.CodeInvalid, "%s: not a BEIR dataset directory, a question file (*.jsonl) or %s: %w", target, kb.BuiltinHelpCenter, err)
	}
	switch {
	case st.IsDir():
		return false, nil
	case st.Mode().IsRegular() && strings.HasSuffix(strings.ToLower(target), ".jsonl"):
		return true, nil
	}
	return false, quarry.Errorf(quarry.CodeInvalid, "%s: not a BEIR dataset directory, a question file (*.jsonl) or %s", target, kb.BuiltinHelpCenter)
}

// evalHelpCenter ingests the sample help centre into o.Data, as quarry
// demo does, and evaluates the answers to its question file.
func evalHelpCenter(ctx context.Context, env *Env, o options, only *regexp.Regexp, misses bool, prov *providers, kn knobs) error {
	qs, err := corpora.Questions()
	if err != nil {
		return err
	}
	if qs = selectQuestions(qs, only); len(qs) == 0 {
		return quarry.Errorf(quarry.CodeInvalid, "--ids %s matches no question of %s", only, kb.BuiltinHelpCenter)
	}
	if err := checkHelpCenterData(o.Data, kbName(o)); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "eval: ingesting the sample help centre into %s\n", o.Data)
	start := time.Now()
	sum, err := ingestInto(ctx, env, o, corpora.HelpCenter(), buildOptions{BuildOptions: kb.BuildOptions{Reason: "eval", Source: kb.BuiltinHelpCenter, Create: true}, engine: prov.apply(engineConfig{})})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "eval: ingested %d files into %d chunks in %s\n", sum.Files, sum.Chunks, time.Since(start).Round(time.Millisecond))
	e, err := openKB(ctx, o.Data, kbName(o), prov.apply(kn.apply(engineConfig{})))
	if err != nil {
		return err
	}
	defer e.Close()
	return evalAnswers(ctx, env, o, kb.BuiltinHelpCenter, qs, e, misses)
}

// checkHelpCenterData refuses to replace a knowledge base of other
// documents with the sample help centre: a named --data must be empty or
// hold the help centre already.
func checkHelpCenterData(data, name string) error {
	d, err := gen.Open(kb.Root(data, name))
	if err != nil {
		return err
	}
	s, err := d.State()
	if errors.Is(err, quarry.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	m, err := index.LoadManifest(filepath.Join(d.Path(s.Current), kb.ManifestFile))
	if err != nil {
		return err
	}
	hc := corpora.HelpCenter()
	for _, p := range m.Paths() {
		if _, err := iofs.Stat(hc, p); err != nil {
			return quarry.Errorf(quarry.CodeConflict,
				"--data %s holds a knowledge base of other documents (%s); evaluating %s would replace it: name an empty --data, or none for a temporary one",
				data, p, kb.BuiltinHelpCenter)
		}
	}
	return nil
}

// evalQuestionFile evaluates the answers to the questions of path over
// the knowledge base already in o.Data.
func evalQuestionFile(ctx context.Context, env *Env, o options, path string, only *regexp.Regexp, misses bool, prov *providers, kn knobs) error {
	f, err := os.Open(path)
	if err != nil {
		return quarry.Errorf(quarry.CodeInvalid, "question file: %w", err)
	}
	qs, err := corpora.ParseQuestions(f)
	f.Close()
	if err != nil {
		return quarry.Errorf(quarry.CodeInvalid, "question file %s: %w", path, err)
	}
	if len(qs) == 0 {
		return quarry.Errorf(quarry.CodeInvalid, "question file %s holds no question", path)
	}
	if qs = selectQuestions(qs, only); len(qs) == 0 {
		return quarry.Errorf(quarry.CodeInvalid, "--ids %s matches no question of %s", only, path)
	}
	// Look before opening: opening would create the directories.
	if _, err := os.Stat(kb.Root(o.Data, kbName(o))); err != nil {
		return quarry.Errorf(quarry.CodeNotFound,
			"no knowledge base in --data %s to evaluate %s against: ingest the documents its expected_docs refer to first (quarry ingest --data DIR SOURCE_DIR)", o.Data, path)
	}
	e, err := openKB(ctx, o.Data, kbName(o), prov.apply(kn.apply(engineConfig{})))
	if err != nil {
		if errors.Is(err, quarry.ErrNotFound) {
			return quarry.Errorf(quarry.CodeNotFound,
				"no knowledge base in --data %s to evaluate %s against: ingest the documents its expected_docs refer to first (quarry ingest --data DIR SOURCE_DIR): %w", o.Data, path, err)
		}
		return err
	}
	defer e.Close()
	if e.Empty() {
		return quarry.Errorf(quarry.CodeNotFound, "the knowledge base in --data %s holds no document to evaluate %s against", o.Data, path)
	}
	man, err := e.Manifest()
	if err != nil {
		return err
	}
	// A question whose expected documents are not in the knowledge base
	// can never be right: most likely the paths are relative to another
	// folder than the one ingested.
	for _, q := range qs {
		for _, d := range q.ExpectedDocs {
			if _, ok := man.Docs[d]; !ok {
				return quarry.Errorf(quarry.CodeInvalid,
					"question file %s: question %s: expected document %q is not in the knowledge base in %s (expected_docs are paths relative to the ingested folder, such as %q)",
					path, q.ID, d, o.Data, man.Paths()[0])
			}
		}
	}
	return evalAnswers(ctx, env, o, path, qs, e, misses)
}

// selectQuestions keeps the questions whose id only matches.
func selectQuestions(qs []corpora.Question, only *regexp.Regexp) []corpora.Question {
	var out []corpora.Question
	for _, q := range qs {
		if only.MatchString(q.ID) {
			out = append(out, q)
		}
	}
	return out
}

// answersOutput is the JSON of an answer evaluation.
type answersOutput struct {
	Questions string `json:"questions"` // the question file, or builtin:helpcenter
	*eval.AnswerReport
	Seconds float64 `json:"seconds"` // wall time of asking every question
}

func evalAnswers(ctx context.Context, env *Env, o options, name string, qs []corpora.Question, a eval.Asker, misses bool) error {
	fmt.Fprintf(env.Stderr, "eval: asking %d questions of %s\n", len(qs), name)
	bar := newProgress(env.Stderr, "asking", "questions")
	start := time.Now()
	rep, err := eval.Answers(ctx, qs, a, eval.AnswerOptions{
		Progress: func(done, total int) { bar.update(ingest.Progress{Done: done, Total: total}) },
		// Each leg and their fusion, to check that the fusion never
		// loses to its better leg on the questions too.
		RetrievalModes: []string{quarry.ModeHybrid, quarry.ModeKeyword, quarry.ModeVector},
	})
	bar.finish()
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if o.JSON {
		return writeJSON(env.Stdout, answersOutput{Questions: name, AnswerReport: rep, Seconds: elapsed.Seconds()})
	}
	fmt.Fprintf(env.Stdout, "%s\n", name)
	fmt.Fprint(env.Stdout, rep.Table())
	fmt.Fprintf(env.Stdout, "\nanswer accuracy %.1f%%, declined %.1f%%; %d questions in %.1f s\n",
		100*rep.Accuracy, 100*rep.DeclineRate, len(qs), elapsed.Seconds())
	if misses {
		fmt.Fprintf(env.Stdout, "\n%d misses:\n", len(rep.Misses))
		for _, m := range rep.Misses {
			fmt.Fprintln(env.Stdout, m.String())
		}
	} else if len(rep.Misses) > 0 {
		fmt.Fprintf(env.Stdout, "(%d misses: --misses lists them)\n", len(rep.Misses))
	}
	return nil
}

// evalRetrieval ingests a BEIR dataset into o.Data and measures
// retrieval on it.
func evalRetrieval(ctx context.Context, env *Env, o options, dir, split, modes string, prov *providers, kn knobs) error {
	ds, err := eval.Load(dir, split)
	if err != nil {
		return err
	}
	progressOut := env.Stderr
	fmt.Fprintf(progressOut, "eval: %s: %d documents, %d %s queries; ingesting into %s\n", ds.Name, len(ds.Corpus), len(ds.Queries), split, o.Data)

	fsys, ids := ds.FS()
	start := time.Now()
	sum, err := ingestInto(ctx, env, o, fsys, buildOptions{BuildOptions: kb.BuildOptions{Reason: "eval", Create: true}, engine: prov.apply(engineConfig{})})
	if err != nil {
		return err
	}
	ingestTime := time.Since(start)
	fmt.Fprintf(progressOut, "eval: ingested %d files into %d chunks in %s\n", sum.Files, sum.Chunks, ingestTime.Round(time.Millisecond))

	// Documents are ranked by their best chunk: one passage per document.
	// Answer recall uses the retriever as it serves (several passages of
	// a document allowed), over the same open indexes.
	e, err := openKB(ctx, o.Data, kbName(o), prov.apply(kn.apply(engineConfig{})))
	if err != nil {
		return err
	}
	defer e.Close()
	docCfg := kn.apply(engineConfig{}).Retrieve
	docCfg.MaxPerDoc = 1
	docCfg.MaxK = 1000
	docs, release, err := e.Retriever(docCfg)
	if err != nil {
		return err
	}
	defer release()

	bar := newProgress(env.Stderr, "searching", "queries")
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
	if d, err := gen.Open(kb.Root(o.Data, kbName(o))); err == nil {
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
	maxPerDoc             int
	// The offline answerer's (see generate.Config).
	minSupport, minSupportUnknown, rankBonus float64
	topPassages                              int
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
	fs.IntVar(&k.maxPerDoc, "max-per-doc", 0, "tuning: most passages one document may contribute to a result (negative for no cap)")
	fs.Float64Var(&k.minSupport, "min-support", 0, "tuning: the offline answerer's MinSupport (confidence needed to answer when every question word is in the knowledge base)")
	fs.Float64Var(&k.minSupportUnknown, "min-support-unknown", 0, "tuning: the offline answerer's MinSupportUnknown (when a question word is not)")
	fs.Float64Var(&k.rankBonus, "rank-bonus", 0, "tuning: the offline answerer's RankBonus")
	fs.IntVar(&k.topPassages, "top-passages", 0, "tuning: how many passages the offline answerer quotes from")
}

func (k knobs) apply(cfg engineConfig) engineConfig {
	cfg.Retrieve.Fusion = k.fusion
	cfg.Retrieve.KeywordWeight = k.kwWeight
	cfg.Retrieve.VectorWeight = k.vecWeight
	cfg.Retrieve.CandidateK = k.candidates
	cfg.Retrieve.MaxPerDoc = k.maxPerDoc
	cfg.Keyword.K1 = k.k1
	cfg.Keyword.B = k.b
	cfg.Keyword.TitleBoost = k.titleBoost
	cfg.Keyword.HeadingBoost = k.headBoost
	cfg.Answer.MinSupport = k.minSupport
	cfg.Answer.MinSupportUnknown = k.minSupportUnknown
	cfg.Answer.RankBonus = k.rankBonus
	cfg.Answer.TopPassages = k.topPassages
	return cfg
}
