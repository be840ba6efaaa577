// Package strategy holds a knowledge base's reply strategy: the
// operator's own rules that run before retrieval. A strategy file
// (strategy.yaml in the knowledge base's folder of the data directory)
// sets a persona for the language model, curated answers given verbatim
// when a question is close enough to one of their phrasings, blocked
// topics with a fixed reply, brief replies to greetings and thanks, and
// when to hand a conversation to a person (escalation) and which webhook
// to tell.
//
// Service is a decorator around any answering service: it answers what
// the strategy answers and passes everything else on, so the retrieval
// and answering code knows nothing about strategies. Store loads the
// file, reloads it when it changes, and keeps the previous strategy in
// force when a new file is invalid.
package strategy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/quarry-kb/quarry"
)

// FileName is the strategy file's name in a knowledge base's folder.
const FileName = "strategy.yaml"

// Defaults for the zero values of the file's fields.
const (
	DefaultThreshold        = 0.7
	DefaultWebhookTimeout   = 5 * time.Second
	DefaultWebhookAttempts  = 4
	DefaultWeChatMaxRunes   = 600
	defaultHandoffEnglish   = "I'll pass this conversation to a colleague, who will get back to you as soon as possible."
	defaultHandoffChinese   = "已为您转接人工客服，请稍候，工作人员会尽快回复您。"
	defaultGreetingEnglish  = "Hello! How can I help you today?"
	defaultGreetingChinese  = "您好！请问有什么可以帮您？"
	defaultThanksEnglish    = "You're welcome! Anything else I can help with?"
	defaultThanksChinese    = "不客气！还有什么可以帮您的吗？"
	defaultGoodbyeEnglish   = "Goodbye, and thank you for getting in touch!"
	defaultGoodbyeChinese   = "再见，感谢您的咨询！"
	defaultBlockedEnglish   = "Sorry, I can't help with that topic."
	defaultBlockedChinese   = "抱歉，这个话题我无法回答。"
	maxStrategyFileBytes    = 4 << 20
	maxCuratedAnswerRunes   = 20000
	maxPhrasingsPerAnswer   = 200
	maxCuratedAnswersInFile = 20000
)

// Text is a reply in English and Chinese. In the file it is either one
// string (used for both languages) or a mapping {en: ..., zh: ...}; the
// reply is chosen by the question's language.
type Text struct {
	En string `yaml:"en,omitempty" json:"en,omitempty"`
	Zh string `yaml:"zh,omitempty" json:"zh,omitempty"`
}

// UnmarshalYAML accepts a string or a mapping with the keys en and zh.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		t.En, t.Zh = s, s
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var s string
			if err := v.Decode(&s); err != nil {
				return err
			}
			switch k.Value {
			case "en":
				t.En = s
			case "zh":
				t.Zh = s
			default:
				return &lineError{line: k.Line, msg: fmt.Sprintf("unknown language %q (want en or zh)", k.Value)}
			}
		}
		return nil
	}
	return &lineError{line: n.Line, msg: "want a string or a mapping with en and zh"}
}

// For returns the text for lang ("zh" or anything else for English),
// falling back to the other language, then to def.
func (t Text) For(lang string, def Text) string {
	first, second := t.En, t.Zh
	if lang == "zh" {
		first, second = t.Zh, t.En
	}
	switch {
	case first != "":
		return first
	case second != "":
		return second
	case lang == "zh":
		return def.Zh
	}
	return def.En
}

func (t Text) empty() bool { return t.En == "" && t.Zh == "" }

// File is the strategy file's schema. Every field is optional; the zero
// value of each means its default.
type File struct {
	// Persona is added to the language model's instructions (tone,
	// name, style). The offline answerer quotes passages and ignores it.
	Persona string `yaml:"persona,omitempty" json:"persona,omitempty"`
	// Threshold is how close (0..1) a question must be to a curated
	// phrasing to get its answer. Default 0.7.
	Threshold float64 `yaml:"curated_threshold,omitempty" json:"curated_threshold,omitempty"`
	// Curated answers, given verbatim.
	Curated []Curated `yaml:"curated,omitempty" json:"curated,omitempty"`
	// Blocked topics, refused with a fixed reply.
	Blocked []Blocked `yaml:"blocked,omitempty" json:"blocked,omitempty"`
	// SmallTalk replies to greetings, thanks and goodbyes.
	SmallTalk SmallTalk `yaml:"small_talk,omitempty" json:"small_talk"`
	// Escalation hands conversations to a person.
	Escalation Escalation `yaml:"escalation,omitempty" json:"escalation"`
	// Channels configures the messaging channels of the knowledge base.
	Channels Channels `yaml:"channels,omitempty" json:"channels"`
}

