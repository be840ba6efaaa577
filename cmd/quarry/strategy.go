package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/channels/wechat"
	"github.com/quarry-kb/quarry/index/bleveindex"
	"github.com/quarry-kb/quarry/kb"
	"github.com/quarry-kb/quarry/server"
	"github.com/quarry-kb/quarry/strategy"
	"github.com/quarry-kb/quarry/strategy/webhook"
)

// Reply strategies (package strategy) wrap each knowledge base's
// answering service: curated answers, blocked topics, small talk and
// escalation run before retrieval. Each knowledge base's strategy is
// the file strategy.yaml in its folder of the data directory, reloaded
// when it changes; its channels (WeChat) are configured there too.

// strategies holds the reply strategies of the knowledge bases a
// server has been asked about, created on first use.
type strategies struct {
	data    string
	getenv  func(string) string
	log     *slog.Logger
	next    func(ctx context.Context, kb string) (strategy.Asker, error)
	analyze strategy.Analyzer
	hooks   *webhook.Dispatcher
	// observe, when set (serve sets it to the server's Observe), logs
	// the WeChat channel's turns in the conversation log and counts them
	// in the metrics, as the server does for its own routes; hashUser
	// (the log's salted HashClient) names a follower's conversation.
	// Both are set before the server serves.
	observe  func(inner server.Asker, kb, channel, conversationID, client string) server.Asker
	hashUser func(string) string

	mu  sync.Mutex
	kbs map[string]*kbStrategy
}

// kbStrategy is one knowledge base's strategy, its decorator and its
// WeChat channel (rebuilt when the channel's settings change).
type kbStrategy struct {
	name  string
	store *strategy.Store
	svc   *strategy.Service

	mu       sync.Mutex
	wcConfig strategy.WeChat
	wc       *wechat.Channel
}

// strategyPath is the strategy file of knowledge base kb.
func strategyPath(data, name string) string {
	return filepath.Join(kb.Root(data, name), strategy.FileName)
}

// newStrategies returns the strategies of the data directory's
// knowledge bases; next gives a knowledge base's answering service.
func newStrategies(data string, getenv func(string) string, log *slog.Logger, next func(ctx context.Context, kb string) (strategy.Asker, error)) (*strategies, error) {
	analyze, err := bleveindex.QueryTerms(bleveindex.Analyzer{})
	if err != nil {
		return nil, err
	}
	return &strategies{
		data: data, getenv: getenv, log: log, next: next, analyze: analyze,
		hooks: webhook.New(webhook.Config{Logger: log}),
		kbs:   map[string]*kbStrategy{},
	}, nil
}

// kb returns knowledge base name's strategy, loading it the first time.
func (s *strategies) kb(name string) (*kbStrategy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.kbs[name]; ok {
		return k, nil
	}
	store, err := strategy.NewStore(strategyPath(s.data, name), s.analyze, s.log)
	if err != nil {
		return nil, err
	}
	k := &kbStrategy{name: name, store: store}
	k.svc, err = strategy.New(strategy.Config{
		KB: name, Strategies: store, Logger: s.log,
		Next: askerFunc(func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
			a, err := s.next(ctx, name)
			if err != nil {
				return quarry.Answer{}, err
			}
			return a.Ask(ctx, req, send)
		}),
		Notifier: strategy.NotifierFunc(func(h strategy.Webhook, e strategy.Handoff) {
			var secret string
			if h.SecretEnv != "" {
				secret = s.getenv(h.SecretEnv)
			}
			s.hooks.Post(webhook.Target{URL: h.URL, Secret: secret, Timeout: h.Timeout, MaxAttempts: h.MaxAttempts}, "escalation", e.ID, e)
		}),
	})
	if err != nil {
		return nil, err
	}
	if st := store.Current(); st.Path != "" {
		s.log.Info("reply strategy loaded", "kb", name, "path", st.Path, "curated", len(st.File.Curated))
	}
	warnLegacyHandoff(s.log, s.data, name, store.Current())
	s.kbs[name] = k
	return k, nil
}

