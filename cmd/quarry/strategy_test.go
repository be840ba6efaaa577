package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/channels/wechat"
	"github.com/quarry-kb/quarry/kb"
	"github.com/quarry-kb/quarry/strategy"
	"github.com/quarry-kb/quarry/strategy/webhook"
	"github.com/quarry-kb/quarry/strategy/webhook/webhooktest"
)

// strategyDocs is a small help centre whose documents answer the
// curated question too, so a curated answer has retrieval to beat.
var strategyDocs = map[string]string{
	"account/password.md": "# Resetting your password\n\nTo reset your password, open Settings and choose Forgot password. We e-mail you a reset link that works for 24 hours.\n",
	"billing/refunds.md":  "# Refunds\n\nRefunds are issued within 5 business days after we receive the returned item.\n",
	"zh/密码.md":            "# 重置密码\n\n如需重置密码，请打开设置并选择忘记密码。我们会发送一封重置邮件，链接24小时内有效。\n",
}

const curatedAnswerText = "Open the Kestrel app and tap Account › Security › Reset password. 打开 Kestrel 应用，点击 账户 › 安全 › 重置密码。"

func strategyYAML(hookURL string, extra string) string {
	return `persona: Be brief.
curated:
  - id: reset-password
    questions:
      - How do I reset my password?
      - 如何重置密码？
    answer: "` + curatedAnswerText + `"
    source: https://help.example.com/password
    title: Password help
blocked:
  - topics: [stock price, 股价]
    reply: {en: "I can't discuss that.", zh: "抱歉，无法回答。"}
escalation:
  handoff: {en: "A colleague will take over.", zh: "已为您转接人工客服。"}
  after_declines: 2
  webhook:
    url: ` + hookURL + `
    secret_env: TEST_HOOK_SECRET
channels:
  wechat:
    token: wx-token
    greeting: 欢迎！
` + extra
}

type strategyAnswerJSON struct {
	Answer    string `json:"answer"`
	Answered  bool   `json:"answered"`
	Strategy  string `json:"strategy"`
	Citations []struct {
		DocID string `json:"doc_id"`
		Path  string `json:"path"`
		Title string `json:"title"`
	} `json:"citations"`
}

func (s *liveServer) ask(t *testing.T, q, conversation string) strategyAnswerJSON {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"question": q, "conversation_id": conversation})
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/ask", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out strategyAnswerJSON
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("ask %q: %d %s", q, resp.StatusCode, raw)
	}
	return out
}

// hookReceiver is a local webhook that verifies signatures.
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	fail     int // answer the first fail requests with 500
	got      []strategy.Handoff
}

func newHookReceiver(t *testing.T, secret string, fail int) *hookReceiver {
	h := &hookReceiver{fail: fail}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhooktest.Verify(secret, r.Header, body); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if h.requests <= h.fail {
			w.WriteHeader(500)
			return
		}
		var e strategy.Handoff
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.got = append(h.got, e)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) counts() (int, []strategy.Handoff) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, append([]strategy.Handoff(nil), h.got...)
}

