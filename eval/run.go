package eval

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing/fstest"
	"time"

	"github.com/quarry-kb/quarry"
)

// FS lays the corpus out as Markdown files ("# title" then the text) so
// that it is ingested by the same pipeline as real documents. It also
// returns the corpus id of every file path.
func (d *Dataset) FS() (fs.FS, map[string]string) {
	fsys := make(fstest.MapFS, len(d.Corpus))
	ids := make(map[string]string, len(d.Corpus))
	for _, doc := range d.Corpus {
		p := DocPath(doc.ID)
		var b strings.Builder
		if t := strings.TrimSpace(doc.Title); t != "" {
			b.WriteString("# ")
			b.WriteString(strings.Join(strings.Fields(t), " "))
			b.WriteString("\n\n")
		}
		b.WriteString(doc.Text)
		b.WriteString("\n")
		fsys[p] = &fstest.MapFile{Data: []byte(b.String()), Mode: 0o644}
		ids[p] = doc.ID
	}
	return fsys, ids
}

// DocPath is the file path a corpus document is ingested under.
func DocPath(id string) string {
	// Shard into folders so no directory holds the whole corpus.
	esc := url.PathEscape(id)
	shard := "_"
	if len(esc) > 0 {
		shard = esc[len(esc)-1:]
	}
	return "docs/" + shard + "/" + esc + ".md"
}

// Searcher is what an evaluation needs from Quarry: the retriever that
// also serves /v1/search.
type Searcher interface {
	Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error)
}

// Options tune a run. The zero value evaluates all three modes.
type Options struct {
	// Modes to evaluate; default keyword, vector and hybrid.
	Modes []string
	// Depth is how many passages to ask for per query; default 100. The
	// searcher should cap one passage per document so that Depth
	// passages are Depth documents.
	Depth int
	// Answers, when set and the dataset has gold answers, is searched
	// with k=5 in hybrid mode for answer recall@1/@5: the retriever as it
	// serves (several passages of one document allowed).
	Answers Searcher
	// Progress, when set, is called after every query.
	Progress func(done, total int)
}

// LegReport holds one mode's figures.
type LegReport struct {
	NDCG10        float64  `json:"ndcg@10"`
	Recall100     float64  `json:"recall@100"`
	MRR10         float64  `json:"mrr@10"`
	AnswerRecall1 *float64 `json:"answer_recall@1,omitempty"`
	AnswerRecall5 *float64 `json:"answer_recall@5,omitempty"`
	Latency       Latency  `json:"latency"`
	// PerQueryNDCG10 is kept for paired significance tests between runs.
	PerQueryNDCG10 map[string]float64 `json:"-"`
}

// Report is the outcome of an evaluation.
type Report struct {
	Dataset   string     `json:"dataset"`
	Split     string     `json:"split"`
	Queries   int        `json:"queries"`
	Documents int        `json:"documents"`
	Keyword   *LegReport `json:"keyword,omitempty"`
	Vector    *LegReport `json:"vector,omitempty"`
	Hybrid    *LegReport `json:"hybrid,omitempty"`
}

// Leg returns the report of a mode, or nil.
func (r *Report) Leg(mode string) *LegReport {
	switch mode {
	case quarry.ModeKeyword:
		return r.Keyword
	case quarry.ModeVector:
		return r.Vector
	case quarry.ModeHybrid:
		return r.Hybrid
	}
	return nil
}

// Run evaluates every judged query of ds through s. docOf maps a
// returned passage to its corpus id.
func Run(ctx context.Context, ds *Dataset, s Searcher, docOf func(quarry.Passage) (string, bool), opts Options) (*Report, error) {
	modes := opts.Modes
	if len(modes) == 0 {
		modes = []string{quarry.ModeKeyword, quarry.ModeVector, quarry.ModeHybrid}
	}
	depth := opts.Depth
	if depth <= 0 {
		depth = 100
	}
	rep := &Report{Dataset: ds.Name, Split: ds.Split, Queries: len(ds.Queries), Documents: len(ds.Corpus)}
	withAnswers := len(ds.Answers) > 0
	total := len(modes) * len(ds.Queries)
	done := 0
	for _, mode := range modes {
		leg := &LegReport{PerQueryNDCG10: make(map[string]float64, len(ds.Queries))}
		var lat []time.Duration
		var ans1, ans5, ansN int
		for _, q := range ds.Queries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start := time.Now()
			res, err := s.Search(ctx, quarry.SearchRequest{Query: q.Text, K: depth, Mode: mode})
			lat = append(lat, time.Since(start))
			if err != nil {
				return nil, fmt.Errorf("%s query %s: %w", mode, q.ID, err)
			}
			ids := make([]string, 0, len(res.Passages))
			for _, p := range res.Passages {
				if id, ok := docOf(p); ok {
					ids = append(ids, id)
				}
			}
			ranked := DedupeDocs(ids)
			rel := map[string]bool{}
			for _, id := range ds.Relevant(q.ID) {
				rel[id] = true
			}
			n := NDCG(ranked, rel, 10)
			leg.PerQueryNDCG10[q.ID] = n
			leg.NDCG10 += n
			leg.Recall100 += Recall(ranked, rel, 100)
			leg.MRR10 += MRR(ranked, rel, 10)

			if gold := ds.Answers[q.ID]; withAnswers && mode == quarry.ModeHybrid && len(gold) > 0 {
				passages := res.Passages
				if opts.Answers != nil {
					ar, err := opts.Answers.Search(ctx, quarry.SearchRequest{Query: q.Text, K: 5, Mode: mode})
					if err != nil {
						return nil, fmt.Errorf("answer search %s: %w", q.ID, err)
					}
					passages = ar.Passages
				}
				texts := make([]string, len(passages))
				for i, p := range passages {
					texts[i] = p.Text
				}
				ansN++
				if AnswerHit(texts, gold, 1) {
					ans1++
				}
				if AnswerHit(texts, gold, 5) {
					ans5++
				}
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
		nq := float64(len(ds.Queries))
		leg.NDCG10 /= nq
		leg.Recall100 /= nq
		leg.MRR10 /= nq
		leg.Latency = Summarize(lat)
		if ansN > 0 {
			a1, a5 := float64(ans1)/float64(ansN), float64(ans5)/float64(ansN)
			leg.AnswerRecall1, leg.AnswerRecall5 = &a1, &a5
		}
		switch mode {
		case quarry.ModeKeyword:
			rep.Keyword = leg
		case quarry.ModeVector:
			rep.Vector = leg
		case quarry.ModeHybrid:
			rep.Hybrid = leg
		default:
			return nil, quarry.Errorf(quarry.CodeInvalid, "unknown mode %q", mode)
		}
	}
	return rep, nil
}

// Table renders a report as a Markdown table.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s split, %d queries, %d documents)\n\n", r.Dataset, r.Split, r.Queries, r.Documents)
	b.WriteString("| leg | nDCG@10 | Recall@100 | MRR@10 | answer R@1 | answer R@5 | mean ms | p95 ms |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, mode := range []string{quarry.ModeKeyword, quarry.ModeVector, quarry.ModeHybrid} {
		l := r.Leg(mode)
		if l == nil {
			continue
		}
		opt := func(p *float64) string {
			if p == nil {
				return "—"
			}
			return fmt.Sprintf("%.3f", *p)
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.3f | %.3f | %s | %s | %.2f | %.2f |\n",
			mode, l.NDCG10, l.Recall100, l.MRR10, opt(l.AnswerRecall1), opt(l.AnswerRecall5), l.Latency.MeanMS, l.Latency.P95MS)
	}
	return b.String()
}