// cliStrategy wraps a knowledge base's answering service in its reply
// strategy for quarry ask, so the command answers as quarry serve does:
// curated answers, blocked topics, small talk, the persona, and the
// hand-off text. A question asked on the command line is an operator
// trying the knowledge base, not a customer's conversation: no webhook
// is posted (a note on stderr says what serve would have posted), and
// each question stands alone, so "after N declines" hands off only when
// N is 1.
func cliStrategy(data, name string, next strategy.Asker, stderr io.Writer) (strategy.Asker, error) {
	analyze, err := bleveindex.QueryTerms(bleveindex.Analyzer{})
	if err != nil {
		return nil, err
	}
	store, err := strategy.NewStore(strategyPath(data, name), analyze, nil)
	if err != nil {
		return nil, err
	}
	return strategy.New(strategy.Config{
		KB: name, Strategies: store, Next: next,
		Notifier: strategy.NotifierFunc(func(h strategy.Webhook, e strategy.Handoff) {
			fmt.Fprintf(stderr, "note: handed off (%s); quarry ask posts no webhook (quarry serve would post to %s)\n", e.Reason, h.URL)
		}),
	})
}

// legacyHandoff reads knowledge base name's handoff.json (the widget's
// hand-off file before escalation.contact): nil when there is none or
// it is unreadable (logged).
func legacyHandoff(log *slog.Logger, data, name string) *quarry.Handoff {
	return (&handoffs{data: data, log: log}).get(name)
}

// warnLegacyHandoff tells the operator, once per knowledge base loaded,
// that handoff.json is superseded by the strategy's escalation.contact:
// ignored when the strategy sets one, read for compatibility otherwise.
func warnLegacyHandoff(log *slog.Logger, data, name string, st *strategy.Strategy) {
	if legacyHandoff(log, data, name) == nil {
		return
	}
	path := filepath.Join(kb.Root(data, name), handoffFile)
	if !st.File.Escalation.Contact.Empty() {
		log.Warn("hand-off settings ignored: escalation.contact in the strategy file is the knowledge base's hand-off; remove the old file",
			"kb", name, "ignored", path)
		return
	}
	log.Warn("hand-off settings read from the old file for compatibility; move them to escalation.contact in the strategy file",
		"kb", name, "file", path, "strategy", strategyPath(data, name))
}

type askerFunc func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)

func (f askerFunc) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	return f(ctx, req, send)
}

// resolve wraps a resolver: the backend's answering service is the
// knowledge base's strategy, which calls the resolved one.
func (s *strategies) resolve(inner server.ResolveFunc) server.ResolveFunc {
	return func(r *http.Request) (server.Backend, error) {
		b, err := inner(r)
		if err != nil || b.Asker == nil {
			return b, err
		}
		name := server.KnowledgeBase(r.Context())
		if name == "" {
			name = kb.Default
		}
		k, err := s.kb(name)
		if err != nil {
			return server.Backend{}, err
		}
		b.Asker = askerFunc(func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
			if id, channel := server.Conversation(ctx); id != "" {
				ctx = strategy.WithConversation(ctx, strategy.Conversation{ID: id, Channel: channel})
			}
			return k.svc.Ask(ctx, req, send)
		})
		return b, nil
	}
}

// ReloadStrategy serves POST /v1/kb/{kb}/admin/reload.
func (s *strategies) ReloadStrategy(r *http.Request, name string) (any, error) {
	if err := checkKBName(name); err != nil {
		return nil, err
	}
	k, err := s.kb(name)
	if err != nil {
		return nil, err
	}
	changed, err := k.store.Reload()
	if err != nil {
		return nil, err
	}
	st := k.store.Current()
	var chans []string
	if st.File.Channels.WeChat != nil {
		chans = append(chans, "wechat")
	}
	return map[string]any{"kb": name, "changed": changed, "path": st.Path, "curated": len(st.File.Curated),
		"blocked": len(st.File.Blocked), "channels": chans}, nil
}

func checkKBName(name string) error {
	if name == "" || len(name) > 64 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || name[0] == '-' {
		return quarry.Errorf(quarry.CodeInvalid, "knowledge base name %q: lower-case letters, digits and '-'", name)
	}
	return nil
}

