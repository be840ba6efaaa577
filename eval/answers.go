package eval

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
)

// Asker is what an answer evaluation needs from Quarry: the answering
// service that also serves /v1/ask.
type Asker interface {
	Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)
}

// AnswerOptions tune an answer evaluation. The zero value asks every
// question with the service's defaults.
type AnswerOptions struct {
	// K is the number of passages to retrieve per question; 0 means the
	// service's default.
	K int
	// Progress, when set, is called after every question.
	Progress func(done, total int)
	// RetrievalK is the number of passages searched for the retrieval
	// figures when the Asker is also a Searcher (see Searcher: an Asker
	// that is not one gets an answer report without retrieval figures);
	// 0 means 10.
	RetrievalK int
	// RetrievalModes are further retrieval modes (quarry.ModeKeyword,
	// quarry.ModeVector, quarry.ModeHybrid) whose passage recall is
	// measured besides the served mode's, to compare the legs with
	// their fusion (see RetrievalReport.ByMode).
	RetrievalModes []string
}

// RetrievalCuts are the ranks at which passage recall is reported.
var RetrievalCuts = []int{1, 5, 10}

// RetrievalCounts are the passage-recall figures of a set of answerable
// questions: for each cut k of RetrievalCuts, how many questions have,
// among the first k passages searched, one from an expected document
// that holds the expected phrase. It is the ceiling for any answerer
// that reads k passages.
type RetrievalCounts struct {
	Answerable int   `json:"answerable"`
	Found      []int `json:"found"` // per RetrievalCuts
}

func (c *RetrievalCounts) add(rank int) {
	if c.Found == nil {
		c.Found = make([]int, len(RetrievalCuts))
	}
	c.Answerable++
	for i, k := range RetrievalCuts {
		if rank > 0 && rank <= k {
			c.Found[i]++
		}
	}
}

// Recall returns the share of answerable questions found within the
// i-th cut of RetrievalCuts.
func (c RetrievalCounts) Recall(i int) float64 {
	if i >= len(c.Found) {
		return 0
	}
	return share(c.Found[i], c.Answerable)
}

// PassageRank is the 1-based rank of the first passage from one of q's
// expected documents that holds q's expected phrase, 0 when none does.
func PassageRank(q corpora.Question, passages []quarry.Passage) int {
	for i, p := range passages {
		if slices.Contains(q.ExpectedDocs, p.Path) && corpora.ContainsAnswer(p.Text, q.ExpectedAnswer) {
			return i + 1
		}
	}
	return 0
}

// AnswerCounts are the answer figures of a set of questions.
type AnswerCounts struct {
	Answerable int `json:"answerable"`
	// CitedRight counts answerable questions whose first citation is one
	// of the expected documents.
	CitedRight int `json:"first_citation_right"`
	// PhraseRight counts answerable questions that were answered with the
	// expected phrase in the answer (corpora.ContainsAnswer).
	PhraseRight int `json:"phrase_right"`
	// BothRight counts answerable questions right on both counts: the
	// answer accuracy.
	BothRight    int `json:"both_right"`
	Unanswerable int `json:"unanswerable"`
	// Declined counts unanswerable questions answered "I don't know".
	Declined int `json:"declined"`
}

// Accuracy is the share of answerable questions right on both counts
// (0 when there are none).
func (c AnswerCounts) Accuracy() float64 { return share(c.BothRight, c.Answerable) }

// DeclineRate is the share of unanswerable questions declined (0 when
// there are none).
func (c AnswerCounts) DeclineRate() float64 { return share(c.Declined, c.Unanswerable) }

func (c *AnswerCounts) add(r AnswerResult) {
	if !r.Answerable {
		c.Unanswerable++
		if !r.Answered {
			c.Declined++
		}
		return
	}
	c.Answerable++
	if r.CitedRight {
		c.CitedRight++
	}
	if r.PhraseFound {
		c.PhraseRight++
	}
	if r.CitedRight && r.PhraseFound {
		c.BothRight++
	}
}