// strategyKB ingests strategyDocs into a new data directory whose
// default knowledge base's strategy file posts hand-offs to a receiver
// that fails its first fail deliveries.
func strategyKB(t *testing.T, fail int) (data string, hook *hookReceiver) {
	t.Helper()
	src := t.TempDir()
	data = t.TempDir()
	writeFiles(t, src, strategyDocs)
	if _, stderr, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	hook = newHookReceiver(t, "hook-secret", fail)
	if err := os.WriteFile(strategyPath(data, kb.Default), []byte(strategyYAML(hook.URL, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return data, hook
}

func TestReplyStrategyEndToEnd(t *testing.T) {
	data, hook := strategyKB(t, 1)
	path := strategyPath(data, kb.Default)
	s := startServe(t, options{Data: data}, map[string]string{"TEST_HOOK_SECRET": "hook-secret"}, serveHooks{})

	// Without the strategy, retrieval answers the near miss from the
	// documents; the curated phrasings get the curated answer, verbatim.
	checkCurated := func(when string) {
		t.Helper()
		for _, q := range []string{"How can I reset my password?", "如何重置密码"} {
			a := s.ask(t, q, "")
			if a.Strategy != "curated" || a.Answer != curatedAnswerText || len(a.Citations) != 1 ||
				a.Citations[0].Path != "https://help.example.com/password" || a.Citations[0].DocID != "curated:reset-password" {
				t.Errorf("%s: %q got %+v", when, q, a)
			}
		}
	}
	checkCurated("first")
	near := s.ask(t, "How do I reset my router password link expiry?", "")
	if near.Strategy != "" || !near.Answered || len(near.Citations) == 0 || near.Citations[0].Path != "account/password.md" {
		t.Errorf("near miss not answered by retrieval from the documents: %+v", near)
	}
	if a := s.ask(t, "What is the stock price?", ""); a.Strategy != "blocked" || a.Answer != "I can't discuss that." {
		t.Errorf("blocked: %+v", a)
	}
	if a := s.ask(t, "你好", ""); a.Strategy != "small_talk" || !a.Answered {
		t.Errorf("small talk: %+v", a)
	}

	// Curated answers live outside the index: they survive reindex and
	// rollback.
	gen0 := s.status(t).Generation.Serving
	if _, stderr, code := runCLI(t, "reindex", "--data", data); code != 0 {
		t.Fatalf("reindex: %s", stderr)
	}
	waitUntil(t, 10*time.Second, "the server switches to the new generation", func() bool { return s.status(t).Generation.Serving != gen0 })
	checkCurated("after reindex")
	if _, stderr, code := runCLI(t, "rollback", "--data", data); code != 0 {
		t.Fatalf("rollback: %s", stderr)
	}
	waitUntil(t, 10*time.Second, "the server rolls back", func() bool { return s.status(t).Generation.Serving == gen0 })
	checkCurated("after rollback")

	// Escalation by request in Chinese: the hand-off text, and the
	// webhook once, retried after its 500.
	if a := s.ask(t, "转人工", "c-1"); a.Strategy != "handoff" || a.Answer != "已为您转接人工客服。" {
		t.Errorf("hand-off: %+v", a)
	}
	waitUntil(t, 10*time.Second, "the webhook delivery", func() bool { _, got := hook.counts(); return len(got) == 1 })
	// After two declines in another conversation.
	s.ask(t, "How much does the Kestrel Hub weigh in kilograms?", "c-2")
	if _, got := hook.counts(); len(got) != 1 {
		t.Errorf("escalated after one decline")
	}
	if a := s.ask(t, "Which colour options does the Kestrel Hub come in?", "c-2"); a.Strategy != "handoff" || a.Answered {
		t.Errorf("second decline: %+v", a)
	}
	waitUntil(t, 10*time.Second, "the second delivery", func() bool { _, got := hook.counts(); return len(got) == 2 })
	requests, got := hook.counts()
	if requests != 3 {
		t.Errorf("%d webhook requests, want 3 (one retry after the 500)", requests)
	}
	if got[0].Reason != strategy.ReasonRequested || got[0].Conversation != "c-1" || got[0].Channel != "api" || got[1].Reason != strategy.ReasonDeclines ||
		got[1].Declines != 2 || len(got[1].Transcript) != 4 {
		t.Errorf("hand-offs %+v", got)
	}

	// A new curated answer is picked up without a restart.
	hours := strings.Replace(strategyYAML(hook.URL, ""), "curated:\n", "curated:\n  - id: hours\n    questions: [\"What are your opening hours?\"]\n    answer: \"9 to 6, Monday to Friday.\"\n", 1)
	if err := os.WriteFile(path, []byte(hours), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the new curated answer", func() bool { return s.ask(t, "What are your opening hours?", "").Strategy == "curated" })

	// A file with an error is refused with its line; the previous
	// strategy stays in force.
	bad := strings.Replace(hours, "    answer: \"9 to 6, Monday to Friday.\"\n", "", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var errBody struct {
		Error struct{ Code, Message string }
	}
	code, err := s.call("POST", "/v1/kb/default/admin/reload", nil, &errBody)
	if err != nil || code != 400 || !strings.Contains(errBody.Error.Message, "strategy.yaml:3: curated[0] (hours) has no answer") {
		t.Errorf("reload of a bad file: %d %+v %v", code, errBody, err)
	}
	waitUntil(t, 10*time.Second, "the watcher logs the rejected file", func() bool { return strings.Contains(s.stderr.String(), "strategy.yaml:3:") })
	if a := s.ask(t, "What are your opening hours?", ""); a.Answer != "9 to 6, Monday to Friday." {
		t.Errorf("previous strategy not in force: %+v", a)
	}

	// The WeChat channel answers through the same strategy.
	msg := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[o-user]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[如何重置密码]]></Content><MsgId>42</MsgId></xml>`
	resp, err := http.Post("http://"+s.addr+"/v1/channels/wechat/default?"+wechat.VerifyQuery("wx-token", time.Now().Unix(), "77"), "text/xml", strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var reply wechat.Message
	if resp.StatusCode != 200 || xml.Unmarshal(raw, &reply) != nil || !strings.HasPrefix(reply.Content, curatedAnswerText) ||
		!strings.Contains(reply.Content, "https://help.example.com/password") {
		t.Errorf("wechat: %d %s", resp.StatusCode, raw)
	}
	// The dashboard's metrics show the hand-offs and the webhook's work.
	resp, err = http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`quarry_escalations_total{kb="default",reason="requested"} 1`, `quarry_escalations_total{kb="default",reason="declines"} 1`,
		`quarry_escalation_webhook_events_total{result="delivered"} 2`, `quarry_escalation_webhook_attempts_total 3`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// So does the dashboard.
	resp, err = http.Get("http://" + s.addr + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `<b id="handoffs">2</b>`) || !strings.Contains(string(raw), `id="webhook">webhook: 2 delivered · 0 failed</div>`) {
		t.Errorf("the dashboard lacks the hand-offs:\n%s", raw)
	}
	resp, err = http.Get("http://" + s.addr + "/v1/channels/wechat/default?signature=bad&timestamp=1&nonce=2&echostr=x")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("bad signature: %d", resp.StatusCode)
		}
	}
}

func TestKBShow(t *testing.T) {
	data := t.TempDir()
	path := strategyPath(data, "default")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(strategyYAML("https://hooks.example.com/x", "")), 0o644)
	out, stderr, code := runCLI(t, "kb", "show", "--data", data, "default")
	if code != 0 {
		t.Fatalf("%d %s", code, stderr)
	}
	for _, want := range []string{"Persona:        \"Be brief.\" (ignored: the offline extractive answerer", "reset-password: 2 phrasings",
		"stock price, 股价", "after 2 declines", "$TEST_HOOK_SECRET (NOT SET", "wechat:       /v1/channels/wechat/default, plain text"} {
		if !strings.Contains(out, want) {
			t.Errorf("kb show lacks %q:\n%s", want, out)
		}
	}
	os.WriteFile(path, []byte("curated:\n  - answer: x\n"), 0o644)
	if _, stderr, code := runCLI(t, "kb", "show", "--data", data, "default"); code == 0 || !strings.Contains(stderr, fmt.Sprintf("%s:2: curated[0] (curated-1) has no questions", path)) {
		t.Errorf("bad file: %d %s", code, stderr)
	}
}

func TestStrategyMetrics(t *testing.T) {
	hook := newHookReceiver(t, "s", 1000) // always 500: the delivery fails
	data := t.TempDir()
	path := strategyPath(data, kb.Default)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(strategyYAML(hook.URL, "")), 0o644)
	s, err := newStrategies(data, func(string) string { return "s" }, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.hooks = webhook.New(webhook.Config{Backoff: time.Millisecond})
	k, err := s.kb(kb.Default)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.svc.Ask(context.Background(), quarry.AskRequest{Question: "talk to a human"}, nil); err != nil {
		t.Fatal(err)
	}
	s.hooks.Wait()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(strategyCollector{s})
	want := `
# HELP quarry_escalation_webhook_events_total Hand-off webhook events by outcome: delivered, or failed after every retry.
# TYPE quarry_escalation_webhook_events_total counter
quarry_escalation_webhook_events_total{result="delivered"} 0
quarry_escalation_webhook_events_total{result="failed"} 1
# HELP quarry_escalations_total Conversations handed off to a person, by reason (requested, declined, declines).
# TYPE quarry_escalations_total counter
quarry_escalations_total{kb="default",reason="requested"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "quarry_escalation_webhook_events_total", "quarry_escalations_total"); err != nil {
		t.Error(err)
	}
	if n, _ := hook.counts(); n != webhook.DefaultMaxAttempts {
		t.Errorf("%d attempts, want %d", n, webhook.DefaultMaxAttempts)
	}
	s.Close()
}

// quarry ask answers through the knowledge base's reply strategy as
// serve does, but posts no webhook.
func TestAskAppliesStrategy(t *testing.T) {
	data, hook := strategyKB(t, 0)
	vars := map[string]string{"TEST_HOOK_SECRET": "hook-secret"}
	ask := func(args ...string) (quarry.Answer, string) {
		t.Helper()
		out, stderr, code := runCLIEnv(t, vars, append([]string{"ask", "--data", data, "--json"}, args...)...)
		var a quarry.Answer
		if code != 0 || json.Unmarshal([]byte(out), &a) != nil {
			t.Fatalf("ask %q: %d %s %s", args, code, out, stderr)
		}
		return a, stderr
	}
	for _, q := range []string{"How can I reset my password?", "如何重置密码"} {
		if a, _ := ask(q); a.Strategy != "curated" || a.Text != curatedAnswerText || len(a.Citations) != 1 || a.Citations[0].Path != "https://help.example.com/password" {
			t.Errorf("curated %q: %+v", q, a)
		}
	}
	// Without the strategy, retrieval answers the same questions from
	// the documents: the curated answer won over an answer there was.
	for q, doc := range map[string]string{"How can I reset my password?": "account/password.md", "如何重置密码": "zh/密码.md"} {
		if a, _ := ask("--no-strategy", q); a.Strategy != "" || !a.Answered || a.Text == curatedAnswerText ||
			len(a.Citations) == 0 || a.Citations[0].Path != doc {
			t.Errorf("--no-strategy %q: %+v", q, a)
		}
	}
	if a, _ := ask("What is the stock price?"); a.Strategy != "blocked" || a.Text != "I can't discuss that." {
		t.Errorf("blocked: %+v", a)
	}
	if a, _ := ask("thanks!"); a.Strategy != "small_talk" || !a.Answered {
		t.Errorf("small talk: %+v", a)
	}
	for q, want := range map[string]string{"talk to a human": "A colleague will take over.", "转人工": "已为您转接人工客服。"} {
		a, stderr := ask(q)
		if a.Strategy != "handoff" || a.Text != want || !strings.Contains(stderr, "quarry ask posts no webhook (quarry serve would post to "+hook.URL) {
			t.Errorf("hand-off %q: %+v, stderr %q", q, a, stderr)
		}
	}
	// The text output prints the curated answer and its source.
	out, _, code := runCLIEnv(t, vars, "ask", "--data", data, "How do I reset my password?")
	if code != 0 || !strings.HasPrefix(out, curatedAnswerText+"\n") || !strings.Contains(out, "[1] https://help.example.com/password") {
		t.Errorf("text output %d:\n%s", code, out)
	}
	if n, _ := hook.counts(); n != 0 {
		t.Errorf("quarry ask posted %d webhook requests, want none", n)
	}
	// A strategy file with an error stops the command, naming the line.
	if err := os.WriteFile(strategyPath(data, kb.Default), []byte("curated:\n  - answer: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "ask", "--data", data, "hello"); code == 0 || !strings.Contains(stderr, "strategy.yaml:2: curated[0] (curated-1) has no questions") {
		t.Errorf("bad strategy file: %d %s", code, stderr)
	}
}

// wechatPost sends a plain-mode text message from openID to the live
// server's WeChat channel and returns the passive reply's content.
func (s *liveServer) wechatPost(t *testing.T, openID, msgID, content string) string {
	t.Helper()
	msg := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[` + openID + `]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[` + content + `]]></Content><MsgId>` + msgID + `</MsgId></xml>`
	resp, err := http.Post("http://"+s.addr+"/v1/channels/wechat/default?"+wechat.VerifyQuery("wx-token", time.Now().Unix(), "77"), "text/xml", strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("wechat %q: %d %s", content, resp.StatusCode, raw)
	}
	if string(raw) == "success" {
		return ""
	}
	var reply wechat.Message
	if err := xml.Unmarshal(raw, &reply); err != nil {
		t.Fatalf("wechat reply %s: %v", raw, err)
	}
	return reply.Content
}

// WeChat turns go to the conversation log like the other channels':
// channel wechat, one conversation per follower, the OpenID nowhere in
// the log.
func TestWeChatTurnsLogged(t *testing.T) {
	data, hook := strategyKB(t, 0)
	s := startServe(t, options{Data: data}, map[string]string{"TEST_HOOK_SECRET": "hook-secret"}, serveHooks{})
	const alice, bob = "oALICE-openid-7f3a9c", "oBOB-openid-22d1e0"
	if got := s.wechatPost(t, alice, "101", "如何重置密码"); !strings.HasPrefix(got, curatedAnswerText) {
		t.Errorf("curated over WeChat: %q", got)
	}
	s.wechatPost(t, alice, "101", "如何重置密码") // WeChat's retry: answered and logged once
	s.wechatPost(t, alice, "102", "How much does the Kestrel Hub weigh in kilograms?")
	if got := s.wechatPost(t, alice, "103", "Which colour options does the Kestrel Hub come in?"); !strings.Contains(got, "A colleague will take over.") {
		t.Errorf("second decline over WeChat: %q", got)
	}
	s.wechatPost(t, bob, "201", "thanks")
	// A new follower gets the greeting, which is no turn of the log.
	resp, err := http.Post("http://"+s.addr+"/v1/channels/wechat/default?"+wechat.VerifyQuery("wx-token", time.Now().Unix(), "78"), "text/xml",
		strings.NewReader(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[`+bob+`]]></FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>`))
	if err != nil {
		t.Fatal(err)
	}
	var greeting wechat.Message
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if xml.Unmarshal(raw, &greeting) != nil || greeting.Content != "欢迎！" {
		t.Errorf("subscribe: %s", raw)
	}
	waitUntil(t, 10*time.Second, "the hand-off webhook", func() bool { _, got := hook.counts(); return len(got) == 1 })
	_, got := hook.counts()
	s.stop()

	out, stderr, code := runCLI(t, "log", "export", "--data", data)
	if code != 0 {
		t.Fatalf("log export: %s", stderr)
	}
	var turns []quarry.Turn
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var tu quarry.Turn
		if err := json.Unmarshal([]byte(line), &tu); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		turns = append(turns, tu)
	}
	if len(turns) != 4 {
		t.Fatalf("%d turns logged, want 4 (the retry once):\n%s", len(turns), out)
	}
	byQ := map[string]quarry.Turn{}
	for _, tu := range turns {
		byQ[tu.Question] = tu
		if tu.Channel != "wechat" || tu.KB != "default" || tu.AnswerID == "" || tu.LatencyMS <= 0 || !strings.HasPrefix(tu.ConversationID, "wechat_") ||
			tu.ClientHash == "" || strings.Contains(line(tu), "openid") {
			t.Errorf("turn %+v", tu)
		}
	}
	cur, d1, d2, thanks := byQ["如何重置密码"], byQ["How much does the Kestrel Hub weigh in kilograms?"], byQ["Which colour options does the Kestrel Hub come in?"], byQ["thanks"]
	if !cur.Answered || cur.Answer != curatedAnswerText || d1.Answered || d2.Answered || !strings.Contains(d2.Answer, "A colleague will take over.") || !thanks.Answered {
		t.Errorf("answers: %+v", turns)
	}
	if cur.ConversationID != d1.ConversationID || d1.ConversationID != d2.ConversationID || thanks.ConversationID == cur.ConversationID ||
		cur.ClientHash != d2.ClientHash || thanks.ClientHash == cur.ClientHash {
		t.Errorf("conversations: one per follower expected: %+v", turns)
	}
	// The hand-off names the same conversation; the operator's webhook
	// gets the OpenID, to answer the follower through the
	// customer-service API.
	if got[0].Conversation != cur.ConversationID || got[0].Channel != "wechat" || got[0].User != alice || got[0].Reason != strategy.ReasonDeclines {
		t.Errorf("hand-off %+v", got[0])
	}
	// No OpenID anywhere in the log's files.
	files, _ := filepath.Glob(filepath.Join(data, "conversations.db*"))
	if len(files) == 0 {
		t.Fatal("no conversation log files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("openid")) {
			t.Errorf("%s holds an OpenID", f)
		}
	}
}

func line(tu quarry.Turn) string {
	b, _ := json.Marshal(tu)
	return string(b)
}

// The strategy's escalation.contact is the knowledge base's one
// hand-off setting: /v1/ask (and so the widget), WeChat, quarry ask and
// quarry kb show all take it; the old handoff.json is read only when
// the strategy sets no contact.
func TestOneHandoffSetting(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	writeFiles(t, src, strategyDocs)
	if _, stderr, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	legacy := `{"message": "Old message.", "email": "old@example.com"}`
	if err := os.WriteFile(filepath.Join(kb.Root(data, kb.Default), handoffFile), []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	withContact := `escalation:
  contact:
    message: {en: "Write to us.", zh: "请给我们写信。"}
    url: https://help.example.com/contact
    email: support@example.com
channels:
  wechat:
    token: wx-token
`
	path := strategyPath(data, kb.Default)
	if err := os.WriteFile(path, []byte(withContact), 0o644); err != nil {
		t.Fatal(err)
	}
	const unanswerable = "How much does the Kestrel Hub weigh in kilograms?"
	s := startServe(t, options{Data: data}, nil, serveHooks{})
	askHandoff := func(q string) quarry.Handoff {
		t.Helper()
		var out struct {
			Answered bool           `json:"answered"`
			Handoff  quarry.Handoff `json:"handoff"`
		}
		if code, err := s.call("POST", "/v1/ask", map[string]string{"question": q}, &out); err != nil || code != 200 || out.Answered {
			t.Fatalf("ask %q: %d %v %+v", q, code, err, out)
		}
		return out.Handoff
	}
	if h := askHandoff(unanswerable); h != (quarry.Handoff{Message: "Write to us.", URL: "https://help.example.com/contact", Email: "support@example.com"}) {
		t.Errorf("/v1/ask handoff %+v, want the strategy's contact", h)
	}
	if h := askHandoff("集线器有多重？"); h.Message != "请给我们写信。" {
		t.Errorf("/v1/ask handoff in Chinese %+v", h)
	}
	if got := s.wechatPost(t, "oCAROL", "301", unanswerable); !strings.Contains(got, "Write to us. https://help.example.com/contact support@example.com") {
		t.Errorf("WeChat decline without the contact: %q", got)
	}
	waitUntil(t, 5*time.Second, "the warning about handoff.json", func() bool {
		return strings.Contains(s.stderr.String(), "hand-off settings ignored") && strings.Contains(s.stderr.String(), handoffFile)
	})
	out, _, code := runCLI(t, "ask", "--data", data, unanswerable)
	if code != 0 || !strings.Contains(out, "\nWrite to us.\nhttps://help.example.com/contact\nsupport@example.com\n") {
		t.Errorf("quarry ask:\n%s", out)
	}
	out, _, _ = runCLI(t, "kb", "show", "--data", data, "default")
	if !strings.Contains(out, `Contact:        "Write to us.", "https://help.example.com/contact", "support@example.com" (zh: "请给我们写信。")`) ||
		!strings.Contains(out, "handoff.json is ignored") {
		t.Errorf("kb show:\n%s", out)
	}

	// Without a contact in the strategy, the old file still works.
	if err := os.WriteFile(path, []byte("escalation:\n  handoff: Over to a colleague.\nchannels:\n  wechat:\n    token: wx-token\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the strategy without a contact", func() bool { return askHandoff(unanswerable).Message == "Old message." })
	if h := askHandoff(unanswerable); h != (quarry.Handoff{Message: "Old message.", Email: "old@example.com"}) {
		t.Errorf("/v1/ask handoff %+v, want handoff.json's", h)
	}
	if got := s.wechatPost(t, "oCAROL", "302", unanswerable); !strings.Contains(got, "Old message. old@example.com") {
		t.Errorf("WeChat decline without handoff.json's contact: %q", got)
	}
	out, _, _ = runCLI(t, "kb", "show", "--data", data, "default")
	if !strings.Contains(out, `Contact:        "Old message.", "old@example.com", from handoff.json (deprecated`) {
		t.Errorf("kb show:\n%s", out)
	}
	if out, _, _ := runCLI(t, "ask", "--data", data, unanswerable); !strings.Contains(out, "\nOld message.\nold@example.com\n") {
		t.Errorf("quarry ask:\n%s", out)
	}
}

// Safe mode through quarry serve: the strategy file's encoding_aes_key
// and app_id reach the channel; the platform's side encrypts and
// decrypts with the channel package's Cipher (checked against the
// official algorithm in channels/wechat).
func TestWeChatSafeModeThroughServe(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	writeFiles(t, src, strategyDocs)
	if _, stderr, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	const aesKey, appID = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0123456789abcdef"
	file := strategyYAML("https://hooks.example.com/unused", "") + "    app_id: " + appID + "\n    encoding_aes_key: " + aesKey + "\n"
	if err := os.WriteFile(strategyPath(data, kb.Default), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, options{Data: data}, nil, serveHooks{})
	platform, err := wechat.NewCipher(aesKey, appID)
	if err != nil {
		t.Fatal(err)
	}
	inner := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oDAVE]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[How do I reset my password?]]></Content><MsgId>501</MsgId></xml>`
	enc, err := platform.Encrypt([]byte(inner))
	if err != nil {
		t.Fatal(err)
	}
	ts, nonce := fmt.Sprint(time.Now().Unix()), "4242"
	q := "signature=" + wechat.Signature("wx-token", ts, nonce) + "&timestamp=" + ts + "&nonce=" + nonce +
		"&openid=oDAVE&encrypt_type=aes&msg_signature=" + wechat.Signature("wx-token", ts, nonce, enc)
	resp, err := http.Post("http://"+s.addr+"/v1/channels/wechat/default?"+q, "text/xml",
		strings.NewReader(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[`+enc+`]]></Encrypt></xml>`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env struct{ Encrypt, MsgSignature, TimeStamp, Nonce string }
	if resp.StatusCode != 200 || xml.Unmarshal(raw, &env) != nil || env.MsgSignature != wechat.Signature("wx-token", env.TimeStamp, env.Nonce, env.Encrypt) {
		t.Fatalf("safe-mode reply %d: %s", resp.StatusCode, raw)
	}
	plain, err := platform.Decrypt(env.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	var reply wechat.Message
	if err := xml.Unmarshal(plain, &reply); err != nil || reply.ToUserName != "oDAVE" || !strings.HasPrefix(reply.Content, curatedAnswerText) {
		t.Errorf("decrypted reply %s (%v)", plain, err)
	}
	// A wrong msg_signature is refused.
	resp, err = http.Post("http://"+s.addr+"/v1/channels/wechat/default?"+strings.Replace(q, "msg_signature=", "msg_signature=0", 1), "text/xml",
		strings.NewReader(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[`+enc+`]]></Encrypt></xml>`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("bad msg_signature: %d", resp.StatusCode)
	}
}

func TestWeChatTextsBilingual(t *testing.T) {
	for _, tc := range []struct {
		in   strategy.Text
		want string
	}{
		{strategy.Text{En: "Welcome!", Zh: "欢迎！"}, "欢迎！\nWelcome!"},
		{strategy.Text{En: "Hi", Zh: "Hi"}, "Hi"},
		{strategy.Text{Zh: "欢迎！"}, "欢迎！"},
		{strategy.Text{En: "Welcome!"}, "Welcome!"},
		{strategy.Text{}, ""},
	} {
		if got := bilingual(tc.in); got != tc.want {
			t.Errorf("bilingual(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
