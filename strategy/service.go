package strategy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
)

// Asker answers a request (generate.Asker; the knowledge base's
// answering service).
type Asker interface {
	Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)
}

// Source gives the strategy in force (*Store does).
type Source interface {
	Current() *Strategy
}

// Escalation reasons.
const (
	ReasonRequested = "requested" // the customer asked for a person
	ReasonDeclined  = "declined"  // Quarry could not answer
	ReasonDeclines  = "declines"  // Quarry could not answer, N times in the conversation
)

// Turn is one message of a conversation transcript.
type Turn struct {
	Role    string    `json:"role"` // "user" or "assistant"
	Content string    `json:"content"`
	At      time.Time `json:"at,omitzero"`
}

// Handoff is a hand-off to a person: the webhook's JSON body.
type Handoff struct {
	ID           string    `json:"id"` // unique per hand-off; the same on every delivery attempt
	Event        string    `json:"event"`
	KB           string    `json:"kb"`
	Conversation string    `json:"conversation"`
	Channel      string    `json:"channel"`
	User         string    `json:"user,omitempty"`
	Reason       string    `json:"reason"`
	Question     string    `json:"question"`
	Declines     int       `json:"declines"`
	Transcript   []Turn    `json:"transcript"`
	CreatedAt    time.Time `json:"created_at"`
}

// Notifier tells the outside world about a hand-off (the webhook
// dispatcher). Notify must not block on the network.
type Notifier interface {
	Notify(hook Webhook, e Handoff)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(hook Webhook, e Handoff)

// Notify calls f.
func (f NotifierFunc) Notify(hook Webhook, e Handoff) { f(hook, e) }

// Transcripts gives a conversation's earlier turns, oldest first, from
// a conversation log, when one is kept.
type Transcripts interface {
	Transcript(ctx context.Context, conversation string) ([]Turn, error)
}

// Conversation identifies the conversation a request belongs to.
type Conversation struct {
	ID      string // stable for the conversation; "" means the request stands alone
	Channel string // "api", "wechat", "widget"...
	User    string // the channel's user id, if any (a WeChat OpenID)
}

type convKey struct{}

// WithConversation returns a context carrying c, for Service.Ask.
func WithConversation(ctx context.Context, c Conversation) context.Context {
	return context.WithValue(ctx, convKey{}, c)
}

// ConversationFrom returns the conversation in ctx, if any.
func ConversationFrom(ctx context.Context) (Conversation, bool) {
	c, ok := ctx.Value(convKey{}).(Conversation)
	return c, ok
}

// Config configures a Service.
type Config struct {
	KB         string   // the knowledge base's name, for escalations
	Strategies Source   // required
	Next       Asker    // the answering service; required
	Notifier   Notifier // nil: hand-offs are replied to but nobody is told
	// Transcripts, when set, supplies transcripts for hand-offs (the
	// conversation log); otherwise the Service's own memory of recent
	// turns and the request's history are used.
	Transcripts Transcripts
	Logger      *slog.Logger
	// MaxConversations bounds the conversations remembered (decline
	// counts, recent turns); default 10000. ConversationTTL is how long
	// an idle one is remembered; default 24h.
	MaxConversations int
	ConversationTTL  time.Duration
	now              func() time.Time
}

// Figures counts what the strategy did, for metrics and the dashboard.
type Figures struct {
	Curated            int64            `json:"curated"`
	Blocked            int64            `json:"blocked"`
	SmallTalk          int64            `json:"small_talk"`
	Declines           int64            `json:"declines"`
	Escalations        map[string]int64 `json:"escalations"` // by reason
	EscalationsSkipped int64            `json:"escalations_already_sent"`
}

// Service is the reply-strategy decorator around an answering service:
// requests for a person, blocked topics, small talk and curated answers
// are answered from the strategy, before retrieval; everything else goes
// to Next, and a decline may hand the conversation off.
type Service struct {
	cfg   Config
	log   *slog.Logger
	convs *conversations

	curated, blocked, smallTalk, declines, skipped atomic.Int64
	escalations                                    sync.Map // reason → *atomic.Int64
}

var _ generate.Asker = (*Service)(nil)

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Strategies == nil || cfg.Next == nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "strategy: Config needs Strategies and Next")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConversations <= 0 {
		cfg.MaxConversations = 10000
	}
	if cfg.ConversationTTL <= 0 {
		cfg.ConversationTTL = 24 * time.Hour
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &Service{cfg: cfg, log: cfg.Logger, convs: newConversations(cfg.MaxConversations, cfg.ConversationTTL, cfg.now)}, nil
}

