package generate

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

// Rewriter turns the latest question of a conversation into a standalone
// query, from the earlier turns (oldest first). HeuristicRewriter and
// LLMRewriter implement it.
type Rewriter interface {
	Rewrite(ctx context.Context, history []quarry.Message, question string) (string, error)
}

// Asker answers a request; *Service implements it.
type Asker interface {
	Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)
}

var (
	_ Rewriter = HeuristicRewriter{}
	_ Rewriter = LLMRewriter{}
	_ Asker    = (*Service)(nil)
	_ Asker    = Conversation{}
)

// Conversation makes an Asker multi-turn: when a request carries a
// history, the question is first rewritten into a standalone one ("and
// how long does that take?" after a question about refunds becomes a
// question about how long refunds take), and that standalone question,
// without the history, is what the wrapped Asker retrieves and answers
// from. The answer's notes say how the question was rewritten. Requests
// without a history go through untouched.
//
// The history only ever shapes the query: it is quoted to a rewriting
// model as data, never passed to the answering model as turns, so a
// caller cannot smuggle instructions into the grounded prompt through
// it.
type Conversation struct {
	// Asker answers the standalone question. Required.
	Asker Asker
	// Rewriter rewrites follow-ups; nil means HeuristicRewriter{}.
	Rewriter Rewriter
}

// RewriteNotePrefix starts the note a Conversation adds to an answer
// whose question it rewrote; the standalone question follows, quoted.
const RewriteNotePrefix = "follow-up question rewritten from the conversation as "

// Ask answers req (see Asker). Rewriting fails only when ctx is done; a
// rewriter that cannot do better returns the question as it is.
func (c Conversation) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	if c.Asker == nil {
		return quarry.Answer{}, quarry.Errorf(quarry.CodeUnavailable, "ask: no answering service configured")
	}
	q := strings.TrimSpace(req.Question)
	if len(req.History) == 0 || q == "" || !utf8.ValidString(q) {
		// Nothing to rewrite, or nothing worth sending to a rewriter:
		// the Asker validates the question and says what is wrong.
		return c.Asker.Ask(ctx, req, send)
	}
	rw := c.Rewriter
	if rw == nil {
		rw = HeuristicRewriter{}
	}
	standalone, err := rw.Rewrite(ctx, req.History, q)
	if err != nil {
		return quarry.Answer{}, fmt.Errorf("ask: rewrite follow-up: %w", err)
	}
	if standalone = strings.TrimSpace(standalone); standalone == "" {
		standalone = q
	}
	inner := req
	inner.Question = standalone
	inner.History = nil // used up: the standalone question stands for it
	if standalone == q {
		return c.Asker.Ask(ctx, inner, send)
	}
	note := RewriteNotePrefix + fmt.Sprintf("%q", standalone)
	if send != nil {
		next := send
		send = func(ev quarry.Event) error {
			if ev.Type == quarry.EventDone && ev.Answer != nil {
				a := *ev.Answer
				a.Notes = appendNote(a.Notes, note)
				a.Query = standalone
				ev.Answer = &a
			}
			return next(ev)
		}
	}
	ans, err := c.Asker.Ask(ctx, inner, send)
	if err != nil {
		return quarry.Answer{}, err
	}
	ans.Notes = appendNote(ans.Notes, note)
	ans.Query = standalone
	return ans, nil
}

// appendNote appends note to a copy of notes, so that an answer shared
// with an event is not changed behind its back.
func appendNote(notes []string, note string) []string {
	return append(notes[:len(notes):len(notes)], note)
}