// channel serves /v1/channels/{channel}/{kb}.
func (s *strategies) channel(r *http.Request, channel, name string) (server.Channel, error) {
	if channel != "wechat" {
		return nil, quarry.Errorf(quarry.CodeNotFound, "no channel %q (Quarry has: wechat)", channel)
	}
	if err := checkKBName(name); err != nil {
		return nil, quarry.Errorf(quarry.CodeNotFound, "%w", err)
	}
	k, err := s.kb(name)
	if err != nil {
		return nil, err
	}
	return k.wechat(s)
}

// wechat returns the knowledge base's WeChat channel, rebuilt when its
// settings changed.
func (k *kbStrategy) wechat(s *strategies) (*wechat.Channel, error) {
	cfg := k.store.Current().File.Channels.WeChat
	if cfg == nil {
		return nil, quarry.Errorf(quarry.CodeNotFound, "knowledge base %s has no WeChat channel (channels.wechat in its %s)", k.name, strategy.FileName)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.wc != nil && reflect.DeepEqual(k.wcConfig, *cfg) {
		return k.wc, nil
	}
	var secret string
	if cfg.AppSecretEnv != "" {
		secret = s.getenv(cfg.AppSecretEnv)
	}
	wc, err := wechat.New(wechat.Config{
		KB: k.name, Token: cfg.Token, AppID: cfg.AppID, AppSecret: secret, EncodingAESKey: cfg.EncodingAESKey,
		APIBaseURL: cfg.APIBaseURL, MaxRunes: cfg.MaxRunes, Logger: s.log,
		Greeting:    bilingual(cfg.Greeting),
		Unsupported: bilingual(cfg.Unsupported),
		Context: func(ctx context.Context, openID string) context.Context {
			return strategy.WithConversation(ctx, strategy.Conversation{ID: s.wechatConversation(openID), Channel: quarry.ChannelWeChat, User: openID})
		},
	}, s.wechatAsker(k))
	if err != nil {
		return nil, err
	}
	if k.wc != nil {
		old := k.wc
		go old.Close()
	}
	k.wc, k.wcConfig = wc, *cfg
	return wc, nil
}

// bilingual is a WeChat text that is not a reply to a question (the
// greeting, the reply to an image): the follower's language is not
// known, so both when the file gives both, Chinese first; "" leaves the
// channel's default, which is bilingual too.
func bilingual(t strategy.Text) string {
	switch {
	case t.Zh != "" && t.En != "" && t.Zh != t.En:
		return t.Zh + "\n" + t.En
	case t.Zh != "":
		return t.Zh
	}
	return t.En
}

// wechatConversation is the conversation of a WeChat follower: one per
// follower, named by a hash of the OpenID (salted with the conversation
// log's salt when there is a log), so neither the log nor the server's
// own log lines hold an OpenID in clear.
func (s *strategies) wechatConversation(openID string) string {
	if s.hashUser != nil {
		return "wechat_" + s.hashUser("wechat:"+openID)
	}
	sum := sha256.Sum256([]byte("wechat:" + openID))
	return "wechat_" + hex.EncodeToString(sum[:12])
}

// wechatAsker answers a follower's message through the knowledge base's
// strategy and logs the turn (channel wechat, the follower's
// conversation, the OpenID only as the log's salted client hash).
func (s *strategies) wechatAsker(k *kbStrategy) wechat.Asker {
	return askerFunc(func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
		if s.observe == nil {
			return k.svc.Ask(ctx, req, send)
		}
		conv, _ := strategy.ConversationFrom(ctx)
		return s.observe(k.svc, k.name, quarry.ChannelWeChat, conv.ID, conv.User).Ask(ctx, req, send)
	})
}