// Curated is one curated answer.
type Curated struct {
	// ID names the answer in logs and citations; default "curated-N".
	ID string `yaml:"id,omitempty" json:"id"`
	// Questions are phrasings of the question (at least one).
	Questions []string `yaml:"questions" json:"questions"`
	// Answer is given verbatim.
	Answer string `yaml:"answer" json:"answer"`
	// Source is an optional link cited with the answer.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Title is the citation's title; default the first phrasing.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
}

// Blocked is a set of topics refused with one reply.
type Blocked struct {
	// Topics are words or phrases; a question containing all the terms
	// of one (as retrieval analyses them) is blocked.
	Topics []string `yaml:"topics" json:"topics"`
	// Reply is the fixed reply; default a polite refusal.
	Reply Text `yaml:"reply,omitempty" json:"reply"`
}

// SmallTalk configures replies to greetings, thanks and goodbyes.
type SmallTalk struct {
	// Off, when true, sends small talk to retrieval like any question.
	Off      bool `yaml:"off,omitempty" json:"off,omitempty"`
	Greeting Text `yaml:"greeting,omitempty" json:"greeting"`
	Thanks   Text `yaml:"thanks,omitempty" json:"thanks"`
	Goodbye  Text `yaml:"goodbye,omitempty" json:"goodbye"`
}

// Escalation configures the hand-off to a person.
type Escalation struct {
	// Handoff is the reply when a conversation is handed off.
	Handoff Text `yaml:"handoff,omitempty" json:"handoff"`
	// OnDecline hands off whenever Quarry declines to answer.
	OnDecline bool `yaml:"on_decline,omitempty" json:"on_decline"`
	// OnRequestOff, when true, does not hand off when the customer asks
	// for a person ("转人工", "talk to a human"); by default it does.
	OnRequestOff bool `yaml:"on_request_off,omitempty" json:"on_request_off,omitempty"`
	// AfterDeclines hands off after this many declines in one
	// conversation; 0 means never.
	AfterDeclines int `yaml:"after_declines,omitempty" json:"after_declines,omitempty"`
	// Phrases are extra ways of asking for a person, besides the
	// built-in English and Chinese ones.
	Phrases []string `yaml:"phrases,omitempty" json:"phrases,omitempty"`
	// Webhook is told about every hand-off.
	Webhook Webhook `yaml:"webhook,omitempty" json:"webhook"`
	// Contact is how customers reach a person themselves, offered with
	// every declined answer: the "handoff" of /v1/ask's answer, which the
	// widget shows; WeChat and quarry ask print it. It is the knowledge
	// base's one hand-off setting: handoff.json (issue 12's file, the
	// same three fields) is read only when the strategy sets no contact.
	Contact Contact `yaml:"contact,omitempty" json:"contact"`
}

// Contact is a way to reach a person: any of a message, a link and an
// e-mail address.
type Contact struct {
	Message Text   `yaml:"message,omitempty" json:"message"`
	URL     string `yaml:"url,omitempty" json:"url,omitempty"`
	Email   string `yaml:"email,omitempty" json:"email,omitempty"`
}

// Empty reports whether c sets nothing.
func (c Contact) Empty() bool { return c.Message.empty() && c.URL == "" && c.Email == "" }

// Handoff is c in lang as an answer's hand-off; nil when c is empty.
func (c Contact) Handoff(lang string) *quarry.Handoff {
	if c.Empty() {
		return nil
	}
	return &quarry.Handoff{Message: c.Message.For(lang, Text{}), URL: c.URL, Email: c.Email}
}

// Webhook is where hand-offs are posted.
type Webhook struct {
	// URL receives a POST per hand-off; empty means none.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// SecretEnv names the environment variable that holds the signing
	// secret (the secret itself never goes in the file).
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	// Timeout bounds each attempt; default 5s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxAttempts bounds the attempts (first try plus retries on 5xx
	// and timeouts); default 4.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
}

