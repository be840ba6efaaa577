package generate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/quarry-kb/quarry"
)

// DefaultMaxAnswerTokens is the default bound on an LLM answer.
const DefaultMaxAnswerTokens = 512

// LLMConfig configures an LLM answerer. Zero values mean the defaults.
type LLMConfig struct {
	// Model writes the answers. Required.
	Model Model
	// MaxContextTokens bounds the prompt (instructions, passages and
	// question) in cl100k_base tokens; passages that do not fit are
	// dropped, lowest-ranked first. Default 3000. Keep it, plus
	// MaxAnswerTokens, under the model's context window.
	MaxContextTokens int
	// MaxAnswerTokens bounds the answer. Default 512.
	MaxAnswerTokens int
	// Temperature is the sampling temperature. The default, 0, suits
	// grounded answering, where the model should stick to the passages.
	Temperature float64
}

// LLM is an Answerer that has a language model write the answer from the
// retrieved passages, under a grounded prompt (see BuildPrompt), and
// checks the citations of what it wrote (see CheckAnswer). It is safe for
// concurrent use if its Model is.
//
// Streaming: the events are passages (those in the prompt, numbered as
// the answer cites them), deltas, citations and done, as for every
// Answerer. Deltas are the model's text with citation markers already
// checked and renumbered; a marker, trailing white space, or the start
// of an answer that may turn out to be the "I don't know" sentinel is
// held back until it is settled, so the deltas concatenate to the final
// Answer.Text. The done event carries the checked Answer; clients that
// need the citations' exact numbering should take the text from it.
type LLM struct {
	cfg LLMConfig
}

var _ Answerer = (*LLM)(nil)

// NewLLM returns an LLM answerer. A nil Model is quarry.ErrInvalid.
func NewLLM(cfg LLMConfig) (*LLM, error) {
	if cfg.Model == nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "llm answerer: no model configured")
	}
	if cfg.MaxContextTokens < 0 || cfg.MaxAnswerTokens < 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "llm answerer: negative token budget")
	}
	if cfg.MaxContextTokens == 0 {
		cfg.MaxContextTokens = DefaultMaxContextTokens
	}
	if cfg.MaxAnswerTokens == 0 {
		cfg.MaxAnswerTokens = DefaultMaxAnswerTokens
	}
	return &LLM{cfg: cfg}, nil
}

// Answer answers question from passages (best first); see Answerer.
// With no passages it says "I don't know" without asking the model. A
// model failure is returned with its quarry code (CodeUnavailable for
// a provider that is down, for example); deltas already sent stay
// sent, and the caller reports the error.
func (l *LLM) Answer(ctx context.Context, question string, passages []quarry.Passage, send func(quarry.Event) error) (quarry.Answer, error) {
	question = strings.TrimSpace(question)
	if question == "" {
		return quarry.Answer{}, quarry.Errorf(quarry.CodeInvalid, "llm answerer: empty question")
	}
	prompt, err := BuildPrompt(question, passages, PromptConfig{MaxContextTokens: l.cfg.MaxContextTokens, Persona: Persona(ctx)})
	if err != nil {
		return quarry.Answer{}, fmt.Errorf("llm answerer: %w", err)
	}
	out := llmSender{ctx: ctx, send: send}
	if err := out.emit(quarry.Event{Type: quarry.EventPassages, Passages: prompt.Passages}); err != nil {
		return quarry.Answer{}, err
	}

	var notes []string
	if prompt.Dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d passages left out to fit the %d-token context budget",
			prompt.Dropped, len(passages), l.cfg.MaxContextTokens))
	}
	if prompt.Cut {
		notes = append(notes, "the last passage was shortened to fit the context budget")
	}

	if len(prompt.Passages) == 0 { // nothing to answer from
		ans := CheckAnswer("", prompt)
		ans.Notes = append(ans.Notes, notes...)
		return l.finish(&out, &markerStream{}, ans)
	}
	temp := l.cfg.Temperature
	req := ChatRequest{Messages: prompt.Messages, MaxTokens: l.cfg.MaxAnswerTokens, Temperature: &temp}
	var onDelta func(string) error
	stream := &markerStream{n: len(prompt.Passages)}
	if send != nil {
		onDelta = func(d string) error {
			if s := stream.write(d); s != "" {
				return out.emit(quarry.Event{Type: quarry.EventDelta, Delta: s})
			}
			return nil
		}
	}
	resp, err := l.cfg.Model.Chat(ctx, req, onDelta)
	if err != nil {
		if out.err != nil && errors.Is(err, out.err) {
			return quarry.Answer{}, out.err
		}
		return quarry.Answer{}, fmt.Errorf("llm answerer: %w", err)
	}
	if resp.FinishReason == "length" {
		notes = append(notes, fmt.Sprintf("the answer was cut off at the %d-token limit", l.cfg.MaxAnswerTokens))
	}
	ans := CheckAnswer(resp.Text, prompt)
	ans.Notes = append(ans.Notes, notes...)
	return l.finish(&out, stream, ans)
}