// watch reloads the strategy files of the loaded knowledge bases when
// they change, until ctx is done.
func (s *strategies) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(cmpOr(every, strategy.DefaultPollInterval))
	defer t.Stop()
	bad := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		kbs := make([]*kbStrategy, 0, len(s.kbs))
		for _, k := range s.kbs {
			kbs = append(kbs, k)
		}
		s.mu.Unlock()
		for _, k := range kbs {
			changed, err := k.store.ReloadSettled(strategy.DefaultSettle)
			switch {
			case err != nil && bad[k.name] != err.Error():
				bad[k.name] = err.Error()
				s.log.Error("strategy file rejected; the previous strategy stays in force", "kb", k.name, "err", err)
			case err == nil && changed:
				delete(bad, k.name)
				s.log.Info("reply strategy reloaded", "kb", k.name, "curated", len(k.store.Current().File.Curated))
			case err == nil:
				delete(bad, k.name)
			}
		}
	}
}

// Figures are the strategies' counts and the webhook's, for metrics
// and the dashboard: escalation failures show here.
type strategyFigures struct {
	KnowledgeBases map[string]strategy.Figures `json:"knowledge_bases"`
	Webhook        webhook.Stats               `json:"webhook"`
	WeChat         map[string]wechat.Stats     `json:"wechat,omitempty"`
}

