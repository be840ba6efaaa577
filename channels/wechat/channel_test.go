package wechat

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

// platform is a local fake of the WeChat API: access tokens and
// customer-service messages.
type platform struct {
	*httptest.Server
	mu         sync.Mutex
	tokens     int      // tokens handed out
	sent       []string // customer-service message contents
	sentTo     []string
	expireNext bool // answer the next send with errcode 42001
	got        chan string
}

func newPlatform(t *testing.T) *platform {
	p := &platform{got: make(chan string, 10)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.URL.Path {
		case "/cgi-bin/token":
			q := r.URL.Query()
			if q.Get("grant_type") != "client_credential" || q.Get("appid") != testAppID || q.Get("secret") != "app-secret" {
				fmt.Fprint(w, `{"errcode":40013,"errmsg":"invalid appid"}`)
				return
			}
			p.tokens++
			fmt.Fprintf(w, `{"access_token":"TOKEN-%d","expires_in":7200}`, p.tokens)
		case "/cgi-bin/message/custom/send":
			if r.Method != http.MethodPost || r.URL.Query().Get("access_token") != fmt.Sprintf("TOKEN-%d", p.tokens) {
				fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
				return
			}
			if p.expireNext {
				p.expireNext = false
				fmt.Fprint(w, `{"errcode":42001,"errmsg":"access_token expired"}`)
				return
			}
			var m struct {
				ToUser  string `json:"touser"`
				MsgType string `json:"msgtype"`
				Text    struct {
					Content string `json:"content"`
				} `json:"text"`
			}
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.MsgType != "text" {
				t.Errorf("custom send body: %v %+v", err, m)
			}
			p.sent = append(p.sent, m.Text.Content)
			p.sentTo = append(p.sentTo, m.ToUser)
			p.got <- m.Text.Content
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

const (
	testToken = "quarry-token"
	testAppID = "wx0123456789abcdef"
	testKey   = officialAESKey
)

// asker answers "Q" with "A: Q" after delay, or when gate lets it
// (one answer per value sent), and counts calls.
type asker struct {
	mu    sync.Mutex
	calls []string
	delay time.Duration
	gate  chan struct{}
}

func (a *asker) Ask(ctx context.Context, req quarry.AskRequest, _ func(quarry.Event) error) (quarry.Answer, error) {
	a.mu.Lock()
	a.calls = append(a.calls, req.Question)
	a.mu.Unlock()
	wait := time.After(a.delay)
	if a.gate != nil {
		wait = nil
	}
	select {
	case <-wait:
	case <-a.gate:
	case <-ctx.Done():
		return quarry.Answer{}, ctx.Err()
	}
	return quarry.Answer{Text: "A: " + req.Question, Answered: true, Lang: "en",
		Citations: []quarry.Citation{{N: 1, Title: "Returns", Path: "https://help.example.com/returns"}}}, nil
}

func (a *asker) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

func newChannel(t *testing.T, p *platform, a Asker, safe bool) *Channel {
	cfg := Config{KB: "default", Token: testToken, AppID: testAppID, AppSecret: "app-secret", ReplyWithin: 300 * time.Millisecond,
		Greeting: "Welcome!", Unsupported: "Text only, please."}
	if p != nil {
		cfg.APIBaseURL = p.URL
	}
	if safe {
		cfg.EncodingAESKey = testKey
	}
	c, err := New(cfg, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serve runs one request through the channel as the server does.
func serve(c *Channel, method, query, body string) (int, string) {
	r := httptest.NewRequest(method, "/v1/channels/wechat/default?"+query, strings.NewReader(body))
	w := httptest.NewRecorder()
	if err := c.ServeChannel(w, r); err != nil {
		if errors.Is(err, quarry.ErrForbidden) {
			return 403, err.Error()
		}
		return 400, err.Error()
	}
	return w.Code, w.Body.String()
}

func textMessage(from, msgID, content string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%s</MsgId></xml>`, from, content, msgID)
}

func query(nonce string) string { return VerifyQuery(testToken, time.Now().Unix(), nonce) }

func parseReply(t *testing.T, body string) Message {
	t.Helper()
	var m Message
	if err := xml.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	return m
}

func TestURLVerification(t *testing.T) {
	c := newChannel(t, nil, &asker{}, false)
	if code, body := serve(c, "GET", query("n1")+"&echostr=hello123", ""); code != 200 || body != "hello123" {
		t.Errorf("good signature: %d %q", code, body)
	}
	bad := "signature=0000&timestamp=1&nonce=2&echostr=hello123"
	if code, body := serve(c, "GET", bad, ""); code != 403 || strings.Contains(body, "hello123") {
		t.Errorf("bad signature: %d %q", code, body)
	}
	if code, _ := serve(c, "POST", bad, textMessage("u", "1", "hi")); code != 403 {
		t.Errorf("bad signature on a message: %d", code)
	}
	// Signed with another token.
	if code, _ := serve(c, "GET", VerifyQuery("other", time.Now().Unix(), "n")+"&echostr=x", ""); code != 403 {
		t.Errorf("other token: %d", code)
	}
}

func TestPlainTextMessage(t *testing.T) {
	a := &asker{}
	c := newChannel(t, nil, a, false)
	code, body := serve(c, "POST", query("n"), textMessage("openid-1", "1001", "How long do returns take?"))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	m := parseReply(t, body)
	if m.ToUserName != "openid-1" || m.FromUserName != "gh_account" || m.MsgType != "text" || m.CreateTime == 0 {
		t.Errorf("reply envelope %+v", m)
	}
	want := "A: How long do returns take?\n\nSources:\n[1] Returns https://help.example.com/returns"
	if m.Content != want {
		t.Errorf("content %q, want %q", m.Content, want)
	}
	if !strings.Contains(body, "<Content><![CDATA[") {
		t.Errorf("content not in CDATA: %s", body)
	}
}

func TestSafeModeRoundTrip(t *testing.T) {
	a := &asker{}
	c := newChannel(t, nil, a, true)
	// The platform's side is the official algorithm written out in the
	// test (officialEncryptFn, officialDecryptFn), not Cipher, so the
	// round trip checks Cipher against it both ways.
	enc := officialEncryptFn(t, testKey, testAppID, []byte("RANDOM-16-BYTES!"), []byte(textMessage("openid-2", "2002", "退货要多久？")))
	ts, nonce := fmt.Sprint(time.Now().Unix()), "98765"
	q := url.Values{"signature": {Signature(testToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
		"openid": {"openid-2"}, "encrypt_type": {"aes"}, "msg_signature": {Signature(testToken, ts, nonce, enc)}}
	envelope := `<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[` + enc + `]]></Encrypt></xml>`
	code, body := serve(c, "POST", q.Encode(), envelope)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var reply struct {
		Encrypt, MsgSignature, TimeStamp, Nonce string
	}
	if err := xml.Unmarshal([]byte(body), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.MsgSignature != Signature(testToken, reply.TimeStamp, reply.Nonce, reply.Encrypt) {
		t.Error("reply's MsgSignature does not verify")
	}
	inner, appID := officialDecryptFn(t, testKey, reply.Encrypt)
	if appID != testAppID {
		t.Errorf("reply encrypted for AppID %q, want %q", appID, testAppID)
	}
	if m := parseReply(t, string(inner)); m.ToUserName != "openid-2" || !strings.HasPrefix(m.Content, "A: 退货要多久？") {
		t.Errorf("decrypted reply %+v", m)
	}

	// A tampered msg_signature, and a message for another AppID.
	q.Set("msg_signature", strings.Repeat("0", 40))
	if code, _ := serve(c, "POST", q.Encode(), envelope); code != 403 {
		t.Errorf("bad msg_signature: %d", code)
	}
	enc2 := officialEncryptFn(t, testKey, "wxstranger", []byte("RANDOM-16-BYTES!"), []byte(textMessage("openid-2", "2003", "hi")))
	q.Set("msg_signature", Signature(testToken, ts, nonce, enc2))
	if code, _ := serve(c, "POST", q.Encode(), `<xml><Encrypt><![CDATA[`+enc2+`]]></Encrypt></xml>`); code != 403 {
		t.Errorf("other AppID: %d", code)
	}
	if a.count() != 1 {
		t.Errorf("%d questions answered, want 1", a.count())
	}
}

func TestOfficialSampleRequest(t *testing.T) {
	a := &asker{}
	c, err := New(Config{Token: officialToken, AppID: officialAppID, EncodingAESKey: officialAESKey}, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := url.Values{"signature": {Signature(officialToken, officialTimestamp, officialNonce)}, "timestamp": {officialTimestamp},
		"nonce": {officialNonce}, "encrypt_type": {"aes"}, "msg_signature": {officialMsgSig}}
	code, body := serve(c, "POST", q.Encode(), `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[`+officialEncrypt+`]]></Encrypt></xml>`)
	if code != 200 || !strings.Contains(body, "<MsgSignature>") {
		t.Fatalf("%d %s", code, body)
	}
	if a.count() != 1 || a.calls[0] != "abcdteT" {
		t.Errorf("asked %q", a.calls)
	}
}

func TestSlowAnswerGoesThroughCustomerServiceAPI(t *testing.T) {
	p := newPlatform(t)
	// The answer is held until the request has been acknowledged: slow
	// however fast the machine is.
	a := &asker{gate: make(chan struct{})}
	c := newChannel(t, p, a, false)
	for i, q := range []string{"first slow question", "second slow question"} {
		code, body := serve(c, "POST", query("n"), textMessage("openid-3", fmt.Sprint(3000+i), q))
		if code != 200 || body != "success" {
			t.Fatalf("slow answer: %d %q, want success", code, body)
		}
		a.gate <- struct{}{}
		select {
		case got := <-p.got:
			if !strings.HasPrefix(got, "A: "+q) {
				t.Errorf("sent %q", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no customer-service message")
		}
	}
	p.mu.Lock()
	tokens, to := p.tokens, p.sentTo
	p.expireNext = true
	p.mu.Unlock()
	if tokens != 1 {
		t.Errorf("%d access tokens fetched for two messages, want 1 (cached)", tokens)
	}
	if to[0] != "openid-3" {
		t.Errorf("sent to %q", to)
	}
	// An expired token is renewed once.
	serve(c, "POST", query("n"), textMessage("openid-3", "3010", "third"))
	a.gate <- struct{}{}
	select {
	case <-p.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no message after the token expired")
	}
	c.Close() // the stats are counted after the platform answers
	if st := c.Stats(); st.Late != 3 || st.LateFailed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetriesOfOneMsgIDAnsweredOnce(t *testing.T) {
	t.Run("fast answer", func(t *testing.T) {
		a := &asker{}
		c := newChannel(t, nil, a, false)
		var replies int
		for range 3 {
			_, body := serve(c, "POST", query("n"), textMessage("openid-4", "4004", "same question"))
			if body != "success" {
				replies++
			}
		}
		if a.count() != 1 || replies != 1 {
			t.Errorf("%d answers, %d replies; want 1 and 1", a.count(), replies)
		}
	})
	t.Run("slow answer, retries while it is prepared", func(t *testing.T) {
		p := newPlatform(t)
		a := &asker{delay: 700 * time.Millisecond}
		c := newChannel(t, p, a, false)
		var wg sync.WaitGroup
		bodies := make([]string, 3)
		for i := range 3 { // WeChat retries when it has no reply after 5s
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, bodies[i] = serve(c, "POST", query("n"), textMessage("openid-5", "5005", "slow same question"))
			}()
			time.Sleep(250 * time.Millisecond)
		}
		wg.Wait()
		c.Close() // waits for the late answer, if any
		passive := 0
		for _, b := range bodies {
			if b != "success" {
				passive++
			}
		}
		p.mu.Lock()
		sent := len(p.sent)
		p.mu.Unlock()
		if a.count() != 1 || passive+sent != 1 {
			t.Errorf("%d answers computed, %d passive replies and %d sent; want one answer delivered once (bodies %q)", a.count(), passive, sent, bodies)
		}
	})
}

func TestEventsAndOtherTypes(t *testing.T) {
	a := &asker{}
	c := newChannel(t, nil, a, false)
	for _, tc := range []struct {
		name, xml, want string
	}{
		{"subscribe", `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>`, "Welcome!"},
		{"unsubscribe", `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>2</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>`, ""},
		{"image", `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>3</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>7001</MsgId></xml>`, "Text only, please."},
		{"location", `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>4</CreateTime><MsgType><![CDATA[location]]></MsgType><MsgId>7002</MsgId></xml>`, "Text only, please."},
		{"voice with recognition", `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>5</CreateTime><MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[退货要多久]]></Recognition><MsgId>7003</MsgId></xml>`, "A: 退货要多久"},
		{"voice without recognition", `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>6</CreateTime><MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><MsgId>7004</MsgId></xml>`, "Text only, please."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := serve(c, "POST", query("n"), tc.xml)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			if tc.want == "" {
				if body != "success" {
					t.Errorf("body %q, want success", body)
				}
				return
			}
			if m := parseReply(t, body); !strings.HasPrefix(m.Content, tc.want) || m.ToUserName != "u1" {
				t.Errorf("reply %+v, want %q", m, tc.want)
			}
		})
	}
	if a.count() != 1 {
		t.Errorf("%d questions asked, want 1 (the recognised voice)", a.count())
	}
	if code, _ := serve(c, "POST", query("n"), "<xml><not closed"); code != 400 {
		t.Errorf("bad XML: %d", code)
	}
}

func TestFormatLimits(t *testing.T) {
	c := newChannel(t, nil, &asker{}, false)
	long := strings.Repeat("退货政策说明。", 200)
	got := c.Format(quarry.Answer{Text: "**" + long + "**", Lang: "zh", Citations: []quarry.Citation{{N: 1, Title: "A very long title that goes on and on and on", Path: "docs/returns.md"}}})
	if n := len([]rune(got)); n > DefaultMaxRunes || len(got) > MaxContentBytes || !strings.HasSuffix(got, "…") || strings.Contains(got, "**") {
		t.Errorf("%d runes, %d bytes: %q", n, len(got), got[:60])
	}
	short := c.Format(quarry.Answer{Text: "See [the policy](https://x.example/p) for **details** [1].", Lang: "zh",
		Citations: []quarry.Citation{{N: 1, Title: "A very long title that goes on and on and on", Path: "docs/returns.md"}}})
	want := "See the policy https://x.example/p for details [1].\n\n来源：\n[1] A very long title that …"
	if short != want {
		t.Errorf("got  %q\nwant %q", short, want)
	}
	h := &quarry.Handoff{Message: "请给我们写信。", URL: "https://help.example.com/contact", Email: "support@example.com"}
	declined := c.Format(quarry.Answer{Text: "抱歉，我不知道。", Lang: "zh", Handoff: h})
	if want := "抱歉，我不知道。\n\n请给我们写信。 https://help.example.com/contact support@example.com"; declined != want {
		t.Errorf("declined: got %q, want %q", declined, want)
	}
	if answered := c.Format(quarry.Answer{Text: "Yes.", Answered: true, Handoff: h}); answered != "Yes." {
		t.Errorf("an answered answer shows the hand-off: %q", answered)
	}
}

// The access token is fetched once and reused until shortly before its
// expires_in runs out, then fetched again.
func TestAccessTokenCachedUntilItExpires(t *testing.T) {
	p := newPlatform(t)
	now := time.Unix(1_800_000_000, 0)
	a := &api{base: p.URL, appID: testAppID, secret: "app-secret", client: p.Client(), now: func() time.Time { return now }}
	ctx := context.Background()
	for _, tc := range []struct {
		after  time.Duration // since the first fetch
		token  string
		tokens int // fetched so far
	}{
		{0, "TOKEN-1", 1},
		{time.Hour, "TOKEN-1", 1},
		{7200*time.Second - tokenMargin - time.Second, "TOKEN-1", 1},
		{7200*time.Second - tokenMargin + time.Second, "TOKEN-2", 2}, // renewed before WeChat's expiry
		{7200*time.Second + time.Hour, "TOKEN-2", 2},
	} {
		now = time.Unix(1_800_000_000, 0).Add(tc.after)
		tok, err := a.accessToken(ctx, false)
		p.mu.Lock()
		fetched := p.tokens
		p.mu.Unlock()
		if err != nil || tok != tc.token || fetched != tc.tokens {
			t.Errorf("after %v: token %q (%v), %d fetched; want %s, %d", tc.after, tok, err, fetched, tc.token, tc.tokens)
		}
	}
}