// Channels configures messaging channels.
type Channels struct {
	WeChat *WeChat `yaml:"wechat,omitempty" json:"wechat,omitempty"`
}

// WeChat configures a WeChat official account.
type WeChat struct {
	// Token is the token set in the account's server configuration.
	Token string `yaml:"token" json:"-"`
	// AppID is the account's AppID (needed in safe mode and for the
	// customer-service API).
	AppID string `yaml:"app_id,omitempty" json:"app_id,omitempty"`
	// AppSecretEnv names the environment variable holding the AppSecret
	// (needed to send late answers through the customer-service API).
	AppSecretEnv string `yaml:"app_secret_env,omitempty" json:"app_secret_env,omitempty"`
	// EncodingAESKey (43 characters) turns on safe mode.
	EncodingAESKey string `yaml:"encoding_aes_key,omitempty" json:"-"`
	// APIBaseURL is the platform API's root; default
	// https://api.weixin.qq.com.
	APIBaseURL string `yaml:"api_base_url,omitempty" json:"api_base_url,omitempty"`
	// Greeting is sent to new followers (the subscribe event).
	Greeting Text `yaml:"greeting,omitempty" json:"greeting"`
	// Unsupported is the reply to images and other non-text messages.
	Unsupported Text `yaml:"unsupported,omitempty" json:"unsupported"`
	// MaxRunes caps a reply's length; default 600 (WeChat's limit for a
	// text message is 2048 bytes).
	MaxRunes int `yaml:"max_runes,omitempty" json:"max_runes,omitempty"`
}

// lineError is a problem at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

var (
	yamlLine = regexp.MustCompile(`line (\d+): (.*)`)
	emailRE  = regexp.MustCompile(`^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$`)
)