func share(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// AnswerResult is the outcome of one question.
type AnswerResult struct {
	ID         string `json:"id"`
	Question   string `json:"question"`
	Lang       string `json:"lang"`
	Answerable bool   `json:"answerable"`
	Answered   bool   `json:"answered"`
	// FirstCitation is the path of the answer's first citation, "" when
	// it cites nothing.
	FirstCitation  string   `json:"first_citation"`
	ExpectedDocs   []string `json:"expected_docs,omitempty"`
	ExpectedAnswer string   `json:"expected_answer,omitempty"`
	// PassageRank is the rank of the first passage searched that comes
	// from an expected document and holds the expected phrase (see
	// PassageRank); 0 when none does, or when retrieval was not measured.
	PassageRank int    `json:"passage_rank,omitempty"`
	CitedRight  bool   `json:"first_citation_right"`
	PhraseFound bool   `json:"phrase_found"`
	Answer      string `json:"answer"`
}

// Right reports whether the answer is what the question file asks for:
// for an answerable question, the first citation an expected document
// and the expected phrase in the answer; for an unanswerable one, "I
// don't know".
func (r AnswerResult) Right() bool {
	if !r.Answerable {
		return !r.Answered
	}
	return r.CitedRight && r.PhraseFound
}

// String describes the result on one line, for lists of misses.
func (r AnswerResult) String() string {
	if !r.Answerable {
		return fmt.Sprintf("%s %q: unanswerable, answered=%v first citation %q; answer %q",
			r.ID, r.Question, r.Answered, r.FirstCitation, r.Answer)
	}
	return fmt.Sprintf("%s %q: answered=%v first citation %q (want %v), phrase %q found=%v, passage rank %d; answer %q",
		r.ID, r.Question, r.Answered, r.FirstCitation, r.ExpectedDocs, r.ExpectedAnswer, r.PhraseFound, r.PassageRank, r.Answer)
}

// ScoreAnswer scores ans as the answer to q. It is the one definition of
// a right answer: the first citation must be one of q's expected
// documents, and the answer (an answer, not "I don't know") must contain
// the expected phrase; an unanswerable question must be declined.
func ScoreAnswer(q corpora.Question, ans quarry.Answer) AnswerResult {
	r := AnswerResult{
		ID: q.ID, Question: q.Question, Lang: q.Lang, Answerable: q.Answerable,
		Answered: ans.Answered, ExpectedDocs: q.ExpectedDocs, ExpectedAnswer: q.ExpectedAnswer,
		Answer: ans.Text,
	}
	if len(ans.Citations) > 0 {
		r.FirstCitation = ans.Citations[0].Path
	}
	if q.Answerable {
		r.CitedRight = r.FirstCitation != "" && slices.Contains(q.ExpectedDocs, r.FirstCitation)
		r.PhraseFound = ans.Answered && corpora.ContainsAnswer(ans.Text, q.ExpectedAnswer)
	}
	return r
}

// AnswerReport is the outcome of an answer evaluation.
type AnswerReport struct {
	AnswerCounts
	Accuracy    float64 `json:"accuracy"`     // BothRight / Answerable
	DeclineRate float64 `json:"decline_rate"` // Declined / Unanswerable
	// ByLang holds the counts of each question language.
	ByLang map[string]*AnswerCounts `json:"by_lang"`
	// Retrieval holds the passage-recall figures, overall and by
	// language; nil when retrieval was not measured.
	Retrieval *RetrievalReport `json:"retrieval,omitempty"`
	// Misses are the questions not answered right, in question order.
	Misses []AnswerResult `json:"misses"`
}

// Add counts one scored question.
func (r *AnswerReport) Add(res AnswerResult) {
	r.AnswerCounts.add(res)
	if r.ByLang == nil {
		r.ByLang = map[string]*AnswerCounts{}
	}
	l := r.ByLang[res.Lang]
	if l == nil {
		l = &AnswerCounts{}
		r.ByLang[res.Lang] = l
	}
	l.add(res)
	if !res.Right() {
		r.Misses = append(r.Misses, res)
	}
	r.Accuracy, r.DeclineRate = r.AnswerCounts.Accuracy(), r.AnswerCounts.DeclineRate()
}

// RetrievalReport is the passage recall of the answerable questions,
// overall and by language.
type RetrievalReport struct {
	K int `json:"k"` // passages searched per question
	RetrievalCounts
	Cuts   []int                       `json:"cuts"`
	ByLang map[string]*RetrievalCounts `json:"by_lang"`
	// ByMode holds, for each of AnswerOptions.RetrievalModes, the
	// passage recall of all languages in that retrieval mode.
	ByMode map[string]*RetrievalCounts `json:"by_mode,omitempty"`
}

func (r *RetrievalReport) add(lang string, rank int) {
	r.RetrievalCounts.add(rank)
	l := r.ByLang[lang]
	if l == nil {
		l = &RetrievalCounts{}
		r.ByLang[lang] = l
	}
	l.add(rank)
}

// Answers asks every question through a, one at a time, and scores the
// answers with ScoreAnswer. An error from a fails the run, naming the
// question; a cancelled ctx stops it with ctx's error.
func Answers(ctx context.Context, qs []corpora.Question, a Asker, opts AnswerOptions) (*AnswerReport, error) {
	if len(qs) == 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "no questions to evaluate")
	}
	rep := &AnswerReport{ByLang: map[string]*AnswerCounts{}, Misses: []AnswerResult{}}
	searcher, _ := a.(Searcher)
	k := opts.RetrievalK
	if k <= 0 {
		k = RetrievalCuts[len(RetrievalCuts)-1]
	}
	if searcher != nil {
		rep.Retrieval = &RetrievalReport{K: k, Cuts: RetrievalCuts, ByLang: map[string]*RetrievalCounts{}}
		if len(opts.RetrievalModes) > 0 {
			rep.Retrieval.ByMode = map[string]*RetrievalCounts{}
		}
	}
	// Nobody reads the events; send only passes on cancellation, as the
	// HTTP API's JSON answers do.
	send := func(quarry.Event) error { return context.Cause(ctx) }
	for i, q := range qs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ans, err := a.Ask(ctx, quarry.AskRequest{Question: q.Question, K: opts.K}, send)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr // the run was cancelled: that is the error
			}
			return nil, fmt.Errorf("question %s: %w", q.ID, err)
		}
		res := ScoreAnswer(q, ans)
		if searcher != nil && q.Answerable {
			sr, err := searcher.Search(ctx, quarry.SearchRequest{Query: q.Question, K: k})
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return nil, cerr
				}
				return nil, fmt.Errorf("question %s: search: %w", q.ID, err)
			}
			res.PassageRank = PassageRank(q, sr.Passages)
			rep.Retrieval.add(q.Lang, res.PassageRank)
			for _, mode := range opts.RetrievalModes {
				sr, err := searcher.Search(ctx, quarry.SearchRequest{Query: q.Question, K: k, Mode: mode})
				if err != nil {
					if cerr := ctx.Err(); cerr != nil {
						return nil, cerr
					}
					return nil, fmt.Errorf("question %s: search (%s): %w", q.ID, mode, err)
				}
				c := rep.Retrieval.ByMode[mode]
				if c == nil {
					c = &RetrievalCounts{}
					rep.Retrieval.ByMode[mode] = c
				}
				c.add(PassageRank(q, sr.Passages))
			}
		}
		rep.Add(res)
		if opts.Progress != nil {
			opts.Progress(i+1, len(qs))
		}
	}
	return rep, nil
}

