// Package wechat is the WeChat official-account channel: it receives
// the messages WeChat pushes to the account's server URL, answers them
// through a knowledge base, and replies the way the platform expects.
//
//   - URL verification: GET with signature, timestamp, nonce and echostr;
//     the signature is checked with the account's token and echostr
//     echoed.
//   - Messages: POST of XML, in plain-text mode or in safe mode
//     (encrypt_type=aes: the message AES-encrypted with the
//     EncodingAESKey and signed in msg_signature; replies encrypted the
//     same way).
//   - Text, and voice with speech recognition, are answered; images and
//     other types get a polite reply; the subscribe event the greeting.
//   - An answer ready within the platform's 5-second window goes back as
//     a passive XML reply; a slower one is acknowledged with "success"
//     and sent through the customer-service API when it is ready.
//   - WeChat retries a message it got no reply to up to three times; a
//     MsgId is answered once.
package wechat

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

// Asker answers a question (the knowledge base's answering service,
// with its reply strategy).
type Asker interface {
	Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)
}

// Defaults for Config's zero values.
const (
	DefaultReplyWithin = 4500 * time.Millisecond
	DefaultAskTimeout  = 2 * time.Minute
	DefaultMaxRunes    = 600
	// MaxContentBytes is WeChat's limit for a text message's content.
	MaxContentBytes = 2048
	maxBodyBytes    = 256 << 10
	dedupTTL        = 5 * time.Minute
	maxTitleRunes   = 24
)

// Config configures a Channel. Token is required; EncodingAESKey (with
// AppID) turns on safe mode; AppID and AppSecret let late answers go
// through the customer-service API.
type Config struct {
	KB             string
	Token          string
	AppID          string
	AppSecret      string
	EncodingAESKey string
	APIBaseURL     string // default DefaultAPIBaseURL
	Greeting       string // reply to the subscribe event
	Unsupported    string // reply to images and other types
	MaxRunes       int    // cap on a reply's length in characters; default 600
	// ReplyWithin is how long a request waits for the answer before
	// acknowledging and sending it later (default 4.5s, under WeChat's
	// 5-second window).
	ReplyWithin time.Duration
	// AskTimeout bounds answering a message (default 2m).
	AskTimeout time.Duration
	// Context, when set, decorates the context a message is answered
	// in, given the follower's OpenID (cmd/quarry puts the conversation
	// there, for the reply strategy).
	Context func(ctx context.Context, openID string) context.Context
	// Link, when set, gives a citation's link ("" for none); by default
	// a citation's path is its link when it is an http(s) URL.
	Link       func(quarry.Citation) string
	HTTPClient *http.Client
	Logger     *slog.Logger
	now        func() time.Time
}

// Stats counts what the channel did.
type Stats struct {
	Messages   int64 `json:"messages"`
	Retries    int64 `json:"retries"` // repeated MsgIds
	Passive    int64 `json:"passive_replies"`
	Late       int64 `json:"late_replies"` // sent through the customer-service API
	LateFailed int64 `json:"late_failed"`
}

