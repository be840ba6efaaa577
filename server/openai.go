package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
)

// The OpenAI-compatible endpoint: POST /v1/chat/completions and
// GET /v1/models, so that any OpenAI client library or chat front end
// can talk to a knowledge base. The "model" of a request names the
// knowledge base; the last user message is the question and the earlier
// user and assistant messages are the conversation. System messages are
// ignored (with a note): Quarry's grounding is not something a caller
// can override. Replies are real chat.completion objects (or
// chat.completion.chunk streams) with one extra top-level field,
// "quarry", holding what a plain OpenAI reply has no room for: whether
// the question was answered, whether the answer is grounded, the
// citations and notes. Errors on these routes use OpenAI's error shape,
// {"error": {"message", "type", "param", "code"}}, which OpenAI clients
// parse, with the status mapping of the rest of the API.

// DefaultKnowledgeBase is the knowledge base offered when
// Config.KnowledgeBases is empty.
const DefaultKnowledgeBase = "default"

// ModelAlias is accepted as a "model" everywhere and stands for the
// first knowledge base, so that clients configured with a fixed model
// name work against any Quarry.
const ModelAlias = "quarry"

type knowledgeBaseKey struct{}

// KnowledgeBase returns the knowledge base a request works on (see
// kb.go), for a ResolveFunc to pick the backend with and for
// middleware; "" on routes outside a knowledge base.
func KnowledgeBase(ctx context.Context) string {
	kb, _ := ctx.Value(knowledgeBaseKey{}).(string)
	return kb
}

// checkKnowledgeBases validates Config.KnowledgeBases.
func checkKnowledgeBases(kbs []string) error {
	seen := map[string]bool{}
	for i, kb := range kbs {
		switch {
		case strings.TrimSpace(kb) == "" || kb != strings.TrimSpace(kb):
			return quarry.Errorf(quarry.CodeInvalid, "server: KnowledgeBases[%d] %q must be a non-blank name without surrounding spaces", i, kb)
		case seen[kb]:
			return quarry.Errorf(quarry.CodeInvalid, "server: KnowledgeBases lists %q twice", kb)
		}
		seen[kb] = true
	}
	return nil
}

// openAIRoutes registers the OpenAI-compatible routes on r.
func (s *Server) openAIRoutes(r chi.Router) {
	created := time.Now().Unix()
	s.api(r, GroupAsk, s.chatKB).Post("/v1/chat/completions", s.handleChatCompletions)
	models := s.api(r, GroupModels, nil)
	models.Get("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		list := modelListJSON{Object: "list", Data: []modelJSON{}}
		for _, kb := range s.knowledgeBases(r.Context()) {
			if !knowledgeBaseAllowed(r.Context(), kb) || s.allowKB(r, kb, "") != nil {
				continue // only the knowledge bases the caller's key may use
			}
			list.Data = append(list.Data, modelJSON{ID: kb, Object: "model", Created: created, OwnedBy: "quarry"})
		}
		s.writeJSON(w, r, http.StatusOK, list)
	})
	models.Get("/v1/models/{model}", func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "model")
		kb, ok := s.knowledgeBase(r.Context(), id)
		if !ok || !knowledgeBaseAllowed(r.Context(), kb) {
			s.failOpenAI(w, r, errUnknownModel(id))
			return
		}
		if err := s.allowKB(r, kb, ""); err != nil {
			s.failOpenAI(w, r, err)
			return
		}
		s.writeJSON(w, r, http.StatusOK, modelJSON{ID: id, Object: "model", Created: created, OwnedBy: "quarry"})
	})
}

// modelNotFound marks the error for an unknown model, which OpenAI
// reports with code "model_not_found".
type modelNotFound struct{ model string }

func (e modelNotFound) Error() string { return "unknown model " + e.model }

func errUnknownModel(model string) error {
	return &quarry.Error{
		Code: quarry.CodeNotFound,
		Message: fmt.Sprintf("the model %q does not exist: models name knowledge bases (GET /v1/models lists them; %q stands for the default)",
			model, ModelAlias),
		Err: modelNotFound{model},
	}
}

