package server

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
)

// ConversationLog is what the server needs from the conversation log
// (convlog.Log): it records every answered or declined question and the
// feedback on it.
type ConversationLog interface {
	Record(ctx context.Context, t quarry.Turn) error
	Get(ctx context.Context, answerID string) (quarry.Turn, error)
	SetFeedback(ctx context.Context, answerID string, f quarry.Feedback) error
	// HashClient returns what the log keeps instead of a client address.
	HashClient(addr string) string
}

// turnMeta is what the server knows about a question besides the
// question itself.
type turnMeta struct {
	kb, channel, keyID, origin, client, conversationID string
}

// askMeta gathers a request's turnMeta. conversationID is the caller's
// ("" starts a conversation); channel is the one the caller claims
// (api or widget; a key bound to an origin is always the widget).
func (s *Server) askMeta(r *http.Request, kb, channel, conversationID string) turnMeta {
	m := turnMeta{kb: kb, channel: channel, conversationID: conversationID}
	if c, _ := r.Context().Value(callerKey{}).(*caller); c != nil {
		m.keyID = c.key.ID
		if c.key.Origin != "" {
			m.origin = c.key.Origin
			if m.channel != quarry.ChannelOpenAI {
				m.channel = quarry.ChannelWidget
			}
		}
	}
	if m.origin == "" && m.channel == quarry.ChannelWidget {
		m.origin = r.Header.Get("Origin")
	}
	if m.conversationID == "" {
		m.conversationID = "conv_" + rand.Text()
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		m.client = host
	} else {
		m.client = r.RemoteAddr
	}
	return m
}

// requestKB is the knowledge base a request is about: the {kb} of its
// path, the model of a chat completion, or the default.
func requestKB(r *http.Request) string {
	if kb := KnowledgeBase(r.Context()); kb != "" {
		return kb
	}
	if kb := chi.URLParam(r, KBParam); kb != "" {
		return kb
	}
	return DefaultKnowledgeBase
}

// checkConversationID accepts what a client may name a conversation by.
func checkConversationID(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > 64 {
		return quarry.Errorf(quarry.CodeInvalid, `field "conversation_id" must be at most 64 characters`)
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return quarry.Errorf(quarry.CodeInvalid, `field "conversation_id" may hold only letters, digits, "_" and "-"`)
		}
	}
	return nil
}

type conversationKey struct{}

// Conversation returns the conversation id and channel of the request
// an Asker is answering ("" outside one), so that decorators (the reply
// strategy's escalation) can follow a conversation.
func Conversation(ctx context.Context) (id, channel string) {
	v, _ := ctx.Value(conversationKey{}).([2]string)
	return v[0], v[1]
}

// observed wraps an Asker: it gives every answer an id, a conversation
// and, when declined, the knowledge base's hand-off; then it logs the
// turn and counts it in the metrics. It is the server's logging
// decorator: the answerer itself knows nothing of logs. The turn is
// committed before Ask returns, so before the stream's done event or
// the JSON answer is written: an answer a client has seen is in the log.
func (s *Server) observed(inner Asker, m turnMeta) Asker {
	return observedAsker{s: s, inner: inner, m: m}
}

type observedAsker struct {
	s     *Server
	inner Asker
	m     turnMeta
}