// finish sends the rest of the answer text, the citations and done,
// and returns ans.
func (l *LLM) finish(out *llmSender, stream *markerStream, ans quarry.Answer) (quarry.Answer, error) {
	if out.send == nil {
		return ans, nil
	}
	// The rest of the text (all of it for a model that streamed
	// nothing). If what was sent is not a prefix of the checked text,
	// which markerStream rules out, the done event still carries the
	// right text.
	rest := ""
	if strings.HasPrefix(ans.Text, stream.sent) {
		rest = ans.Text[len(stream.sent):]
	}
	if rest != "" {
		if err := out.emit(quarry.Event{Type: quarry.EventDelta, Delta: rest}); err != nil {
			return quarry.Answer{}, err
		}
	}
	if err := out.emit(quarry.Event{Type: quarry.EventCitations, Citations: ans.Citations}); err != nil {
		return quarry.Answer{}, err
	}
	done := ans
	if err := out.emit(quarry.Event{Type: quarry.EventDone, Answer: &done}); err != nil {
		return quarry.Answer{}, err
	}
	return ans, nil
}

// llmSender sends events, remembering the first error so that it can be
// told apart from the model's own errors.
type llmSender struct {
	ctx  context.Context
	send func(quarry.Event) error
	err  error
}

func (s *llmSender) emit(ev quarry.Event) error {
	if s.send == nil {
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		code := quarry.CodeCanceled
		if errors.Is(err, context.DeadlineExceeded) {
			code = quarry.CodeTimeout
		}
		s.err = quarry.Errorf(code, "generate: %w", err)
		return s.err
	}
	if err := s.send(ev); err != nil {
		s.err = fmt.Errorf("generate: send %s event: %w", ev.Type, err)
		return s.err
	}
	return nil
}

// markerStream turns a model's streamed text into deltas whose
// concatenation is the checked answer text: markers are rewritten as
// CheckAnswer rewrites them, and text is held back while it is not
// settled (a marker being written, trailing white space, a possible
// "I don't know").
type markerStream struct {
	n    int // passages in the prompt
	raw  strings.Builder
	sent string // what has been emitted
}

// write adds a delta and returns the text that can be sent now.
func (m *markerStream) write(delta string) string {
	m.raw.WriteString(delta)
	raw := m.raw.String()
	if sentinelPrefix(raw) {
		return ""
	}
	cut := stableCut(raw)
	text, _, _ := rewriteCiteMarkers(raw[:cut], m.n)
	text = strings.TrimLeftFunc(text, unicode.IsSpace)
	if len(text) <= len(m.sent) || !strings.HasPrefix(text, m.sent) {
		return ""
	}
	d := text[len(m.sent):]
	m.sent = text
	return d
}