// Figures returns the counts so far.
func (s *Service) Figures() Figures {
	f := Figures{
		Curated: s.curated.Load(), Blocked: s.blocked.Load(), SmallTalk: s.smallTalk.Load(),
		Declines: s.declines.Load(), EscalationsSkipped: s.skipped.Load(), Escalations: map[string]int64{},
	}
	s.escalations.Range(func(k, v any) bool {
		f.Escalations[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return f
}

// Ask answers req (see generate.Asker).
func (s *Service) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	st := s.cfg.Strategies.Current()
	q := strings.TrimSpace(req.Question)
	if st == nil || q == "" || !utf8.ValidString(q) {
		return s.cfg.Next.Ask(ctx, req, send) // it says what is wrong
	}
	conv, ok := ConversationFrom(ctx)
	if !ok || conv.ID == "" {
		conv.ID = "req-" + randomID()
		if conv.Channel == "" {
			conv.Channel = "api"
		}
	}
	lang := Lang(q)
	s.convs.add(conv.ID, Turn{Role: "user", Content: q, At: s.cfg.now()})

	escalating := st.escalationOn()
	switch {
	case escalating && st.WantsHuman(q):
		return s.handoff(ctx, st, conv, req, ReasonRequested, lang, "", send)
	}
	if b, ok := st.MatchBlocked(q); ok {
		s.blocked.Add(1)
		return s.reply(ctx, st, conv, quarry.Answer{Text: BlockedReply(b, lang), Lang: lang, Strategy: string(KindBlocked),
			Notes: []string{"the question is on a topic this knowledge base does not discuss"}}, send)
	}
	if !st.File.SmallTalk.Off {
		if kind := SmallTalkKind(q); kind != "" {
			s.smallTalk.Add(1)
			return s.reply(ctx, st, conv, quarry.Answer{Text: st.SmallTalkReply(kind, lang), Answered: true, Lang: lang,
				Strategy: string(KindSmallTalk)}, send)
		}
	}
	if m, ok := st.MatchCurated(q); ok {
		s.curated.Add(1)
		return s.reply(ctx, st, conv, curatedAnswer(m, lang), send)
	}

	// Retrieval. The done event is held back: a decline may turn into
	// a hand-off, whose text is added before the stream ends.
	var held *quarry.Answer
	inner := send
	if send != nil {
		inner = func(ev quarry.Event) error {
			if ev.Type == quarry.EventDone && ev.Answer != nil {
				a := *ev.Answer
				held = &a
				return nil
			}
			return send(ev)
		}
	}
	ans, err := s.cfg.Next.Ask(generate.WithPersona(ctx, st.File.Persona), req, inner)
	if err != nil {
		return ans, err
	}
	if !ans.Answered {
		s.declines.Add(1)
		n := s.convs.decline(conv.ID)
		e := st.File.Escalation
		reason := ""
		switch {
		case !escalating:
		case e.OnDecline:
			reason = ReasonDeclined
		case e.AfterDeclines > 0 && n >= e.AfterDeclines:
			reason = ReasonDeclines
		}
		if reason != "" {
			hand := s.escalate(ctx, st, conv, req, reason, lang, ans.Text)
			if send != nil {
				if err := send(quarry.Event{Type: quarry.EventDelta, Delta: hand.Text[len(ans.Text):]}); err != nil {
					return quarry.Answer{}, err
				}
			}
			hand.Citations, hand.Passages = ans.Citations, ans.Passages
			hand.Notes = append(ans.Notes[:len(ans.Notes):len(ans.Notes)], hand.Notes...)
			ans = hand
			if held != nil {
				done := hand
				held = &done
			}
		}
	}
	if !ans.Answered && ans.Handoff == nil {
		ans.Handoff = st.File.Escalation.Contact.Handoff(lang)
	}
	if held != nil && !held.Answered && held.Handoff == nil {
		held.Handoff = ans.Handoff
	}
	s.convs.add(conv.ID, Turn{Role: "assistant", Content: ans.Text, At: s.cfg.now()})
	if send != nil && held != nil {
		if err := send(quarry.Event{Type: quarry.EventDone, Answer: held}); err != nil {
			return quarry.Answer{}, err
		}
	}
	return ans, nil
}

// escalationOn reports whether the strategy hands off at all: it does
// once the file has an escalation section with a hand-off text or a
// webhook.
func (st *Strategy) escalationOn() bool {
	e := st.File.Escalation
	return !e.Handoff.empty() || e.Webhook.URL != "" || e.OnDecline || e.AfterDeclines > 0
}

// handoff answers with the hand-off text (after prefix, the decline, if
// any) and escalates.
func (s *Service) handoff(ctx context.Context, st *Strategy, conv Conversation, req quarry.AskRequest, reason, lang, prefix string, send func(quarry.Event) error) (quarry.Answer, error) {
	return s.reply(ctx, st, conv, s.escalate(ctx, st, conv, req, reason, lang, prefix), send)
}

// escalate records a hand-off, notifies once per conversation, and
// returns the hand-off answer.
func (s *Service) escalate(ctx context.Context, st *Strategy, conv Conversation, req quarry.AskRequest, reason, lang, prefix string) quarry.Answer {
	text := st.HandoffText(lang)
	if prefix != "" {
		text = prefix + "\n\n" + text
	}
	ans := quarry.Answer{Text: text, Lang: lang, Strategy: string(KindHandoff),
		Notes: []string{"handed off to a person (" + reason + ")"}}
	first, declines := s.convs.escalate(conv.ID)
	if !first {
		s.skipped.Add(1)
		ans.Notes[0] += "; the conversation was already handed off"
		return ans
	}
	counter, _ := s.escalations.LoadOrStore(reason, new(atomic.Int64))
	counter.(*atomic.Int64).Add(1)
	hook := st.File.Escalation.Webhook
	s.log.Info("escalation", "kb", s.cfg.KB, "conversation", conv.ID, "channel", conv.Channel, "reason", reason)
	if s.cfg.Notifier == nil || hook.URL == "" {
		return ans
	}
	e := Handoff{
		ID: randomID(), Event: "escalation", KB: s.cfg.KB, Conversation: conv.ID, Channel: conv.Channel, User: conv.User,
		Reason: reason, Question: strings.TrimSpace(req.Question), Declines: declines, CreatedAt: s.cfg.now().UTC(),
	}
	e.Transcript = s.transcript(ctx, conv.ID, req)
	e.Transcript = append(e.Transcript, Turn{Role: "assistant", Content: text, At: e.CreatedAt})
	s.cfg.Notifier.Notify(hook, e)
	return ans
}

// transcript is the conversation so far: from the log if there is
// one, else the request's history (when the caller keeps it) followed
// by the question, else the turns this Service saw.
func (s *Service) transcript(ctx context.Context, id string, req quarry.AskRequest) []Turn {
	if s.cfg.Transcripts != nil {
		turns, err := s.cfg.Transcripts.Transcript(ctx, id)
		if err == nil && len(turns) > 0 {
			if last := turns[len(turns)-1]; last.Role != "user" || last.Content != strings.TrimSpace(req.Question) {
				turns = append(turns, Turn{Role: "user", Content: strings.TrimSpace(req.Question), At: s.cfg.now().UTC()})
			}
			return turns
		}
		if err != nil {
			s.log.Warn("escalation: reading the conversation log", "conversation", id, "err", err)
		}
	}
	if len(req.History) > 0 {
		var turns []Turn
		for _, m := range req.History {
			turns = append(turns, Turn{Role: m.Role, Content: m.Content})
		}
		return append(turns, Turn{Role: "user", Content: strings.TrimSpace(req.Question), At: s.cfg.now().UTC()})
	}
	return s.convs.turns(id)
}

// reply sends a finished answer as a stream (no passages, one delta,
// citations, done) and records it. A declined one carries the
// strategy's contact.
func (s *Service) reply(ctx context.Context, st *Strategy, conv Conversation, ans quarry.Answer, send func(quarry.Event) error) (quarry.Answer, error) {
	if ans.Citations == nil {
		ans.Citations = []quarry.Citation{}
	}
	if !ans.Answered && ans.Handoff == nil {
		ans.Handoff = st.File.Escalation.Contact.Handoff(ans.Lang)
	}
	s.convs.add(conv.ID, Turn{Role: "assistant", Content: ans.Text, At: s.cfg.now()})
	if send == nil {
		return ans, nil
	}
	done := ans
	for _, ev := range []quarry.Event{
		{Type: quarry.EventPassages, Passages: []quarry.Passage{}},
		{Type: quarry.EventDelta, Delta: ans.Text},
		{Type: quarry.EventCitations, Citations: ans.Citations},
		{Type: quarry.EventDone, Answer: &done},
	} {
		if err := ctx.Err(); err != nil {
			return quarry.Answer{}, quarry.Errorf(quarry.CodeCanceled, "strategy: %w", err)
		}
		if err := send(ev); err != nil {
			return quarry.Answer{}, fmt.Errorf("strategy: send %s event: %w", ev.Type, err)
		}
	}
	return ans, nil
}

// CuratedDocPrefix starts the doc_id of a curated answer's citation.
const CuratedDocPrefix = "curated:"

func curatedAnswer(m Match, lang string) quarry.Answer {
	c := m.Curated
	snippet := c.Answer
	if r := []rune(snippet); len(r) > 200 {
		snippet = string(r[:200])
	}
	return quarry.Answer{
		Text: c.Answer, Answered: true, Grounded: true, Lang: lang, Strategy: string(KindCurated),
		Citations: []quarry.Citation{{N: 1, DocID: CuratedDocPrefix + c.ID, Path: c.Source, Title: c.Title,
			ChunkID: CuratedDocPrefix + c.ID, Snippet: snippet}},
		Notes: []string{fmt.Sprintf("curated answer %q (similarity %.2f)", c.ID, m.Score)},
	}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// conversations remembers recent conversations: their decline counts,
// whether they were handed off, and their last turns.
type conversations struct {
	mu  sync.Mutex
	m   map[string]*convState
	max int
	ttl time.Duration
	now func() time.Time
}

type convState struct {
	declines  int
	escalated bool
	turns     []Turn
	seen      time.Time
}

const maxTurnsKept = 40

func newConversations(max int, ttl time.Duration, now func() time.Time) *conversations {
	return &conversations{m: map[string]*convState{}, max: max, ttl: ttl, now: now}
}

func (c *conversations) get(id string) *convState {
	now := c.now()
	st, ok := c.m[id]
	if ok && now.Sub(st.seen) > c.ttl {
		ok = false
	}
	if !ok {
		if len(c.m) >= c.max {
			c.evict(now)
		}
		st = &convState{}
		c.m[id] = st
	}
	st.seen = now
	return st
}

// evict drops expired conversations, or the oldest half when none has.
func (c *conversations) evict(now time.Time) {
	for id, st := range c.m {
		if now.Sub(st.seen) > c.ttl {
			delete(c.m, id)
		}
	}
	if len(c.m) < c.max {
		return
	}
	var cut time.Time
	for _, st := range c.m {
		if cut.IsZero() || st.seen.Before(cut) {
			cut = st.seen
		}
	}
	mid := cut.Add(now.Sub(cut) / 2)
	for id, st := range c.m {
		if !st.seen.After(mid) {
			delete(c.m, id)
		}
	}
}

func (c *conversations) add(id string, t Turn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.get(id)
	st.turns = append(st.turns, t)
	if len(st.turns) > maxTurnsKept {
		st.turns = append(st.turns[:0:0], st.turns[len(st.turns)-maxTurnsKept:]...)
	}
}

func (c *conversations) decline(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.get(id)
	st.declines++
	return st.declines
}

// escalate marks the conversation handed off; first is false if it
// already was.
func (c *conversations) escalate(id string) (first bool, declines int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.get(id)
	first = !st.escalated
	st.escalated = true
	return first, st.declines
}

func (c *conversations) turns(id string) []Turn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Turn(nil), c.get(id).turns...)
}
