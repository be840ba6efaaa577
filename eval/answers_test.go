package eval

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
)

// fakeAsker answers from a table keyed by question text.
type fakeAsker struct {
	answers map[string]quarry.Answer
	errs    map[string]error
	asked   []quarry.AskRequest
}

func (f *fakeAsker) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	f.asked = append(f.asked, req)
	if err := send(quarry.Event{Type: quarry.EventDone}); err != nil {
		return quarry.Answer{}, err
	}
	if err := f.errs[req.Question]; err != nil {
		return quarry.Answer{}, err
	}
	if a, ok := f.answers[req.Question]; ok {
		return a, nil
	}
	return quarry.Answer{Text: "I don't know.", Answered: false}, nil
}

func answered(text string, paths ...string) quarry.Answer {
	a := quarry.Answer{Text: text, Answered: true}
	for i, p := range paths {
		a.Citations = append(a.Citations, quarry.Citation{N: i + 1, Path: p})
	}
	return a
}

var refundQ = corpora.Question{
	ID: "en-1", Question: "How long do refunds take?", Lang: "en", Answerable: true,
	ExpectedDocs: []string{"returns/refunds.md", "returns/faq.md"}, ExpectedAnswer: "5 business days",
}

var weatherQ = corpora.Question{ID: "en-2", Question: "What is the weather on Mars?", Lang: "en"}