func (s *strategies) figures() strategyFigures {
	f := strategyFigures{KnowledgeBases: map[string]strategy.Figures{}, Webhook: s.hooks.Stats(), WeChat: map[string]wechat.Stats{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, k := range s.kbs {
		f.KnowledgeBases[name] = k.svc.Figures()
		k.mu.Lock()
		if k.wc != nil {
			f.WeChat[name] = k.wc.Stats()
		}
		k.mu.Unlock()
	}
	return f
}

// handoffFigures are the dashboard's hand-off card: the conversations
// handed off in knowledge base name ("" for all) and the webhook's
// deliveries (one dispatcher for every knowledge base).
func (s *strategies) handoffFigures(name string) server.HandoffFigures {
	f := s.figures()
	out := server.HandoffFigures{Delivered: f.Webhook.Delivered, Failed: f.Webhook.Failed, Pending: f.Webhook.Pending}
	for kb, k := range f.KnowledgeBases {
		if name == "" || kb == name {
			for _, n := range k.Escalations {
				out.Escalations += n
			}
		}
	}
	return out
}

// Close waits for hand-offs and late WeChat answers in flight.
func (s *strategies) Close() error {
	s.mu.Lock()
	var chans []*wechat.Channel
	for _, k := range s.kbs {
		k.mu.Lock()
		if k.wc != nil {
			chans = append(chans, k.wc)
		}
		k.mu.Unlock()
	}
	s.mu.Unlock()
	for _, c := range chans {
		c.Close()
	}
	return s.hooks.Close()
}

// printStrategy writes a knowledge base's effective strategy and
// channels (quarry kb show).
func printStrategy(w io.Writer, name string, st *strategy.Strategy, legacy *quarry.Handoff, llm bool, getenv func(string) string) {
	f := st.File
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("Knowledge base: %s", name)
	if st.Path == "" {
		p("Strategy file:  none (defaults); create %s to set one", strategy.FileName)
	} else {
		p("Strategy file:  %s", st.Path)
	}
	switch {
	case f.Persona == "":
		p("Persona:        none")
	case llm:
		p("Persona:        %q (added to the language model's instructions)", oneLine(f.Persona))
	default:
		p("Persona:        %q (ignored: the offline extractive answerer quotes passages; it applies with --llm-provider)", oneLine(f.Persona))
	}
	p("Curated:        %d answers, threshold %.2f (matched with the retrieval analyzers, English and Chinese)", len(f.Curated), st.Threshold())
	for _, c := range f.Curated {
		src := ""
		if c.Source != "" {
			src = " → " + c.Source
		}
		p("  - %s: %d phrasings, e.g. %q%s", c.ID, len(c.Questions), c.Questions[0], src)
	}
	p("Blocked:        %d topic sets", len(f.Blocked))
	for _, b := range f.Blocked {
		p("  - %s", strings.Join(b.Topics, ", "))
	}
	if f.SmallTalk.Off {
		p("Small talk:     off (greetings are searched like questions)")
	} else {
		p("Small talk:     on (greetings, thanks and goodbyes answered briefly)")
	}
	e := f.Escalation
	var rules []string
	if !e.OnRequestOff {
		rules = append(rules, "when the customer asks for a person")
	}
	if e.OnDecline {
		rules = append(rules, "on every decline")
	}
	if e.AfterDeclines > 0 {
		rules = append(rules, fmt.Sprintf("after %d declines in a conversation", e.AfterDeclines))
	}
	if e.Handoff.En == "" && e.Handoff.Zh == "" && e.Webhook.URL == "" && !e.OnDecline && e.AfterDeclines == 0 {
		p("Escalation:     off (no escalation section)")
	} else {
		p("Escalation:     %s", strings.Join(rules, "; "))
		p("  hand-off:     %q / %q", st.HandoffText("en"), st.HandoffText("zh"))
		if e.Webhook.URL == "" {
			p("  webhook:      none")
		} else {
			secret := "unsigned (no secret_env)"
			if e.Webhook.SecretEnv != "" {
				secret = "signed with $" + e.Webhook.SecretEnv
				if getenv(e.Webhook.SecretEnv) == "" {
					secret += " (NOT SET in this environment)"
				}
			}
			p("  webhook:      POST %s, %s", e.Webhook.URL, secret)
		}
	}
	contact := func(h *quarry.Handoff) string {
		var parts []string
		for _, s := range []string{h.Message, h.URL, h.Email} {
			if s != "" {
				parts = append(parts, fmt.Sprintf("%q", s))
			}
		}
		return strings.Join(parts, ", ")
	}
	switch c := e.Contact; {
	case !c.Empty():
		en, zh := c.Handoff("en"), c.Handoff("zh")
		line := contact(en)
		if zh.Message != en.Message {
			line += fmt.Sprintf(" (zh: %q)", zh.Message)
		}
		p("Contact:        %s, offered with every declined answer", line)
		if legacy != nil {
			p("  %s is ignored: escalation.contact replaces it; remove it", handoffFile)
		}
	case legacy != nil:
		p("Contact:        %s, from %s (deprecated: move it to escalation.contact in %s)", contact(legacy), handoffFile, strategy.FileName)
	default:
		p("Contact:        none (escalation.contact: a message, link or e-mail offered with declined answers)")
	}
	p("Channels:")
	p("  api:          /v1/kb/%s/ask, /v1/chat/completions (model %s)", name, name)
	if wc := f.Channels.WeChat; wc != nil {
		mode := "plain text"
		if wc.EncodingAESKey != "" {
			mode = "safe mode (AES)"
		}
		late := "late answers: customer-service API with AppID " + wc.AppID
		if wc.AppID == "" || wc.AppSecretEnv == "" {
			late = "late answers: not delivered (set app_id and app_secret_env)"
		} else if getenv(wc.AppSecretEnv) == "" {
			late += " ($" + wc.AppSecretEnv + " NOT SET in this environment)"
		}
		p("  wechat:       /v1/channels/wechat/%s, %s; %s", name, mode, late)
	} else {
		p("  wechat:       not configured")
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

// runKBShow is quarry kb show NAME: the knowledge base's effective
// reply strategy and channels. An invalid strategy file is an error
// naming its line.
func runKBShow(_ context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "kb show", "quarry kb show [flags] NAME",
		"Print the knowledge base's effective reply strategy (persona, curated answers, blocked topics,\n"+
			"small talk, escalation) and channels, from DATA/kb/NAME/"+strategy.FileName+".", &o)
	pf := providerFlags(fs, env, "llm")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	name := fs.Arg(0)
	if err := checkKBName(name); err != nil {
		return err
	}
	l, _, err := pf.validate()
	if err != nil {
		return err
	}
	analyze, err := bleveindex.QueryTerms(bleveindex.Analyzer{})
	if err != nil {
		return err
	}
	store, err := strategy.NewStore(strategyPath(o.Data, name), analyze, nil)
	if err != nil {
		return err
	}
	printStrategy(env.Stdout, name, store.Current(), legacyHandoff(slog.New(slog.NewTextHandler(env.Stderr, nil)), o.Data, name),
		l.Provider != "" && l.Provider != providerNone, env.Getenv)
	return nil
}