// Channel serves one knowledge base's official account. It is safe for
// concurrent use; Close waits for late answers being sent.
type Channel struct {
	cfg    Config
	asker  Asker
	cipher *Cipher
	api    *api
	log    *slog.Logger

	mu    sync.Mutex
	seen  map[string]*pending
	stats Stats

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Channel answering through asker.
func New(cfg Config, asker Asker) (*Channel, error) {
	if cfg.Token == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "wechat: no token configured")
	}
	if asker == nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "wechat: no answering service")
	}
	if cfg.APIBaseURL == "" {
		cfg.APIBaseURL = DefaultAPIBaseURL
	}
	cfg.APIBaseURL = strings.TrimRight(cfg.APIBaseURL, "/")
	if cfg.MaxRunes <= 0 {
		cfg.MaxRunes = DefaultMaxRunes
	}
	if cfg.ReplyWithin <= 0 {
		cfg.ReplyWithin = DefaultReplyWithin
	}
	if cfg.AskTimeout <= 0 {
		cfg.AskTimeout = DefaultAskTimeout
	}
	if cfg.Greeting == "" {
		cfg.Greeting = "欢迎关注！请直接发送您的问题。Welcome! Send us your question."
	}
	if cfg.Unsupported == "" {
		cfg.Unsupported = "抱歉，我目前只能回复文字消息，请直接输入您的问题。Sorry, I can only read text: please type your question."
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	c := &Channel{cfg: cfg, asker: asker, log: cfg.Logger, seen: map[string]*pending{}}
	if cfg.EncodingAESKey != "" {
		ci, err := NewCipher(cfg.EncodingAESKey, cfg.AppID)
		if err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "%w", err)
		}
		c.cipher = ci
	}
	if cfg.AppID != "" && cfg.AppSecret != "" {
		c.api = &api{base: cfg.APIBaseURL, appID: cfg.AppID, secret: cfg.AppSecret, client: cfg.HTTPClient, now: cfg.now}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Stats returns the counts so far.
func (c *Channel) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close waits for answers in flight and late replies being sent (up to
// their timeout), then releases the channel.
func (c *Channel) Close() error {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cancel()
		<-done
	}
	c.cancel()
	return nil
}

// ServeChannel serves GET (URL verification) and POST (messages). On
// error it writes nothing: the caller answers the error (a bad
// signature is quarry.ErrForbidden, a malformed request
// quarry.ErrInvalid).
func (c *Channel) ServeChannel(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if !checkSignature(q.Get("signature"), c.cfg.Token, ts, nonce) {
		return quarry.Errorf(quarry.CodeForbidden, "wechat: signature does not match the token")
	}
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, q.Get("echostr"))
		return nil
	case http.MethodPost:
	default:
		return quarry.Errorf(quarry.CodeInvalid, "wechat: method %s not allowed", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return quarry.Errorf(quarry.CodeInvalid, "wechat: read body: %w", err)
	}
	if len(body) > maxBodyBytes {
		return quarry.Errorf(quarry.CodeTooLarge, "wechat: body over %d bytes", maxBodyBytes)
	}
	var msg Message
	if err := xml.Unmarshal(body, &msg); err != nil {
		return quarry.Errorf(quarry.CodeInvalid, "wechat: bad XML: %w", err)
	}
	safe := q.Get("encrypt_type") == "aes"
	if safe {
		if c.cipher == nil {
			return quarry.Errorf(quarry.CodeInvalid, "wechat: an encrypted message, but no EncodingAESKey is configured")
		}
		if msg.Encrypt == "" {
			return quarry.Errorf(quarry.CodeInvalid, "wechat: encrypt_type=aes without an Encrypt element")
		}
		if !checkSignature(q.Get("msg_signature"), c.cfg.Token, ts, nonce, msg.Encrypt) {
			return quarry.Errorf(quarry.CodeForbidden, "wechat: msg_signature does not match")
		}
		inner, err := c.cipher.Decrypt(msg.Encrypt)
		if err != nil {
			return quarry.Errorf(quarry.CodeForbidden, "%w", err)
		}
		msg = Message{}
		if err := xml.Unmarshal(inner, &msg); err != nil {
			return quarry.Errorf(quarry.CodeInvalid, "wechat: bad XML inside the encrypted message: %w", err)
		}
	}
	text, ok := c.reply(r.Context(), &msg)
	if !ok {
		writeSuccess(w)
		return nil
	}
	out, err := xml.Marshal(textReply{
		ToUserName: cdata{msg.FromUserName}, FromUserName: cdata{msg.ToUserName},
		CreateTime: c.cfg.now().Unix(), MsgType: cdata{"text"}, Content: cdata{text},
	})
	if err != nil {
		return quarry.Errorf(quarry.CodeInternal, "wechat: %w", err)
	}
	if safe {
		enc, err := c.cipher.Encrypt(out)
		if err != nil {
			return quarry.Errorf(quarry.CodeInternal, "%w", err)
		}
		if out, err = xml.Marshal(encryptedReply{
			Encrypt: cdata{enc}, MsgSignature: cdata{Signature(c.cfg.Token, ts, nonce, enc)}, TimeStamp: ts, Nonce: cdata{nonce},
		}); err != nil {
			return quarry.Errorf(quarry.CodeInternal, "wechat: %w", err)
		}
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(out)
	return nil
}

// writeSuccess acknowledges a message without a passive reply.
func writeSuccess(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
}

// reply decides the passive reply to msg; ok false means acknowledge
// with "success" (nothing to say, or the answer comes later).
func (c *Channel) reply(ctx context.Context, msg *Message) (string, bool) {
	switch msg.MsgType {
	case "event":
		if strings.EqualFold(msg.Event, "subscribe") {
			return c.limit(c.cfg.Greeting), true
		}
		return "", false // unsubscribe, menu clicks, location reports...
	case "text":
		return c.answer(ctx, msg, msg.Content)
	case "voice":
		if strings.TrimSpace(msg.Recognition) != "" {
			return c.answer(ctx, msg, msg.Recognition)
		}
	}
	return c.limit(c.cfg.Unsupported), true
}

// pending is one message being answered, shared by WeChat's retries of
// it.
type pending struct {
	created time.Time
	done    chan struct{} // closed when text is set
	text    string
	waiters int  // requests waiting for the answer within their window
	claimed bool // the answer was (or is being) delivered
}

// answer answers question, once per message: the first request starts
// the work, and every request for the message (WeChat's retries
// included) waits up to ReplyWithin for it. The first to see it ready
// replies passively; if none is waiting when it is ready, it goes out
// through the customer-service API.
func (c *Channel) answer(ctx context.Context, msg *Message, question string) (string, bool) {
	key := msg.dedupKey()
	c.mu.Lock()
	now := c.cfg.now()
	for k, p := range c.seen {
		if now.Sub(p.created) > dedupTTL {
			delete(c.seen, k)
		}
	}
	p, retry := c.seen[key]
	if retry {
		c.stats.Retries++
	} else {
		c.stats.Messages++
		p = &pending{created: now, done: make(chan struct{})}
		c.seen[key] = p
		c.wg.Add(1)
		go c.work(p, msg.FromUserName, question)
	}
	if p.claimed {
		c.mu.Unlock()
		return "", false
	}
	p.waiters++
	c.mu.Unlock()

	t := time.NewTimer(c.cfg.ReplyWithin)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p.waiters--
	select {
	case <-p.done:
		if !p.claimed {
			p.claimed = true
			c.stats.Passive++
			return p.text, true
		}
	default:
	}
	return "", false
}

// work answers a message and, if nobody is waiting to reply passively
// when the answer is ready, sends it through the customer-service API.
func (c *Channel) work(p *pending, openID, question string) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.AskTimeout)
	defer cancel()
	if c.cfg.Context != nil {
		ctx = c.cfg.Context(ctx, openID)
	}
	text := c.format(ctx, question)
	c.mu.Lock()
	p.text = text
	close(p.done)
	late := p.waiters == 0 && !p.claimed
	if late {
		p.claimed = true
	}
	c.mu.Unlock()
	if !late {
		return
	}
	err := quarry.Errorf(quarry.CodeUnavailable, "wechat: no AppID and AppSecret configured for the customer-service API")
	if c.api != nil {
		err = c.api.sendText(ctx, openID, text)
	}
	c.mu.Lock()
	if err != nil {
		c.stats.LateFailed++
	} else {
		c.stats.Late++
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Error("wechat: late answer not delivered", "kb", c.cfg.KB, "err", err)
	}
}