// handleChatCompletions serves POST /v1/chat/completions.
func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	var in chatRequestJSON
	if err := decodeOpenAIJSON(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.failOpenAI(w, r, err)
		return
	}
	call, err := in.toCall()
	if err != nil {
		s.failOpenAI(w, r, err)
		return
	}
	kb, ok := s.knowledgeBase(r.Context(), in.Model)
	if !ok {
		s.failOpenAI(w, r, errUnknownModel(in.Model))
		return
	}
	if err := s.allowKB(r, kb, auth.ScopeAsk); err != nil {
		s.failOpenAI(w, r, err)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), knowledgeBaseKey{}, kb))
	b, err := s.backend(r)
	if err != nil {
		s.failOpenAI(w, r, err)
		return
	}
	if b.Asker == nil {
		s.failOpenAI(w, r, errNoBackend("answering"))
		return
	}
	asker := s.observed(b.Asker, s.askMeta(r, kb, quarry.ChannelOpenAI, ""))
	head := chunkHead{ID: "chatcmpl-" + rand.Text(), Created: time.Now().Unix(), Model: in.Model}
	if call.stream {
		s.streamCompletion(w, r, asker, call, head)
		return
	}

	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	ans, err := asker.Ask(ctx, call.req, func(quarry.Event) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	})
	if err != nil {
		s.failOpenAI(w, r, classify(ctx, err))
		return
	}
	out := completionJSON{
		ID: head.ID, Object: "chat.completion", Created: head.Created, Model: head.Model,
		Choices: []choiceJSON{{
			Message:      chatMessageOut{Role: "assistant", Content: ans.Text},
			FinishReason: "stop",
		}},
		Usage:  s.usage(call, ans.Text),
		Quarry: toQuarryExtra(ans, call.notes),
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// usage estimates token counts in cl100k_base when a counter is
// configured: the caller's messages as the prompt (the passages Quarry
// adds are its own business) and the answer as the completion.
func (s *Server) usage(call chatCall, answer string) *usageJSON {
	if s.cfg.CountTokens == nil {
		return nil
	}
	u := &usageJSON{CompletionTokens: s.cfg.CountTokens(answer)}
	for _, m := range call.req.History {
		u.PromptTokens += s.cfg.CountTokens(m.Content)
	}
	u.PromptTokens += s.cfg.CountTokens(call.req.Question)
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// streamCompletion runs asker and relays its answer as
// chat.completion.chunk Server-Sent Events: a first chunk with the
// assistant role, one chunk per text delta, a final chunk with
// finish_reason "stop" and the "quarry" field, a usage chunk when the
// caller asked for one (stream_options.include_usage), then
// "data: [DONE]". As for /v1/ask, the stream opens with the first event
// of the Asker, so an error before it is a plain JSON error with its
// status; a later error ends the stream with a data line holding the
// error body (which OpenAI clients raise), without [DONE].
func (s *Server) streamCompletion(w http.ResponseWriter, r *http.Request, asker Asker, call chatCall, head chunkHead) {
	ctx, cancelTimeout := s.withTimeout(r.Context(), s.cfg.StreamTimeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	st := &chunkStream{sseStream: newSSEStream(w, cancel), head: head}
	defer st.close()
	send := func(ev quarry.Event) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		switch ev.Type {
		case quarry.EventPassages:
			return st.open()
		case quarry.EventDelta:
			return st.content(ev.Delta)
		case quarry.EventDone:
			return st.markDone()
		case quarry.EventError:
			return quarry.Errorf(quarry.CodeInternal, "asker sent an error event: return the error from Ask instead")
		}
		// Citations travel in the final chunk; other events have no
		// place in this API.
		return nil
	}

	ans, err := asker.Ask(ctx, call.req, send)
	started := st.close()
	if err != nil {
		err = classify(ctx, err)
		if !started {
			s.failOpenAI(w, r, err)
			return
		}
		body := openAIErrorBody(err)
		s.logError(r, statusOf(quarry.ErrorCode(err)), err)
		st.final(body)
		return
	}
	st.finish(ans, toQuarryExtra(ans, call.notes), call.includeUsage, s.usage(call, ans.Text))
}

// chunkHead is what every chunk of one completion repeats.
type chunkHead struct {
	ID      string
	Created int64
	Model   string
}

// chunkStream writes chat.completion.chunk events. Its methods are safe
// for concurrent use, since an Asker may send from its own goroutines.
type chunkStream struct {
	sseStream // started: headers and the role chunk are out
	head      chunkHead
	sent      string // the content sent so far
}

func (st *chunkStream) chunk(delta deltaJSON, finish *string) chunkJSON {
	return chunkJSON{
		ID: st.head.ID, Object: "chat.completion.chunk", Created: st.head.Created, Model: st.head.Model,
		Choices: []chunkChoiceJSON{{Delta: delta, FinishReason: finish}},
	}
}

// open sends the role chunk if it has not been sent.
func (st *chunkStream) open() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.usableLocked("role"); err != nil {
		return err
	}
	return st.openLocked()
}

func (st *chunkStream) openLocked() error {
	if st.started {
		return st.err
	}
	empty := ""
	return st.writeLocked(st.chunk(deltaJSON{Role: "assistant", Content: &empty}, nil))
}

func (st *chunkStream) content(text string) error {
	if text == "" {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.usableLocked("delta"); err != nil {
		return err
	}
	return st.contentLocked(text)
}

func (st *chunkStream) contentLocked(text string) error {
	if err := st.openLocked(); err != nil {
		return err
	}
	if err := st.writeLocked(st.chunk(deltaJSON{Content: &text}, nil)); err != nil {
		return err
	}
	st.sent += text
	return nil
}

// finish writes, after close, the rest of the answer text (all of it
// for an Asker that streamed none), the final chunk, the usage chunk if
// asked for, and [DONE].
func (st *chunkStream) finish(ans quarry.Answer, extra quarryExtraJSON, includeUsage bool, usage *usageJSON) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if rest, ok := strings.CutPrefix(ans.Text, st.sent); ok && rest != "" {
		if st.contentLocked(rest) != nil {
			return
		}
	} else if err := st.openLocked(); err != nil {
		return
	}
	stop := "stop"
	last := st.chunk(deltaJSON{}, &stop)
	last.Quarry = &extra
	if st.writeLocked(last) != nil {
		return
	}
	if includeUsage {
		u := usage
		if u == nil {
			u = &usageJSON{}
		}
		c := st.chunk(deltaJSON{}, nil)
		c.Choices = []chunkChoiceJSON{}
		c.Usage = u
		if st.writeLocked(c) != nil {
			return
		}
	}
	_ = st.writeRawLocked([]byte("data: [DONE]\n\n"), "chunk")
}

// final writes an error body as the last event, after close.
func (st *chunkStream) final(body openAIErrorJSON) {
	st.mu.Lock()
	defer st.mu.Unlock()
	_ = st.writeLocked(body) // a failure means the client is gone
}

func (st *chunkStream) writeLocked(v any) error {
	if st.err != nil {
		return st.err
	}
	data, err := marshal(v)
	if err != nil {
		return quarry.Errorf(quarry.CodeInternal, "encode chunk: %w", err)
	}
	// data is one line of JSON ending in "\n"; the blank line ends the
	// event.
	st.buf = append(st.buf[:0], "data: "...)
	st.buf = append(st.buf, data...)
	st.buf = append(st.buf, '\n')
	return st.writeRawLocked(st.buf, "chunk")
}

// failOpenAI answers r with err in OpenAI's error shape.
func (s *Server) failOpenAI(w http.ResponseWriter, r *http.Request, err error) {
	body := openAIErrorBody(err)
	status := statusOf(quarry.ErrorCode(err))
	s.logError(r, status, err)
	s.writeJSON(w, r, status, body)
}

// openAIErrorJSON is OpenAI's error body.
type openAIErrorJSON struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// openAIErrorBody returns what a caller may see of err, in OpenAI's
// shape: the caller's mistakes are "invalid_request_error", refused keys
// "authentication_error" (401) or "permission_error" (403), limits
// "rate_limit_error", the rest "server_error"; the code is the quarry code (or OpenAI's
// "model_not_found").
func openAIErrorBody(err error) openAIErrorJSON {
	code := quarry.ErrorCode(err)
	d := openAIErrorDetail{Message: quarry.ErrorMessage(err), Type: "server_error", Code: string(code)}
	switch code {
	case quarry.CodeInvalid, quarry.CodeNotFound, quarry.CodeConflict, quarry.CodeTooLarge, quarry.CodeUnsupported:
		d.Type = "invalid_request_error"
	case quarry.CodeUnauthenticated:
		d.Type = "authentication_error"
	case quarry.CodeForbidden:
		d.Type = "permission_error"
	case quarry.CodeRateLimited:
		d.Type = "rate_limit_error"
	}
	var mnf modelNotFound
	if errors.As(err, &mnf) {
		d.Code = "model_not_found"
		param := "model"
		d.Param = &param
	}
	return openAIErrorJSON{Error: d}
}

// decodeOpenAIJSON is decodeJSON without the refusal of unknown fields:
// OpenAI clients send parameters (temperature, top_p, user...) that
// mean nothing to a knowledge base and are ignored.
func decodeOpenAIJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	return decodeBody(w, r, limit, dst, false)
}

