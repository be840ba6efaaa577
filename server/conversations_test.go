package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
	"github.com/quarry-kb/quarry/convlog"
)

func openConvlog(t testing.TB) *convlog.Log {
	t.Helper()
	l, err := convlog.Open(context.Background(), convlog.Config{Path: filepath.Join(t.TempDir(), convlog.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// logged is a server with a conversation log, metrics and keys of
// several kinds, on the default knowledge base.
type logged struct {
	h                         http.Handler
	log                       *convlog.Log
	metrics                   *Metrics
	ask, admin, widget, other string
	keyIDs                    map[string]string
	widgetOrigin, otherOrigin string
	answered                  bool     // whether the asker answers
	notes                     []string // the notes of its answers
	handoff                   *quarry.Handoff
}

func newLogged(t *testing.T, withKeys bool) *logged {
	t.Helper()
	lg := &logged{log: openConvlog(t), metrics: NewMetrics(), answered: true, keyIDs: map[string]string{},
		widgetOrigin: "https://shop.example", otherOrigin: "https://other.example",
		handoff: &quarry.Handoff{Message: "Write to us", Email: "help@shop.example"}}
	cfg := Config{
		Searcher: staticSearch(quarry.SearchResult{Notes: []string{"keyword leg failed: boom; results are vector-only"}}),
		Asker: askFunc(func(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error) {
			a := answer1
			if !lg.answered {
				a = quarry.Answer{Text: "I don't know.", Lang: "en"}
			}
			a.Notes = lg.notes
			if len(req.History) > 0 {
				a.Query = "standalone: " + req.Question
			}
			if err := send(quarry.Event{Type: quarry.EventDelta, Delta: a.Text}); err != nil {
				return quarry.Answer{}, err
			}
			return a, send(quarry.Event{Type: quarry.EventDone, Answer: &a})
		}),
		Conversations: lg.log, Reports: lg.log, Metrics: lg.metrics,
		Handoff: func(kb string) *quarry.Handoff {
			if kb == DefaultKnowledgeBase {
				return lg.handoff
			}
			return nil
		},
	}
	if withKeys {
		dir := t.TempDir()
		st := auth.NewStore(dir)
		mk := func(origin string, scopes ...auth.Scope) string {
			kb := "default"
			if scopes[0] == auth.ScopeAdmin {
				kb = auth.AllKBs // /metrics covers every knowledge base
			}
			key, secret, err := st.Create(auth.Spec{KB: kb, Scopes: scopes, Origin: origin})
			if err != nil {
				t.Fatal(err)
			}
			lg.keyIDs[secret] = key.ID
			return secret
		}
		lg.ask = mk("", auth.ScopeAsk, auth.ScopeSearch)
		lg.admin = mk("", auth.ScopeAdmin)
		lg.widget = mk(lg.widgetOrigin, auth.ScopeAsk)
		lg.other = mk(lg.otherOrigin, auth.ScopeAsk)
		ring, err := auth.NewKeyring(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Keys = ring
		cfg.RateLimit = RateLimit{PerKey: -1, PerAddr: -1}
	}
	lg.h = newServer(t, cfg).Handler()
	return lg
}

// askAs asks a question as key from origin and returns the answer.
func (lg *logged) askAs(t *testing.T, key, origin, body string, stream bool) answerJSON {
	t.Helper()
	hdr := []string{"Authorization", bearerHeader(key), "Origin", origin}
	if stream {
		hdr = append(hdr, "Accept", "text/event-stream")
	}
	w := do(t, lg.h, "POST", "/v1/ask", body, hdr...)
	if w.Code != http.StatusOK {
		t.Fatalf("ask: %d %s", w.Code, w.Body)
	}
	var a answerJSON
	if !stream {
		mustUnmarshal(t, w.Body.String(), &a)
		return a
	}
	evs := readSSE(t, w.Body)
	var done doneEventJSON
	mustUnmarshal(t, evs[len(evs)-1].Data, &done)
	return done.Answer
}

func TestAskIsLogged(t *testing.T) {
	ctx := context.Background()
	lg := newLogged(t, false)
	first := lg.askAs(t, "", "", `{"question": "How do I install?"}`, false)
	if !strings.HasPrefix(first.AnswerID, "ans_") || !strings.HasPrefix(first.ConversationID, "conv_") || first.Handoff != nil {
		t.Fatalf("first answer: %+v", first)
	}
	// A follow-up in the same conversation, streamed, from the widget.
	body := `{"question": "and on Windows?", "conversation_id": "` + first.ConversationID +
		`", "channel": "widget", "history": [{"role": "user", "content": "How do I install?"}, {"role": "assistant", "content": "Run make install."}]}`
	second := lg.askAs(t, "", "https://page.example", body, true)
	if second.ConversationID != first.ConversationID || second.AnswerID == first.AnswerID || second.AnswerID == "" {
		t.Fatalf("follow-up ids: %+v vs %+v", second, first)
	}
	lg.answered = false
	third := lg.askAs(t, "", "", `{"question": "Do you ship to Mars?"}`, true)
	if third.Answered || third.Handoff == nil || third.Handoff.Email != "help@shop.example" {
		t.Fatalf("declined answer should carry the hand-off: %+v", third)
	}

	turns, err := lg.log.Turns(ctx, quarry.TurnFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 3 {
		t.Fatalf("%d turns logged, want 3", len(turns))
	}
	for i, c := range []struct {
		a                  answerJSON
		question, query    string
		channel, origin    string
		answered           bool
		citations          int
		conversationShared bool
	}{
		{first, "How do I install?", "", "api", "", true, 1, true},
		{second, "and on Windows?", "standalone: and on Windows?", "widget", "https://page.example", true, 1, true},
		{third, "Do you ship to Mars?", "", "api", "", false, 0, false},
	} {
		tu := turns[i]
		if tu.AnswerID != c.a.AnswerID || tu.ConversationID != c.a.ConversationID || tu.Question != c.question ||
			tu.Query != c.query || tu.Channel != c.channel || tu.Origin != c.origin || tu.Answered != c.answered ||
			len(tu.Citations) != c.citations || tu.KB != "default" || tu.Answer != c.a.Answer || tu.LatencyMS <= 0 {
			t.Errorf("turn %d = %+v\nwant %+v", i, tu, c)
		}
		// httptest's client is 192.0.2.1: only its salted hash is kept.
		if tu.ClientHash == "" || strings.Contains(tu.ClientHash, "192.0.2.1") || tu.ClientHash != lg.log.HashClient("192.0.2.1") {
			t.Errorf("turn %d client hash %q", i, tu.ClientHash)
		}
	}
	if turns[0].Citations[0].Path != "guide/install.md" {
		t.Errorf("citations logged: %+v", turns[0].Citations)
	}
	w := do(t, lg.h, "POST", "/v1/ask", `{"question": "x", "conversation_id": "no spaces allowed"}`)
	if w.Code != http.StatusBadRequest {
		t.Errorf("bad conversation id: %d %s", w.Code, w.Body)
	}
}

func TestFeedback(t *testing.T) {
	ctx := context.Background()
	lg := newLogged(t, true)
	api := lg.askAs(t, lg.ask, "", `{"question": "q1"}`, false)
	mine := lg.askAs(t, lg.widget, lg.widgetOrigin, `{"question": "q2"}`, true)
	theirs := lg.askAs(t, lg.other, lg.otherOrigin, `{"question": "q3"}`, true)
	if err := lg.log.Record(ctx, quarry.Turn{AnswerID: "ans_shop", ConversationID: "c", KB: "shop", Channel: "api", Question: "q"}); err != nil {
		t.Fatal(err)
	}
	tu, _ := lg.log.Get(ctx, mine.AnswerID)
	if tu.Channel != quarry.ChannelWidget || tu.Origin != lg.widgetOrigin || tu.KeyID != lg.keyIDs[lg.widget] {
		t.Fatalf("widget turn = %+v", tu)
	}
	fb := func(id, rating, comment string) string {
		b, _ := json.Marshal(map[string]string{"answer_id": id, "rating": rating, "comment": comment})
		return string(b)
	}
	for _, c := range []struct {
		name, key, origin, body string
		status                  int
	}{
		{"up by the asker's key", lg.ask, "", fb(api.AnswerID, "up", ""), 200},
		{"down with a comment", lg.ask, "", fb(api.AnswerID, "down", "wrong policy"), 200},
		{"widget rates its own origin's answer", lg.widget, lg.widgetOrigin, fb(mine.AnswerID, "down", "too vague"), 200},
		{"widget may not rate another origin's answer", lg.widget, lg.widgetOrigin, fb(theirs.AnswerID, "up", ""), 403},
		{"widget may not rate an API answer", lg.widget, lg.widgetOrigin, fb(api.AnswerID, "up", ""), 403},
		{"widget key from another origin", lg.widget, lg.otherOrigin, fb(mine.AnswerID, "up", ""), 403},
		{"no key", "", "", fb(api.AnswerID, "up", ""), 401},
		{"admin key lacks ask", lg.admin, "", fb(api.AnswerID, "up", ""), 403},
		{"bad rating", lg.ask, "", fb(api.AnswerID, "meh", ""), 400},
		{"no answer id", lg.ask, "", fb("", "up", ""), 400},
		{"unknown answer", lg.ask, "", fb("ans_nope", "up", ""), 404},
		{"another knowledge base's answer", lg.ask, "", fb("ans_shop", "up", ""), 404},
		{"comment too long", lg.ask, "", fb(api.AnswerID, "up", strings.Repeat("x", 2001)), 413},
	} {
		w := do(t, lg.h, "POST", "/v1/feedback", c.body, "Authorization", bearerHeader(c.key), "Origin", c.origin)
		if w.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.status)
		}
	}
	got, _ := lg.log.Get(ctx, api.AnswerID)
	if got.Feedback == nil || got.Feedback.Rating != "down" || got.Feedback.Comment != "wrong policy" {
		t.Errorf("api answer feedback = %+v", got.Feedback)
	}
	got, _ = lg.log.Get(ctx, mine.AnswerID)
	if got.Feedback == nil || got.Feedback.Rating != "down" || got.Feedback.Comment != "too vague" {
		t.Errorf("widget answer feedback = %+v", got.Feedback)
	}
	got, _ = lg.log.Get(ctx, theirs.AnswerID)
	if got.Feedback != nil {
		t.Errorf("refused feedback was stored: %+v", got.Feedback)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	lg := newLogged(t, true)
	lg.askAs(t, lg.ask, "", `{"question": "q1"}`, false)
	lg.notes = []string{"vector leg failed: timeout; results are keyword-only"}
	a := lg.askAs(t, lg.ask, "", `{"question": "q2"}`, true)
	lg.answered, lg.notes = false, nil
	lg.askAs(t, lg.ask, "", `{"question": "q3"}`, false)
	if w := do(t, lg.h, "POST", "/v1/feedback", `{"answer_id": "`+a.AnswerID+`", "rating": "down"}`, "Authorization", bearerHeader(lg.ask)); w.Code != 200 {
		t.Fatalf("feedback: %d %s", w.Code, w.Body)
	}
	if w := do(t, lg.h, "GET", "/metrics", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("metrics without a key: %d", w.Code)
	}
	if w := do(t, lg.h, "GET", "/metrics", "", "Authorization", bearerHeader(lg.ask)); w.Code != http.StatusForbidden {
		t.Errorf("metrics with an ask key: %d", w.Code)
	}
	w := do(t, lg.h, "GET", "/metrics", "", "Authorization", bearerHeader(lg.admin))
	if w.Code != http.StatusOK {
		t.Fatalf("metrics: %d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		`quarry_questions_total{kb="default",outcome="answered"} 2`,
		`quarry_questions_total{kb="default",outcome="declined"} 1`,
		`quarry_feedback_total{kb="default",rating="down"} 1`,
		`quarry_retrieval_leg_failures_total{kb="default",leg="vector"} 1`,
		`quarry_http_requests_total{method="POST",route="/v1/ask",status="200"} 3`,
		`quarry_http_requests_total{method="GET",route="/metrics",status="401"} 1`,
		`quarry_http_request_duration_seconds_bucket{method="POST",route="/v1/feedback",status="200",le="+Inf"} 1`,
		`quarry_answer_duration_seconds_count{kb="default"} 3`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// A search whose keyword leg failed counts too.
	do(t, lg.h, "POST", "/v1/search", `{"query": "x"}`, "Authorization", bearerHeader(lg.ask))
	if !strings.Contains(do(t, lg.h, "GET", "/metrics", "", "Authorization", bearerHeader(lg.admin)).Body.String(),
		`quarry_retrieval_leg_failures_total{kb="default",leg="keyword"} 1`) {
		t.Error("a failed keyword leg in a search is not counted")
	}
}

func TestWidgetAsset(t *testing.T) {
	h := newServer(t, Config{Asker: streamingAsk(), Widget: true}).Handler()
	w := do(t, h, "GET", "/widget.js", "")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), widgetJS) {
		t.Fatalf("widget.js: %d, %d bytes", w.Code, w.Body.Len())
	}
	etag := w.Header().Get("ETag")
	if etag == "" || w.Header().Get("Cache-Control") != "public, max-age=300" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("headers: %v", w.Header())
	}
	if w := do(t, h, "GET", "/widget.js", "", "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("revalidation: %d, %d bytes", w.Code, w.Body.Len())
	}
	w = do(t, h, "GET", WidgetPath(), "")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || w.Header().Get("ETag") != etag {
		t.Errorf("versioned: %d %v", w.Code, w.Header())
	}
	if w := do(t, h, "GET", "/widget/000000000000/widget.js", ""); w.Code != 200 || strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("an old version's URL: %d %v", w.Code, w.Header())
	}
	w = do(t, h, "GET", "/widget.js", "", "Accept-Encoding", "gzip")
	if w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
		t.Errorf("gzip: %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if _, err := plain.ReadFrom(zr); err != nil || !bytes.Equal(plain.Bytes(), widgetJS) {
		t.Fatalf("gzipped body does not decode to the script: %v", err)
	}
	// The budget: 20 KB gzipped.
	t.Logf("widget.js: %d bytes, %d gzipped", len(widgetJS), len(widgetGz))
	if len(widgetGz) > 20*1024 {
		t.Errorf("widget.js is %d bytes gzipped, over the 20 KB budget", len(widgetGz))
	}
}

func TestObserveOtherChannels(t *testing.T) {
	l := openConvlog(t)
	s := newServer(t, Config{Asker: streamingAsk(), Conversations: l})
	a := s.Observe(streamingAsk(), "shop", quarry.ChannelWeChat, "wx-openid-1", "oABC123")
	ans, err := a.Ask(context.Background(), quarry.AskRequest{Question: "退货"}, func(quarry.Event) error { return nil })
	if err != nil || ans.AnswerID == "" || ans.ConversationID != "wx-openid-1" {
		t.Fatalf("%+v %v", ans, err)
	}
	tu, err := l.Get(context.Background(), ans.AnswerID)
	if err != nil || tu.Channel != "wechat" || tu.KB != "shop" || tu.ClientHash != l.HashClient("oABC123") {
		t.Fatalf("logged %+v %v", tu, err)
	}
}

// TestChatCompletionIsLogged: a question asked through the OpenAI-compatible
// endpoint is a turn of the log on the openai channel, under the answer id
// the completion carries, and can be rated.
func TestChatCompletionIsLogged(t *testing.T) {
	ctx := context.Background()
	lg := newLogged(t, false)
	w := do(t, lg.h, "POST", "/v1/chat/completions", chatBody("default", false, "user", "How do I install?"))
	if w.Code != http.StatusOK {
		t.Fatalf("completion: %d %s", w.Code, w.Body)
	}
	var c struct {
		Quarry quarryExtraJSON `json:"quarry"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	turns, err := lg.log.Turns(ctx, quarry.TurnFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 1 || c.Quarry.AnswerID == "" || turns[0].AnswerID != c.Quarry.AnswerID || turns[0].Channel != quarry.ChannelOpenAI ||
		turns[0].Question != "How do I install?" || turns[0].KB != "default" || !turns[0].Answered {
		t.Fatalf("completion %+v logged as %+v", c.Quarry, turns)
	}
	if w := do(t, lg.h, "POST", "/v1/feedback", `{"answer_id": "`+c.Quarry.AnswerID+`", "rating": "up"}`); w.Code != http.StatusOK {
		t.Errorf("feedback on a completion: %d %s", w.Code, w.Body)
	}
	if tu, _ := lg.log.Get(ctx, c.Quarry.AnswerID); tu.Feedback == nil || tu.Feedback.Rating != quarry.RatingUp {
		t.Errorf("feedback logged: %+v", tu.Feedback)
	}
}