// format answers question and lays the answer out as WeChat text.
func (c *Channel) format(ctx context.Context, question string) string {
	ans, err := c.asker.Ask(ctx, quarry.AskRequest{Question: strings.TrimSpace(question)}, nil)
	if err != nil {
		c.log.Warn("wechat: answering failed", "kb", c.cfg.KB, "err", err)
		if quarry.ErrorCode(err) == quarry.CodeInvalid || quarry.ErrorCode(err) == quarry.CodeTooLarge {
			return c.limit("抱歉，我没能理解您的问题，请换个说法再试。Sorry, I could not read that question; please rephrase it.")
		}
		return c.limit("抱歉，系统暂时无法回答，请稍后再试。Sorry, I cannot answer right now; please try again later.")
	}
	return c.Format(ans)
}

var (
	mdEmphasis = regexp.MustCompile(`\*\*|__|` + "`")
	mdHeading  = regexp.MustCompile(`(?m)^#{1,6}\s+`)
	mdLink     = regexp.MustCompile(`\[([^\]]+)\]\((https?://[^)\s]+)\)`)
)

// Format lays an answer out as WeChat plain text: Markdown emphasis
// dropped, links written out, a declined answer's hand-off contact
// (message, link, e-mail) after it, then the citations as numbered short
// titles with their links, all within the length limit (the citations
// go first when something must be cut: the answer matters more).
func (c *Channel) Format(ans quarry.Answer) string {
	text := mdLink.ReplaceAllString(ans.Text, "$1 $2")
	text = mdHeading.ReplaceAllString(mdEmphasis.ReplaceAllString(text, ""), "")
	text = strings.TrimSpace(text)
	if h := ans.Handoff; !ans.Answered && h != nil {
		// A declined answer: how to reach a person (the strategy's
		// escalation.contact).
		var parts []string
		for _, p := range []string{h.Message, h.URL, h.Email} {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			text += "\n\n" + strings.Join(parts, " ")
		}
	}
	var cites []string
	for _, ci := range ans.Citations {
		title := ci.Title
		if title == "" {
			title = ci.Path
		}
		title = truncateRunes(strings.TrimSpace(title), maxTitleRunes)
		line := fmt.Sprintf("[%d] %s", ci.N, title)
		if link := c.link(ci); link != "" {
			line += " " + link
		}
		cites = append(cites, line)
	}
	full := text
	if len(cites) > 0 {
		head := "Sources:"
		if ans.Lang == "zh" {
			head = "来源："
		}
		full = text + "\n\n" + head + "\n" + strings.Join(cites, "\n")
	}
	if fits(full, c.cfg.MaxRunes) {
		return full
	}
	return c.limit(text)
}

func (c *Channel) link(ci quarry.Citation) string {
	if c.cfg.Link != nil {
		return c.cfg.Link(ci)
	}
	if strings.HasPrefix(ci.Path, "https://") || strings.HasPrefix(ci.Path, "http://") {
		return ci.Path
	}
	return ""
}

func fits(s string, maxRunes int) bool {
	return utf8.RuneCountInString(s) <= maxRunes && len(s) <= MaxContentBytes
}

// limit cuts s to MaxRunes characters and WeChat's byte limit.
func (c *Channel) limit(s string) string {
	if fits(s, c.cfg.MaxRunes) {
		return s
	}
	r := []rune(s)
	n := min(len(r), c.cfg.MaxRunes-1)
	for n > 0 && len(string(r[:n]))+len("…") > MaxContentBytes {
		n--
	}
	return string(r[:n]) + "…"
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// VerifyQuery returns the query string WeChat sends with a request to
// the server URL: for tests and for a local fake of the platform.
func VerifyQuery(token string, ts int64, nonce string) string {
	t := strconv.FormatInt(ts, 10)
	return "signature=" + Signature(token, t, nonce) + "&timestamp=" + t + "&nonce=" + nonce
}