// chatRequestJSON is the part of an OpenAI chat completion request that
// Quarry reads; other parameters are accepted and ignored.
type chatRequestJSON struct {
	Model         string            `json:"model"`
	Messages      []chatMessageJSON `json:"messages"`
	Stream        bool              `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N *int `json:"n"`
}

type chatMessageJSON struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// chatCall is a validated chat completion request.
type chatCall struct {
	req          quarry.AskRequest
	stream       bool
	includeUsage bool
	notes        []string // about the request, added to the answer's
}

func (in chatRequestJSON) toCall() (chatCall, error) {
	if strings.TrimSpace(in.Model) == "" {
		return chatCall{}, quarry.Errorf(quarry.CodeInvalid, `field "model" is required: it names the knowledge base (GET /v1/models lists them)`)
	}
	if in.N != nil && *in.N != 1 {
		return chatCall{}, quarry.Errorf(quarry.CodeInvalid, `field "n" must be 1: Quarry gives one grounded answer, got %d`, *in.N)
	}
	if len(in.Messages) == 0 {
		return chatCall{}, quarry.Errorf(quarry.CodeInvalid, `field "messages" is required: send at least the user's question`)
	}
	call := chatCall{stream: in.Stream, includeUsage: in.Stream && in.StreamOptions != nil && in.StreamOptions.IncludeUsage}
	last := len(in.Messages) - 1
	if in.Messages[last].Role != "user" {
		return chatCall{}, quarry.Errorf(quarry.CodeInvalid, `messages[%d]: the last message must be the user's question (role "user"), got role %q`, last, in.Messages[last].Role)
	}
	var ignored []string
	for i, m := range in.Messages {
		text, err := messageText(m.Content)
		if err != nil {
			return chatCall{}, quarry.Errorf(quarry.CodeInvalid, "messages[%d]: %w", i, err)
		}
		switch m.Role {
		case "user", "assistant":
		case "system", "developer", "tool", "function":
			// Instructions are Quarry's own: retrieved text and callers
			// never override the grounding. Tool turns answer calls
			// Quarry never makes.
			ignored = append(ignored, m.Role)
			continue
		default:
			return chatCall{}, quarry.Errorf(quarry.CodeInvalid, `messages[%d]: field "role" must be "system", "user" or "assistant", got %q`, i, m.Role)
		}
		if i == last {
			call.req.Question = strings.TrimSpace(text)
			continue
		}
		if strings.TrimSpace(text) != "" {
			call.req.History = append(call.req.History, quarry.Message{Role: m.Role, Content: text})
		}
	}
	if call.req.Question == "" {
		return chatCall{}, quarry.Errorf(quarry.CodeInvalid, "messages[%d]: the user's question is blank", last)
	}
	if len(ignored) > 0 {
		call.notes = append(call.notes, fmt.Sprintf(
			"%d %s message(s) ignored: Quarry answers from the knowledge base under its own instructions", len(ignored), strings.Join(uniq(ignored), "/")))
	}
	return call, nil
}