func TestScoreAnswer(t *testing.T) {
	tests := []struct {
		name                 string
		q                    corpora.Question
		ans                  quarry.Answer
		cited, phrase, right bool
		first                string
	}{
		{"right", refundQ, answered("Refunds take 5 business  days [1].", "returns/refunds.md"), true, true, true, "returns/refunds.md"},
		{"second expected doc", refundQ, answered("Refunds take 5 Business Days [1].", "returns/faq.md"), true, true, true, "returns/faq.md"},
		{"wrong doc", refundQ, answered("Refunds take 5 business days [1][2].", "shipping/rates.md", "returns/refunds.md"), false, true, false, "shipping/rates.md"},
		{"missing phrase", refundQ, answered("Refunds are quick [1].", "returns/refunds.md"), true, false, false, "returns/refunds.md"},
		{"no citation", refundQ, answered("Refunds take 5 business days."), false, true, false, ""},
		{"declined answerable", refundQ, quarry.Answer{Text: "I don't know about 5 business days.", Citations: []quarry.Citation{{N: 1, Path: "returns/refunds.md"}}}, true, false, false, "returns/refunds.md"},
		{"declined unanswerable", weatherQ, quarry.Answer{Text: "I don't know."}, false, false, true, ""},
		{"answered unanswerable", weatherQ, answered("It is cold [1].", "mars.md"), false, false, false, "mars.md"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ScoreAnswer(tc.q, tc.ans)
			if r.CitedRight != tc.cited || r.PhraseFound != tc.phrase || r.Right() != tc.right || r.FirstCitation != tc.first {
				t.Errorf("got cited %v phrase %v right %v first %q, want %v %v %v %q",
					r.CitedRight, r.PhraseFound, r.Right(), r.FirstCitation, tc.cited, tc.phrase, tc.right, tc.first)
			}
			if r.ID != tc.q.ID || r.Answer != tc.ans.Text || r.Answered != tc.ans.Answered {
				t.Errorf("result does not carry the question and answer: %+v", r)
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	zhQ := corpora.Question{ID: "zh-1", Question: "退款多久到账？", Lang: "zh", Answerable: true,
		ExpectedDocs: []string{"zh/退款.md"}, ExpectedAnswer: "3个工作日"}
	zhWrong := corpora.Question{ID: "zh-2", Question: "保修多久？", Lang: "zh", Answerable: true,
		ExpectedDocs: []string{"zh/保修.md"}, ExpectedAnswer: "两年"}
	zhNo := corpora.Question{ID: "zh-3", Question: "火星天气如何？", Lang: "zh"}
	enNo := corpora.Question{ID: "en-3", Question: "Who won the 1998 World Cup?", Lang: "en"}
	qs := []corpora.Question{refundQ, weatherQ, zhQ, zhWrong, zhNo, enNo}
	f := &fakeAsker{answers: map[string]quarry.Answer{
		refundQ.Question: answered("Refunds take 5 business days [1].", "returns/refunds.md"),
		zhQ.Question:     answered("退款将在 3 个工作日内退回[1]。", "zh/退款.md"),
		zhWrong.Question: answered("两年[1]。", "zh/退款.md"), // phrase right, wrong document
		enNo.Question:    answered("France [1].", "sports.md"),
	}}
	var progress []int
	rep, err := Answers(context.Background(), qs, f, AnswerOptions{K: 7, Progress: func(done, total int) {
		if total != len(qs) {
			t.Errorf("progress total %d, want %d", total, len(qs))
		}
		progress = append(progress, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := AnswerCounts{Answerable: 3, CitedRight: 2, PhraseRight: 3, BothRight: 2, Unanswerable: 3, Declined: 2}
	if rep.AnswerCounts != want {
		t.Errorf("counts %+v, want %+v", rep.AnswerCounts, want)
	}
	if !near(rep.Accuracy, 2.0/3) || !near(rep.DeclineRate, 2.0/3) {
		t.Errorf("accuracy %v decline rate %v, want 2/3 each", rep.Accuracy, rep.DeclineRate)
	}
	byLang := map[string]AnswerCounts{
		"en": {Answerable: 1, CitedRight: 1, PhraseRight: 1, BothRight: 1, Unanswerable: 2, Declined: 1},
		"zh": {Answerable: 2, CitedRight: 1, PhraseRight: 2, BothRight: 1, Unanswerable: 1, Declined: 1},
	}
	if len(rep.ByLang) != len(byLang) {
		t.Errorf("languages %v", rep.ByLang)
	}
	for l, w := range byLang {
		if got := rep.ByLang[l]; got == nil || *got != w {
			t.Errorf("%s counts %+v, want %+v", l, got, w)
		}
	}
	var missIDs []string
	for _, m := range rep.Misses {
		missIDs = append(missIDs, m.ID)
	}
	if got := strings.Join(missIDs, ","); got != "zh-2,en-3" {
		t.Errorf("misses %s, want zh-2,en-3", got)
	}
	if len(progress) != len(qs) || progress[len(progress)-1] != len(qs) {
		t.Errorf("progress calls %v", progress)
	}
	for _, req := range f.asked {
		if req.K != 7 {
			t.Errorf("asked with K %d, want 7", req.K)
		}
	}

	table := rep.Table()
	for _, s := range []string{"6 questions (3 answerable, 3 unanswerable)", "| all | 3 | 2 (66.7%) | 3 (100.0%) | 2 (66.7%) | 3 | 2 (66.7%) |", "| en | 1 |", "| zh | 2 |"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Answerable int                     `json:"answerable"`
		BothRight  int                     `json:"both_right"`
		Declined   int                     `json:"declined"`
		ByLang     map[string]AnswerCounts `json:"by_lang"`
		Misses     []AnswerResult          `json:"misses"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Answerable != 3 || back.BothRight != 2 || back.Declined != 2 || back.ByLang["zh"].Answerable != 2 || len(back.Misses) != 2 {
		t.Errorf("JSON lost figures: %s", b)
	}
}

func TestAnswersErrors(t *testing.T) {
	boom := quarry.Errorf(quarry.CodeUnavailable, "model down")
	t.Run("ask error names the question", func(t *testing.T) {
		f := &fakeAsker{errs: map[string]error{weatherQ.Question: boom}}
		_, err := Answers(context.Background(), []corpora.Question{refundQ, weatherQ}, f, AnswerOptions{})
		if err == nil || !strings.Contains(err.Error(), "en-2") || !errors.Is(err, quarry.ErrUnavailable) {
			t.Errorf("err = %v, want one naming en-2 and wrapping the unavailable error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f := &fakeAsker{}
		_, err := Answers(ctx, []corpora.Question{refundQ}, f, AnswerOptions{})
		if !errors.Is(err, context.Canceled) || len(f.asked) != 0 {
			t.Errorf("err = %v after %d asks, want context.Canceled before asking", err, len(f.asked))
		}
	})
	t.Run("cancelled during ask", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f := cancelAsker{cancel}
		_, err := Answers(ctx, []corpora.Question{refundQ, weatherQ}, f, AnswerOptions{})
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "en-1") {
			t.Errorf("err = %v, want the context's error", err)
		}
	})
	t.Run("no questions", func(t *testing.T) {
		if _, err := Answers(context.Background(), nil, &fakeAsker{}, AnswerOptions{}); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("err = %v, want invalid", err)
		}
	})
}

// cancelAsker cancels the run while answering and fails as an answerer
// would when its context goes away.
type cancelAsker struct{ cancel context.CancelFunc }

func (c cancelAsker) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	c.cancel()
	return quarry.Answer{}, quarry.Errorf(quarry.CodeCanceled, "answer: %w", send(quarry.Event{Type: quarry.EventDelta}))
}

// searchingAsker is a fakeAsker that also searches, from a table of
// passages keyed by query.
type searchingAsker struct {
	fakeAsker
	results map[string][]quarry.Passage
	ks      []int
}

func (s *searchingAsker) Search(_ context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	s.ks = append(s.ks, req.K)
	ps := s.results[req.Query]
	return quarry.SearchResult{Passages: ps[:min(len(ps), req.K)]}, nil
}

func TestAnswersRetrieval(t *testing.T) {
	psg := func(path, text string) quarry.Passage {
		return quarry.Passage{Chunk: quarry.Chunk{Path: path, Text: text}}
	}
	filler := make([]quarry.Passage, 12)
	for i := range filler {
		filler[i] = psg("other.md", "Refunds take 5 business days.") // the phrase, but not an expected document
	}
	zhQ := corpora.Question{ID: "zh-1", Question: "退款多久？", Lang: "zh", Answerable: true,
		ExpectedDocs: []string{"zh/refunds.md"}, ExpectedAnswer: "五个工作日"}
	farQ := corpora.Question{ID: "en-3", Question: "Refund time?", Lang: "en", Answerable: true,
		ExpectedDocs: []string{"returns/refunds.md"}, ExpectedAnswer: "5 business days"}
	a := &searchingAsker{results: map[string][]quarry.Passage{
		// Rank 3: the expected document at rank 1 lacks the phrase.
		refundQ.Question: append([]quarry.Passage{psg("returns/refunds.md", "Refunds are quick."), filler[0],
			psg("returns/faq.md", "Refunds take 5 Business  Days.")}, filler...),
		zhQ.Question:  {psg("zh/refunds.md", "退款在五个工作日内到账。")},
		farQ.Question: append(filler[:10:10], psg("returns/refunds.md", "Refunds take 5 business days.")), // rank 11
	}}
	rep, err := Answers(context.Background(), []corpora.Question{refundQ, weatherQ, zhQ, farQ}, a, AnswerOptions{RetrievalModes: []string{quarry.ModeKeyword}})
	if err != nil {
		t.Fatal(err)
	}
	rt := rep.Retrieval
	if rt == nil {
		t.Fatal("no retrieval report from an Asker that searches")
	}
	if !reflect.DeepEqual(a.ks, []int{10, 10, 10, 10, 10, 10}) {
		t.Errorf("searched with k %v, want 10 twice (served mode, keyword) for each answerable question", a.ks)
	}
	if kw := rt.ByMode[quarry.ModeKeyword]; kw == nil || kw.Answerable != 3 || !reflect.DeepEqual(kw.Found, []int{1, 2, 2}) {
		t.Errorf("keyword mode %+v, want the same passages' recall", kw)
	}
	if rt.Answerable != 3 || !reflect.DeepEqual(rt.Found, []int{1, 2, 2}) {
		t.Errorf("overall %+v, want 3 answerable, found [1 2 2] at 1/5/10", rt.RetrievalCounts)
	}
	if en := rt.ByLang["en"]; en == nil || !reflect.DeepEqual(en.Found, []int{0, 1, 1}) {
		t.Errorf("en %+v, want found [0 1 1]", en)
	}
	ranks := map[string]int{}
	for _, m := range rep.Misses {
		ranks[m.ID] = m.PassageRank
	}
	if ranks[refundQ.ID] != 3 || ranks[farQ.ID] != 0 {
		t.Errorf("passage ranks %v, want en-1 3 and en-3 0", ranks)
	}
	table := rep.Table()
	for _, want := range []string{"| recall@1 | recall@5 | recall@10 |", "| all | 3 | 1 (33.3%) | 2 (66.7%) | 2 (66.7%) |", "| zh | 1 | 1 (100.0%) |", "| all, keyword | 3 | 1 (33.3%) |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// An Asker that cannot search gets no retrieval figures.
	rep, err = Answers(context.Background(), []corpora.Question{refundQ}, &fakeAsker{}, AnswerOptions{})
	if err != nil || rep.Retrieval != nil || strings.Contains(rep.Table(), "recall@") {
		t.Errorf("retrieval figures without a Searcher: %v %+v", err, rep.Retrieval)
	}
}
