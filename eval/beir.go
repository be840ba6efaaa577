// Package eval measures Quarry's quality. Run measures retrieval on
// datasets in BEIR layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv,
// optionally answers.jsonl): nDCG@10, Recall@100 and MRR@10 at document
// level, answer recall@k, and query latency. Answers measures grounded
// answers on a question file (the corpora format): the share of
// answerable questions whose first citation is an expected document and
// whose answer holds the expected phrase, and the share of unanswerable
// ones declined. `quarry eval` wires both to the real ingestion pipeline,
// retriever and answerer; the package itself only knows the small
// Searcher and Asker interfaces.
package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/quarry-kb/quarry"
)

// CorpusDoc is one document of a BEIR corpus.
type CorpusDoc struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Query is one judged query.
type Query struct {
	ID   string `json:"_id"`
	Text string `json:"text"`
}

// Dataset is a BEIR dataset restricted to one split's judged queries.
type Dataset struct {
	Name    string
	Split   string
	Corpus  []CorpusDoc
	Queries []Query                   // judged queries of the split, in file order
	Qrels   map[string]map[string]int // query id → corpus id → relevance (> 0 is relevant)
	Answers map[string][]string       // query id → gold answer strings (optional)
}

// Load reads a BEIR dataset from dir, keeping only the queries judged in
// qrels/<split>.tsv.
func Load(dir, split string) (*Dataset, error) {
	if split == "" {
		split = "test"
	}
	ds := &Dataset{Name: filepath.Base(filepath.Clean(dir)), Split: split}
	qrelsPath := filepath.Join(dir, "qrels", split+".tsv")
	qrels, err := readQrels(qrelsPath)
	if err != nil {
		return nil, err
	}
	ds.Qrels = qrels
	if err := readJSONL(filepath.Join(dir, "corpus.jsonl"), func(d CorpusDoc) error {
		if d.ID == "" {
			return fmt.Errorf("document without _id")
		}
		ds.Corpus = append(ds.Corpus, d)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readJSONL(filepath.Join(dir, "queries.jsonl"), func(q Query) error {
		if _, ok := qrels[q.ID]; ok {
			ds.Queries = append(ds.Queries, q)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if len(ds.Queries) == 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "%s: no query of queries.jsonl is judged in %s", dir, qrelsPath)
	}
	ansPath := filepath.Join(dir, "answers.jsonl")
	if _, err := os.Stat(ansPath); err == nil {
		ds.Answers = map[string][]string{}
		type answers struct {
			ID      string   `json:"_id"`
			Answers []string `json:"answers"`
		}
		if err := readJSONL(ansPath, func(a answers) error {
			ds.Answers[a.ID] = a.Answers
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func readQrels(path string) (map[string]map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeNotFound, "qrels: %w", err)
	}
	defer f.Close()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if len(fields) == 1 && fields[0] == "" {
			continue
		}
		if len(fields) != 3 {
			return nil, quarry.Errorf(quarry.CodeInvalid, "%s:%d: want 3 tab-separated fields, got %d", path, line, len(fields))
		}
		score, err := strconv.Atoi(fields[2])
		if err != nil {
			if line == 1 { // header
				continue
			}
			return nil, quarry.Errorf(quarry.CodeInvalid, "%s:%d: score %q: %w", path, line, fields[2], err)
		}
		if out[fields[0]] == nil {
			out[fields[0]] = map[string]int{}
		}
		out[fields[0]][fields[1]] = score
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

func readJSONL[T any](path string, fn func(T) error) error {
	f, err := os.Open(path)
	if err != nil {
		return quarry.Errorf(quarry.CodeNotFound, "dataset: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(b))) > 0 {
			line++
			var v T
			if jerr := json.Unmarshal(b, &v); jerr != nil {
				return quarry.Errorf(quarry.CodeInvalid, "%s:%d: %w", path, line, jerr)
			}
			if ferr := fn(v); ferr != nil {
				return quarry.Errorf(quarry.CodeInvalid, "%s:%d: %w", path, line, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// Relevant returns the relevant corpus ids of a query, sorted.
func (d *Dataset) Relevant(queryID string) []string {
	var ids []string
	for id, s := range d.Qrels[queryID] {
		if s > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