// Table renders the report as a Markdown table: all questions, then
// each language.
func (r *AnswerReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "answers: %d questions (%d answerable, %d unanswerable)\n\n",
		r.Answerable+r.Unanswerable, r.Answerable, r.Unanswerable)
	b.WriteString("| questions | answerable | first citation right | phrase right | both right | unanswerable | declined |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	row := func(name string, c AnswerCounts) {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d | %s |\n", name, c.Answerable,
			frac(c.CitedRight, c.Answerable), frac(c.PhraseRight, c.Answerable), frac(c.BothRight, c.Answerable),
			c.Unanswerable, frac(c.Declined, c.Unanswerable))
	}
	row("all", r.AnswerCounts)
	langs := make([]string, 0, len(r.ByLang))
	for l := range r.ByLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		row(l, *r.ByLang[l])
	}
	if rt := r.Retrieval; rt != nil {
		fmt.Fprintf(&b, "\nretrieval: answerable questions with the expected phrase in a passage from an expected document, of the first k of %d passages searched\n\n", rt.K)
		b.WriteString("| questions | answerable |")
		for _, k := range rt.Cuts {
			fmt.Fprintf(&b, " recall@%d |", k)
		}
		b.WriteString("\n| --- | --- |" + strings.Repeat(" --- |", len(rt.Cuts)) + "\n")
		rrow := func(name string, c RetrievalCounts) {
			fmt.Fprintf(&b, "| %s | %d |", name, c.Answerable)
			for i := range rt.Cuts {
				found := 0
				if i < len(c.Found) {
					found = c.Found[i]
				}
				fmt.Fprintf(&b, " %s |", frac(found, c.Answerable))
			}
			b.WriteByte('\n')
		}
		rrow("all", rt.RetrievalCounts)
		langs := make([]string, 0, len(rt.ByLang))
		for l := range rt.ByLang {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			rrow(l, *rt.ByLang[l])
		}
		modes := make([]string, 0, len(rt.ByMode))
		for m := range rt.ByMode {
			modes = append(modes, m)
		}
		sort.Strings(modes)
		for _, m := range modes {
			rrow("all, "+m, *rt.ByMode[m])
		}
	}
	return b.String()
}

func frac(a, b int) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%d (%.1f%%)", a, 100*share(a, b))
}
