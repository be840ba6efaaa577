package strategy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/strategy/webhook"
	"github.com/quarry-kb/quarry/strategy/webhook/webhooktest"
)

// fakeAsker answers questions about refunds and declines the rest.
type fakeAsker struct {
	mu    sync.Mutex
	asked []string
	ctxs  []context.Context
}

func (f *fakeAsker) Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
	f.mu.Lock()
	f.asked = append(f.asked, req.Question)
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	ans := quarry.Answer{Text: "I don't know.", Lang: Lang(req.Question), Citations: []quarry.Citation{}}
	if strings.Contains(strings.ToLower(req.Question), "refund") || strings.Contains(req.Question, "退款") {
		ans = quarry.Answer{Text: "Refunds take 5 days [1].", Answered: true, Grounded: true, Lang: "en",
			Citations: []quarry.Citation{{N: 1, DocID: "refunds", Path: "refunds.md"}}}
	}
	if send != nil {
		for _, ev := range []quarry.Event{{Type: quarry.EventPassages}, {Type: quarry.EventDelta, Delta: ans.Text},
			{Type: quarry.EventCitations, Citations: ans.Citations}, {Type: quarry.EventDone, Answer: &ans}} {
			if err := send(ev); err != nil {
				return quarry.Answer{}, err
			}
		}
	}
	return ans, nil
}

func (f *fakeAsker) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

// hookServer is a local webhook receiver that verifies signatures.
type hookServer struct {
	*httptest.Server
	t        *testing.T
	secret   string
	mu       sync.Mutex
	statuses []int // answers to successive requests; the last repeats
	got      []Handoff
	requests int
}

func newHookServer(t *testing.T, secret string, statuses ...int) *hookServer {
	h := &hookServer{t: t, secret: secret, statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhooktest.Verify(secret, r.Header, body); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var e Handoff
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.mu.Lock()
		status := 200
		if len(h.statuses) > 0 {
			status = h.statuses[min(h.requests, len(h.statuses)-1)]
		}
		h.requests++
		if status < 300 {
			h.got = append(h.got, e)
		}
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) counts() (requests int, delivered []Handoff) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, append([]Handoff(nil), h.got...)
}

type fixture struct {
	svc   *Service
	next  *fakeAsker
	store *Store
	hooks *webhook.Dispatcher
	path  string
}

const testSecret = "test-secret"

func newFixture(t *testing.T, file string) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := NewStore(path, analyzer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.New(webhook.Config{Backoff: 5 * time.Millisecond})
	t.Cleanup(func() { d.Close() })
	next := &fakeAsker{}
	svc, err := New(Config{KB: "default", Strategies: store, Next: next, Notifier: NotifierFunc(func(h Webhook, e Handoff) {
		d.Post(webhook.Target{URL: h.URL, Secret: testSecret, Timeout: h.Timeout, MaxAttempts: h.MaxAttempts}, "escalation", e.ID, e)
	})})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, next: next, store: store, hooks: d, path: path}
}