// ParseFile parses and validates a strategy file; name is used in
// errors, which are quarry.ErrInvalid and read "NAME:LINE: problem".
func ParseFile(name string, data []byte) (File, error) {
	var f File
	fail := func(line int, format string, args ...any) (File, error) {
		return File{}, quarry.Errorf(quarry.CodeInvalid, "%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	if len(data) > maxStrategyFileBytes {
		return fail(1, "the file is %d bytes, the limit is %d", len(data), maxStrategyFileBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return File{}, nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := splitYAMLError(err)
		return fail(line, "%s", msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // EOF: only comments
		line, msg := splitYAMLError(err)
		return fail(line, "%s", msg)
	}
	if err := f.validate(&root); err != nil {
		var le *lineError
		if errors.As(err, &le) {
			return fail(le.line, "%s", le.msg)
		}
		return fail(1, "%s", err)
	}
	return f, nil
}

// splitYAMLError takes the first "line N: msg" out of a yaml error.
func splitYAMLError(err error) (int, string) {
	var le *lineError
	if errors.As(err, &le) {
		return le.line, le.msg
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, strings.TrimSpace(m[2])
	}
	return 1, msg
}

// at finds the line of the node at path (mapping keys and sequence
// indexes) under the document root; it returns the deepest line found.
func at(root *yaml.Node, path ...any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						if next.Kind == yaml.ScalarNode && next.Value == "" {
							next = n.Content[i] // an empty value: the key's line
						}
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

func (f *File) validate(root *yaml.Node) error {
	bad := func(line int, format string, args ...any) error {
		return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
	}
	if f.Threshold < 0 || f.Threshold > 1 {
		return bad(at(root, "curated_threshold"), "curated_threshold is %g, want a number between 0 and 1", f.Threshold)
	}
	if len(f.Curated) > maxCuratedAnswersInFile {
		return bad(at(root, "curated"), "%d curated answers, the limit is %d", len(f.Curated), maxCuratedAnswersInFile)
	}
	ids := map[string]int{}
	for i := range f.Curated {
		c := &f.Curated[i]
		if c.ID == "" {
			c.ID = fmt.Sprintf("curated-%d", i+1)
		}
		if prev, dup := ids[c.ID]; dup {
			return bad(at(root, "curated", i, "id"), "curated answer id %q is also used by curated[%d]", c.ID, prev)
		}
		ids[c.ID] = i
		if len(c.Questions) == 0 {
			return bad(at(root, "curated", i), "curated[%d] (%s) has no questions", i, c.ID)
		}
		if len(c.Questions) > maxPhrasingsPerAnswer {
			return bad(at(root, "curated", i, "questions"), "curated[%d] has %d questions, the limit is %d", i, len(c.Questions), maxPhrasingsPerAnswer)
		}
		for j, q := range c.Questions {
			if strings.TrimSpace(q) == "" {
				return bad(at(root, "curated", i, "questions", j), "curated[%d] question %d is empty", i, j+1)
			}
		}
		if strings.TrimSpace(c.Answer) == "" {
			return bad(at(root, "curated", i, "answer"), "curated[%d] (%s) has no answer", i, c.ID)
		}
		if len([]rune(c.Answer)) > maxCuratedAnswerRunes {
			return bad(at(root, "curated", i, "answer"), "curated[%d] answer is over %d characters", i, maxCuratedAnswerRunes)
		}
		if c.Source != "" {
			if err := checkURL(c.Source); err != nil {
				return bad(at(root, "curated", i, "source"), "curated[%d] source: %v", i, err)
			}
		}
		if c.Title == "" {
			c.Title = strings.TrimSpace(c.Questions[0])
		}
	}
	for i, b := range f.Blocked {
		if len(b.Topics) == 0 {
			return bad(at(root, "blocked", i), "blocked[%d] has no topics", i)
		}
		for j, t := range b.Topics {
			if strings.TrimSpace(t) == "" {
				return bad(at(root, "blocked", i, "topics", j), "blocked[%d] topic %d is empty", i, j+1)
			}
		}
	}
	e := f.Escalation
	if e.AfterDeclines < 0 {
		return bad(at(root, "escalation", "after_declines"), "after_declines is %d, want 0 (never) or more", e.AfterDeclines)
	}
	for j, p := range e.Phrases {
		if strings.TrimSpace(p) == "" {
			return bad(at(root, "escalation", "phrases", j), "escalation phrase %d is empty", j+1)
		}
	}
	w := e.Webhook
	if w.URL != "" {
		if err := checkURL(w.URL); err != nil {
			return bad(at(root, "escalation", "webhook", "url"), "webhook url: %v", err)
		}
	}
	if c := e.Contact; c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			return bad(at(root, "escalation", "contact", "url"), "contact url: %v", err)
		}
	}
	if c := e.Contact; c.Email != "" && !emailRE.MatchString(c.Email) {
		return bad(at(root, "escalation", "contact", "email"), "contact email %q is not an e-mail address", c.Email)
	}
	if w.URL == "" && (w.SecretEnv != "" || w.Timeout != 0 || w.MaxAttempts != 0) {
		return bad(at(root, "escalation", "webhook"), "webhook settings without a url")
	}
	if w.Timeout < 0 {
		return bad(at(root, "escalation", "webhook", "timeout"), "webhook timeout must not be negative")
	}
	if w.MaxAttempts < 0 || w.MaxAttempts > 20 {
		return bad(at(root, "escalation", "webhook", "max_attempts"), "webhook max_attempts is %d, want 1 to 20", w.MaxAttempts)
	}
	if wc := f.Channels.WeChat; wc != nil {
		switch {
		case wc.Token == "":
			return bad(at(root, "channels", "wechat"), "wechat needs a token (the one set in the account's server configuration)")
		case wc.EncodingAESKey != "" && len(wc.EncodingAESKey) != 43:
			return bad(at(root, "channels", "wechat", "encoding_aes_key"), "encoding_aes_key has %d characters, WeChat's has 43", len(wc.EncodingAESKey))
		case wc.EncodingAESKey != "" && wc.AppID == "":
			return bad(at(root, "channels", "wechat"), "safe mode (encoding_aes_key) needs the app_id")
		case wc.MaxRunes < 0:
			return bad(at(root, "channels", "wechat", "max_runes"), "max_runes must not be negative")
		}
		if wc.APIBaseURL != "" {
			if err := checkURL(wc.APIBaseURL); err != nil {
				return bad(at(root, "channels", "wechat", "api_base_url"), "api_base_url: %v", err)
			}
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