func (a observedAsker) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	ctx = context.WithValue(ctx, conversationKey{}, [2]string{a.m.conversationID, a.m.channel})
	id := "ans_" + rand.Text()
	var handoff *quarry.Handoff
	if a.s.cfg.Handoff != nil {
		handoff = a.s.cfg.Handoff(a.m.kb)
	}
	stamp := func(ans *quarry.Answer) {
		ans.AnswerID, ans.ConversationID = id, a.m.conversationID
		if !ans.Answered && ans.Handoff == nil {
			ans.Handoff = handoff
		}
	}
	wrapped := send
	if send != nil {
		wrapped = func(ev quarry.Event) error {
			if ev.Type == quarry.EventDone && ev.Answer != nil {
				ans := *ev.Answer
				stamp(&ans)
				ev.Answer = &ans
			}
			return send(ev)
		}
	}
	start := time.Now()
	ans, err := a.inner.Ask(ctx, req, wrapped)
	latency := time.Since(start)
	a.s.cfg.Metrics.observeAnswer(a.m.kb, ans, err, latency)
	if err != nil {
		return ans, err
	}
	stamp(&ans)
	if l := a.s.cfg.Conversations; l != nil {
		t := quarry.Turn{
			AnswerID: id, ConversationID: a.m.conversationID, Time: start, KB: a.m.kb, Channel: a.m.channel,
			KeyID: a.m.keyID, Origin: a.m.origin, ClientHash: l.HashClient(a.m.client),
			Question: req.Question, Query: ans.Query, Answer: ans.Text, Answered: ans.Answered, Lang: ans.Lang,
			Citations: ans.Citations, LatencyMS: float64(latency.Microseconds()) / 1000,
		}
		// The turn is logged even if the client has just left: the
		// answer was made.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := l.Record(rctx, t); err != nil {
			// The asker keeps the answer; the operator sees the error.
			a.s.log.LogAttrs(ctx, slog.LevelError, "conversation log: record turn",
				slog.String("request_id", RequestID(ctx)), slog.String("error", err.Error()))
			a.s.cfg.Metrics.logFailed()
		}
		cancel()
	}
	return ans, nil
}

// feedbackRequestJSON is the body of POST /v1/kb/{kb}/feedback.
type feedbackRequestJSON struct {
	AnswerID string `json:"answer_id"`
	Rating   string `json:"rating"`
	Comment  string `json:"comment"`
}

type feedbackResponseJSON struct {
	AnswerID string `json:"answer_id"`
	Rating   string `json:"rating"`
}

// maxCommentRunes caps a feedback comment.
const maxCommentRunes = 2000

// handleFeedback serves POST /v1/kb/{kb}/feedback (and /v1/feedback for
// the default knowledge base): thumbs up or down, with an optional
// comment, on an answer in the log. A key bound to a web origin may rate
// only answers given to that origin; an answer of another knowledge base
// is not found.
func (s *Server) handleFeedback(w http.ResponseWriter, r *http.Request) {
	l := s.cfg.Conversations
	if l == nil {
		s.fail(w, r, errNoBackend("the conversation log"))
		return
	}
	var in feedbackRequestJSON
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	in.AnswerID = strings.TrimSpace(in.AnswerID)
	switch {
	case in.AnswerID == "":
		s.fail(w, r, quarry.Errorf(quarry.CodeInvalid, `field "answer_id" is required`))
		return
	case in.Rating != quarry.RatingUp && in.Rating != quarry.RatingDown:
		s.fail(w, r, quarry.Errorf(quarry.CodeInvalid, `field "rating" must be %q or %q, got %q`, quarry.RatingUp, quarry.RatingDown, in.Rating))
		return
	case len([]rune(in.Comment)) > maxCommentRunes:
		s.fail(w, r, quarry.Errorf(quarry.CodeTooLarge, `field "comment" must be at most %d characters`, maxCommentRunes))
		return
	}
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	kb := requestKB(r)
	t, err := l.Get(ctx, in.AnswerID)
	if err == nil && t.KB != kb {
		err = quarry.Errorf(quarry.CodeNotFound, "no answer with id %q in knowledge base %q", in.AnswerID, kb)
	}
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	if c, _ := r.Context().Value(callerKey{}).(*caller); c != nil && c.key.Origin != "" && c.key.Origin != t.Origin {
		s.fail(w, r, quarry.Errorf(quarry.CodeForbidden, "this key may rate only answers given to %s", c.key.Origin))
		return
	}
	if err := l.SetFeedback(ctx, in.AnswerID, quarry.Feedback{Rating: in.Rating, Comment: strings.TrimSpace(in.Comment)}); err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.cfg.Metrics.observeFeedback(kb, in.Rating)
	s.writeJSON(w, r, http.StatusOK, feedbackResponseJSON{AnswerID: in.AnswerID, Rating: in.Rating})
}

// Observe wraps inner with the server's logging decorator, for channels
// that answer outside the server's own routes (the WeChat channel): each
// answer gets an answer id, joins conversationID ("" starts one), and is
// logged under kb and channel and counted in the metrics. client is the
// asker's address or account, kept only as a salted hash.
func (s *Server) Observe(inner Asker, kb, channel, conversationID, client string) Asker {
	return s.observed(inner, turnMeta{kb: kb, channel: channel, conversationID: cmpOr(conversationID, "conv_"+rand.Text()), client: client})
}