func (f *fixture) ask(t *testing.T, conv, q string) quarry.Answer {
	t.Helper()
	ctx := WithConversation(context.Background(), Conversation{ID: conv, Channel: "test"})
	ans, err := f.svc.Ask(ctx, quarry.AskRequest{Question: q}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func strategyFile(hookURL string, extra string) string {
	return `curated:
  - id: reset-password
    questions: ["How do I reset my password?", "如何重置密码？"]
    answer: "Tap Account › Security › Reset password."
    source: https://help.example.com/password
blocked:
  - topics: [stock price]
    reply: Not here.
escalation:
  handoff: {en: "A colleague will take over.", zh: "已为您转接人工客服。"}
  webhook:
    url: ` + hookURL + `
    max_attempts: 3
` + extra
}

func TestStrategyAnswersBeforeRetrieval(t *testing.T) {
	f := newFixture(t, strategyFile("http://127.0.0.1:1/unused", ""))
	for _, tc := range []struct {
		name, q, kind, text string
		answered            bool
	}{
		{"curated english", "how can I reset my password", "curated", "Tap Account › Security › Reset password.", true},
		{"curated chinese", "如何重置密码", "curated", "Tap Account › Security › Reset password.", true},
		{"blocked", "What is the stock price?", "blocked", "Not here.", false},
		{"small talk zh", "你好", "small_talk", defaultGreetingChinese, true},
		{"small talk en", "thanks!", "small_talk", defaultThanksEnglish, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.next.calls()
			ans := f.ask(t, tc.name, tc.q)
			if ans.Strategy != tc.kind || ans.Text != tc.text || ans.Answered != tc.answered {
				t.Errorf("answer = %+v", ans)
			}
			if f.next.calls() != before {
				t.Error("the question went to retrieval too")
			}
		})
	}
	ans := f.ask(t, "c", "How do I reset my router?")
	if ans.Strategy != "" || f.next.calls() != 1 {
		t.Errorf("near miss answered by the strategy: %+v", ans)
	}
	cur := f.ask(t, "c", "How do I reset my password?")
	if len(cur.Citations) != 1 || cur.Citations[0].Path != "https://help.example.com/password" || !cur.Grounded {
		t.Errorf("curated citation = %+v", cur.Citations)
	}
	if fig := f.svc.Figures(); fig.Curated != 3 || fig.Blocked != 1 || fig.SmallTalk != 2 {
		t.Errorf("figures %+v", fig)
	}
}

func TestCuratedAnswerStreams(t *testing.T) {
	f := newFixture(t, strategyFile("http://127.0.0.1:1/unused", ""))
	var types []string
	var text string
	ans, err := f.svc.Ask(context.Background(), quarry.AskRequest{Question: "How do I reset my password?"}, func(ev quarry.Event) error {
		types = append(types, ev.Type)
		text += ev.Delta
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(types, ",") != "passages,delta,citations,done" || text != ans.Text {
		t.Errorf("events %v, text %q", types, text)
	}
}

func TestPersonaReachesTheAnswerer(t *testing.T) {
	f := newFixture(t, "persona: Be brief and sign as Kiki.\n")
	f.ask(t, "c", "How long do refunds take?")
	if got := generate.Persona(f.next.ctxs[0]); got != "Be brief and sign as Kiki." {
		t.Errorf("persona in the answerer's context = %q", got)
	}
}

type escalationCase struct {
	name     string
	extra    string
	turns    []string // questions, in one conversation
	statuses []int
	reason   string
	handoff  int // index of the turn that hands off
	requests int
}

// escalationCases are the ways to hand off, each against a receiver
// that accepts at once (one request: a 200 is not retried) and one that
// fails first (two requests: a 500 is retried).
func escalationCases() []escalationCase {
	var cases []escalationCase
	for _, c := range []escalationCase{
		{name: "by decline", extra: "  on_decline: true\n", turns: []string{"How much does the hub weigh?"}, reason: ReasonDeclined},
		{name: "by request in english", turns: []string{"I want to talk to a human"}, reason: ReasonRequested},
		{name: "by request, agent", turns: []string{"agent"}, reason: ReasonRequested},
		{name: "by request in chinese", turns: []string{"转人工"}, reason: ReasonRequested},
		{name: "by request, 人工客服", turns: []string{"我要人工客服"}, reason: ReasonRequested},
		{name: "after N declines", extra: "  after_declines: 3\n", turns: []string{"What is a flux?", "How long do refunds take?", "Who are you?", "Where is Mars?"}, reason: ReasonDeclines, handoff: 3},
	} {
		ok, retried := c, c
		ok.name, ok.statuses, ok.requests = c.name+", 200 not retried", []int{200}, 1
		retried.name, retried.statuses, retried.requests = c.name+", retried after a 500", []int{500, 200}, 2
		cases = append(cases, ok, retried)
	}
	return append(cases, escalationCase{name: "given up after max attempts", turns: []string{"agent"}, statuses: []int{503}, reason: ReasonRequested, requests: 3})
}

func TestEscalation(t *testing.T) {
	for _, tc := range escalationCases() {
		t.Run(tc.name, func(t *testing.T) {
			hook := newHookServer(t, testSecret, tc.statuses...)
			f := newFixture(t, strategyFile(hook.URL, tc.extra))
			for i, q := range tc.turns {
				ans := f.ask(t, "conv-1", q)
				if (i == tc.handoff) != (ans.Strategy == "handoff") {
					t.Errorf("turn %d %q: strategy %q", i, q, ans.Strategy)
				}
				if i == tc.handoff && !strings.HasSuffix(ans.Text, map[string]string{"en": "A colleague will take over.", "zh": "已为您转接人工客服。"}[Lang(q)]) {
					t.Errorf("hand-off text = %q", ans.Text)
				}
			}
			// Asking again in the same conversation: the hand-off text
			// again, but no second webhook call.
			if ans := f.ask(t, "conv-1", "转人工"); ans.Strategy != "handoff" {
				t.Errorf("second request: %+v", ans)
			}
			f.hooks.Wait()
			requests, got := hook.counts()
			if requests != tc.requests {
				t.Errorf("%d webhook requests, want %d", requests, tc.requests)
			}
			st := f.hooks.Stats()
			if tc.statuses[len(tc.statuses)-1] < 300 {
				if len(got) != 1 || st.Delivered != 1 || st.Failed != 0 {
					t.Fatalf("delivered %d, stats %+v", len(got), st)
				}
				e := got[0]
				if e.Reason != tc.reason || e.Conversation != "conv-1" || e.KB != "default" || e.Channel != "test" {
					t.Errorf("payload %+v", e)
				}
				last := tc.turns[tc.handoff]
				var sawQuestion bool
				for _, turn := range e.Transcript {
					sawQuestion = sawQuestion || turn.Content == last
				}
				if !sawQuestion || e.Transcript[len(e.Transcript)-1].Role != "assistant" || len(e.Transcript) < 2*(tc.handoff+1) {
					t.Errorf("transcript %+v", e.Transcript)
				}
			} else if st.Failed != 1 || st.Delivered != 0 {
				t.Errorf("stats %+v", st)
			}
			if fig := f.svc.Figures(); fig.Escalations[tc.reason] != 1 || fig.EscalationsSkipped != 1 {
				t.Errorf("figures %+v", fig)
			}
		})
	}
}

func TestDeclineHandoffStreams(t *testing.T) {
	hook := newHookServer(t, testSecret)
	f := newFixture(t, strategyFile(hook.URL, "  on_decline: true\n"))
	var text string
	var done *quarry.Answer
	ans, err := f.svc.Ask(context.Background(), quarry.AskRequest{Question: "How much does it weigh?"}, func(ev quarry.Event) error {
		text += ev.Delta
		if ev.Type == quarry.EventDone {
			if done != nil {
				t.Error("two done events")
			}
			done = ev.Answer
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "I don't know.\n\nA colleague will take over."
	if ans.Text != want || text != want || done == nil || done.Text != want || done.Strategy != "handoff" {
		t.Errorf("answer %q, streamed %q, done %+v", ans.Text, text, done)
	}
}

func TestStoreReload(t *testing.T) {
	f := newFixture(t, strategyFile("http://127.0.0.1:1/x", ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.store.Watch(ctx, 20*time.Millisecond)

	q := "What are your opening hours?"
	if ans := f.ask(t, "a", q); ans.Strategy != "" {
		t.Fatalf("before: %+v", ans)
	}
	// A new curated answer is picked up without a restart.
	good := strategyFile("http://127.0.0.1:1/x", "") + `small_talk: {off: true}
`
	good = strings.Replace(good, "curated:\n", "curated:\n  - id: hours\n    questions: [\"What are your opening hours?\", \"营业时间是什么时候？\"]\n    answer: \"9:00-18:00, Monday to Friday.\"\n", 1)
	writeFile(t, f.path, good)
	waitFor(t, func() bool { return f.ask(t, "a", q).Strategy == "curated" })
	if ans := f.ask(t, "a", "营业时间是什么时候"); ans.Text != "9:00-18:00, Monday to Friday." {
		t.Errorf("chinese phrasing: %+v", ans)
	}

	// A file with an error is rejected with its line; the previous
	// strategy stays in force.
	bad := strings.Replace(good, "    answer: \"9:00-18:00, Monday to Friday.\"\n", "", 1)
	writeFile(t, f.path, bad)
	waitFor(t, func() bool { return f.store.LastError() != nil })
	err := f.store.LastError()
	if !errors.Is(err, quarry.ErrInvalid) || !strings.Contains(err.Error(), f.path+":2: curated[0] (hours) has no answer") {
		t.Errorf("error = %v", err)
	}
	if ans := f.ask(t, "a", q); ans.Strategy != "curated" {
		t.Errorf("previous strategy not in force: %+v", ans)
	}
	if _, err := f.store.Reload(); err == nil {
		t.Error("Reload accepted the bad file")
	}
	// Fixed: picked up again.
	writeFile(t, f.path, strategyFile("http://127.0.0.1:1/x", ""))
	waitFor(t, func() bool { return f.ask(t, "a", q).Strategy == "" })
	if f.store.LastError() != nil {
		t.Errorf("error after the fix: %v", f.store.LastError())
	}
}

func TestStoreMissingFileIsDefault(t *testing.T) {
	s, err := NewStore(filepath.Join(t.TempDir(), FileName), analyzer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Current(); st == nil || st.Path != "" || SmallTalkKind("你好") == "" {
		t.Errorf("default strategy %+v", st)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStoreWaitsForAFileBeingWritten(t *testing.T) {
	f := newFixture(t, strategyFile("http://127.0.0.1:1/x", ""))
	// An editor truncates the file, then writes it: the empty file in
	// between is valid, and must not be served.
	if err := os.WriteFile(f.path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The editor finishes while the store waits for the file to settle.
	f.store.sleep = func(time.Duration) {
		if err := os.WriteFile(f.path, []byte(strategyFile("http://127.0.0.1:1/x", "  on_decline: true\n")), 0o644); err != nil {
			t.Error(err)
		}
	}
	changed, err := f.store.ReloadSettled(300 * time.Millisecond)
	if err != nil || changed {
		t.Fatalf("changed %v, err %v: a file still being written was taken", changed, err)
	}
	if len(f.store.Current().File.Curated) != 1 {
		t.Fatal("the previous strategy is not in force")
	}
	f.store.sleep = func(time.Duration) {} // the file stays as it is
	changed, err = f.store.ReloadSettled(50 * time.Millisecond)
	if err != nil || !changed || !f.store.Current().File.Escalation.OnDecline {
		t.Errorf("the finished file was not taken: %v %v", changed, err)
	}
}

// A declined answer carries the strategy's contact (the widget's
// hand-off), in the question's language; an answered one does not.
func TestContactOnDeclinedAnswers(t *testing.T) {
	f := newFixture(t, `blocked:
  - topics: [stock price]
escalation:
  contact:
    message: {en: "Write to us.", zh: "请给我们写信。"}
    url: https://help.example.com/contact
    email: support@example.com
`)
	want := func(msg string) *quarry.Handoff {
		return &quarry.Handoff{Message: msg, URL: "https://help.example.com/contact", Email: "support@example.com"}
	}
	for _, tc := range []struct {
		q    string
		want *quarry.Handoff
	}{
		{"How much does the hub weigh?", want("Write to us.")},
		{"集线器有多重？", want("请给我们写信。")},
		{"What is the stock price?", want("Write to us.")},
		{"How long do refunds take?", nil},
		{"hello", nil},
	} {
		ans := f.ask(t, "c-"+tc.q, tc.q)
		if (ans.Handoff == nil) != (tc.want == nil) || (tc.want != nil && *ans.Handoff != *tc.want) {
			t.Errorf("%q: handoff %+v, want %+v", tc.q, ans.Handoff, tc.want)
		}
	}
	// Streamed: the done event carries it too.
	var done *quarry.Answer
	if _, err := f.svc.Ask(context.Background(), quarry.AskRequest{Question: "How much does it weigh?"}, func(ev quarry.Event) error {
		if ev.Type == quarry.EventDone {
			done = ev.Answer
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if done == nil || done.Handoff == nil || *done.Handoff != *want("Write to us.") {
		t.Errorf("done event %+v", done)
	}
	// Without a contact, nothing: the server's handoff.json applies.
	g := newFixture(t, "escalation:\n  handoff: Over to a colleague.\n")
	if ans := g.ask(t, "c", "How much does the hub weigh?"); ans.Handoff != nil {
		t.Errorf("handoff without a contact: %+v", ans.Handoff)
	}
}
