// Package generate turns retrieved passages into a grounded answer with
// numbered citations, or an honest "I don't know".
//
// Answerer is the contract every answering strategy implements. The
// default, Extractive, needs no model: it quotes the passages' best
// sentences verbatim. LLM providers will implement Answerer too (their
// prompt building and citation checking will live here), and per
// knowledge base reply strategies (curated FAQ answers, escalation) will
// wrap an Answerer. Service is what the HTTP server and the CLI call: it
// validates a question, retrieves passages and answers from them; a
// multi-turn rewrite of req.History plus the question into a standalone
// query will slot in before retrieval.
package generate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

// Answerer answers a question from retrieved passages (best first).
//
// When send is not nil the answer is streamed through it as events, in
// order: quarry.EventPassages (the passages), quarry.EventDelta events
// whose texts concatenate to Answer.Text, quarry.EventCitations, and
// quarry.EventDone carrying the final Answer. An error from send stops
// the work and is returned (wrapped). Not finding an answer is not an
// error: the Answer has Answered false.
type Answerer interface {
	Answer(ctx context.Context, question string, passages []quarry.Passage, send func(quarry.Event) error) (quarry.Answer, error)
}

// emit sends ev unless send is nil, first checking that ctx is live.
func emit(ctx context.Context, send func(quarry.Event) error, ev quarry.Event) error {
	if send == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	if err := send(ev); err != nil {
		return fmt.Errorf("generate: send %s event: %w", ev.Type, err)
	}
	return nil
}

// stream sends a composed answer's deltas, citations and done events.
func stream(ctx context.Context, c composed, send func(quarry.Event) error) error {
	if send == nil {
		return nil
	}
	for _, p := range c.Pieces {
		if err := emit(ctx, send, quarry.Event{Type: quarry.EventDelta, Delta: p}); err != nil {
			return err
		}
	}
	if err := emit(ctx, send, quarry.Event{Type: quarry.EventCitations, Citations: c.Citations}); err != nil {
		return err
	}
	ans := c.Answer
	return emit(ctx, send, quarry.Event{Type: quarry.EventDone, Answer: &ans})
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return quarry.Errorf(quarry.CodeTimeout, "generate: %w", err)
	}
	return quarry.Errorf(quarry.CodeCanceled, "generate: %w", err)
}

// Retriever finds the passages a question is answered from
// (*retrieve.Retriever satisfies it).
type Retriever interface {
	Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error)
}

// Defaults for the zero ServiceConfig.
const (
	DefaultK                = 8
	DefaultMaxQuestionChars = 2000
)

// ServiceConfig tunes a Service. The zero value of every field means its
// default.
type ServiceConfig struct {
	// K is how many passages are retrieved for a question that does not
	// say. Default 8.
	K int
	// MaxQuestionChars is the longest question accepted, in characters
	// (runes); a longer one is quarry.ErrTooLarge. Default 2000.
	MaxQuestionChars int
	// Mode is the retrieval mode: quarry.ModeHybrid (default),
	// ModeKeyword or ModeVector.
	Mode string
}

// Service answers questions: it validates them, retrieves passages and
// hands them to an Answerer. It is safe for concurrent use if its
// retriever and answerer are.
type Service struct {
	r   Retriever
	a   Answerer
	cfg ServiceConfig
}

// NewService returns a Service over r and a. A nil a means the default
// Extractive answerer.
func NewService(r Retriever, a Answerer, cfg ServiceConfig) *Service {
	if a == nil {
		a = &Extractive{}
	}
	if cfg.K == 0 {
		cfg.K = DefaultK
	}
	if cfg.MaxQuestionChars <= 0 {
		cfg.MaxQuestionChars = DefaultMaxQuestionChars
	}
	return &Service{r: r, a: a, cfg: cfg}
}

// historyNote is added to an answer whose request carried a history: it
// is not used yet, and the caller should know.
const historyNote = "conversation history is not used yet; the question was answered on its own"

// Ask answers req.Question, streaming through send if it is not nil (see
// Answerer). Retrieval notes (a failed leg, say) are carried into the
// Answer, including the one sent with EventDone.
//
// Errors: an empty or invalid-UTF-8 question, or a negative K, is
// quarry.ErrInvalid; a question over the length limit is
// quarry.ErrTooLarge; retrieval errors keep their codes. Ask sends no
// EventError: the caller reports the returned error as it sees fit.
func (s *Service) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	q := strings.TrimSpace(req.Question)
	switch {
	case !utf8.ValidString(q):
		return quarry.Answer{}, quarry.Errorf(quarry.CodeInvalid, "ask: question is not valid UTF-8")
	case q == "":
		return quarry.Answer{}, quarry.Errorf(quarry.CodeInvalid, "ask: empty question")
	case utf8.RuneCountInString(q) > s.cfg.MaxQuestionChars:
		return quarry.Answer{}, quarry.Errorf(quarry.CodeTooLarge, "ask: question is %d characters, the limit is %d",
			utf8.RuneCountInString(q), s.cfg.MaxQuestionChars)
	case req.K < 0:
		return quarry.Answer{}, quarry.Errorf(quarry.CodeInvalid, "ask: k is %d, must be positive", req.K)
	}
	if s.r == nil {
		return quarry.Answer{}, quarry.Errorf(quarry.CodeUnavailable, "ask: no retriever configured")
	}
	k := req.K
	if k == 0 {
		k = s.cfg.K
	}
	res, err := s.r.Search(ctx, quarry.SearchRequest{Query: q, K: k, Mode: s.cfg.Mode})
	if err != nil {
		return quarry.Answer{}, fmt.Errorf("ask: retrieve: %w", err)
	}
	notes := res.Notes
	if len(req.History) > 0 {
		notes = append(notes[:len(notes):len(notes)], historyNote)
	}
	if send != nil {
		inner := send
		send = func(ev quarry.Event) error {
			if ev.Type == quarry.EventDone && ev.Answer != nil {
				a := *ev.Answer
				a.Notes = append(a.Notes[:len(a.Notes):len(a.Notes)], notes...)
				a.Notes = append(a.Notes, ocrNote(a)...)
				ev.Answer = &a
			}
			return inner(ev)
		}
	}
	ans, err := s.a.Answer(ctx, q, res.Passages, send)
	if err != nil {
		return quarry.Answer{}, fmt.Errorf("ask: %w", err)
	}
	ans.Notes = append(ans.Notes[:len(ans.Notes):len(ans.Notes)], notes...)
	ans.Notes = append(ans.Notes, ocrNote(ans)...)
	return ans, nil
}

// OCRNote is the note of an answer that cites text recognised by OCR.
const OCRNote = "a cited passage is text recognised by OCR from a scanned page or an image, and may hold recognition errors"

// ocrNote returns OCRNote when a citation's heading marks its passage as
// OCR text (see quarry.OCRHeadingSuffix).
func ocrNote(a quarry.Answer) []string {
	for _, c := range a.Citations {
		if strings.HasSuffix(c.Heading, quarry.OCRHeadingSuffix) {
			return []string{OCRNote}
		}
	}
	return nil
}