// messageText returns the text of a message's content: a string, or an
// array of content parts of which only text parts are accepted.
func messageText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, `field "content" must be a string or an array of text parts`)
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", quarry.Errorf(quarry.CodeInvalid, `content[%d]: only text parts are supported, got type %q`, j, p.Type)
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}

func uniq(xs []string) []string {
	var out []string
	for _, x := range xs {
		dup := false
		for _, o := range out {
			dup = dup || o == x
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// Response wire types.

type modelListJSON struct {
	Object string      `json:"object"`
	Data   []modelJSON `json:"data"`
}

type modelJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type completionJSON struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []choiceJSON    `json:"choices"`
	Usage   *usageJSON      `json:"usage,omitempty"`
	Quarry  quarryExtraJSON `json:"quarry"`
}

type choiceJSON struct {
	Index        int            `json:"index"`
	Message      chatMessageOut `json:"message"`
	FinishReason string         `json:"finish_reason"`
}

type chatMessageOut struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chunkJSON struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []chunkChoiceJSON `json:"choices"`
	Usage   *usageJSON        `json:"usage,omitempty"`
	Quarry  *quarryExtraJSON  `json:"quarry,omitempty"`
}

type chunkChoiceJSON struct {
	Index        int       `json:"index"`
	Delta        deltaJSON `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

type deltaJSON struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// quarryExtraJSON is the "quarry" field of a completion and of the
// final chunk of a stream.
type quarryExtraJSON struct {
	AnswerID       string         `json:"answer_id,omitempty"`
	ConversationID string         `json:"conversation_id,omitempty"`
	Handoff        *handoffJSON   `json:"handoff,omitempty"`
	Answered       bool           `json:"answered"`
	Grounded       bool           `json:"grounded"`
	Lang           string         `json:"lang"`
	Citations      []citationJSON `json:"citations"`
	Notes          []string       `json:"notes"`
}

func toQuarryExtra(a quarry.Answer, notes []string) quarryExtraJSON {
	all := append(append([]string{}, a.Notes...), notes...)
	return quarryExtraJSON{
		AnswerID:       a.AnswerID,
		ConversationID: a.ConversationID,
		Handoff:        toHandoff(a.Handoff),
		Answered:       a.Answered,
		Grounded:       a.Grounded,
		Lang:           a.Lang,
		Citations:      toCitations(a.Citations),
		Notes:          all,
	}
}
