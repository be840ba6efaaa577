package strategy

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

func TestParseFileExample(t *testing.T) {
	data, err := os.ReadFile("testdata/strategy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("strategy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Curated) != 1 || len(f.Curated[0].Questions) != 4 || f.Curated[0].Source == "" {
		t.Errorf("curated = %+v", f.Curated)
	}
	if f.Blocked[0].Reply.Zh == "" || f.Blocked[0].Reply.En == "" {
		t.Errorf("blocked reply = %+v", f.Blocked[0].Reply)
	}
	if f.SmallTalk.Thanks.En != "You're welcome!" || f.SmallTalk.Thanks.Zh != "You're welcome!" {
		t.Errorf("a plain string is for both languages: %+v", f.SmallTalk.Thanks)
	}
	if f.Escalation.AfterDeclines != 2 || f.Channels.WeChat == nil || f.Channels.WeChat.AppID == "" {
		t.Errorf("escalation %+v, wechat %+v", f.Escalation, f.Channels.WeChat)
	}
	c := f.Escalation.Contact
	if h := c.Handoff("zh"); h == nil || h.Message != "我们的客服会在一个工作日内回复您。" || h.URL != "https://help.example.com/contact" || h.Email != "support@example.com" {
		t.Errorf("contact %+v", h)
	}
	if h := c.Handoff("en"); h == nil || h.Message != "Our team answers within one business day." {
		t.Errorf("contact %+v", h)
	}
	if (Contact{}).Handoff("en") != nil {
		t.Error("an empty contact is a hand-off")
	}
}

func TestParseFileErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"syntax", "persona: x\n  curated: 2\n", "s.yaml:2: mapping values are not allowed"},
		{"unknown field", "persona: x\ncurrated: []\n", "s.yaml:2: field currated not found"},
		{"no answer", "curated:\n  - questions: [a]\n    source: https://x.example\n", "s.yaml:2: curated[0] (curated-1) has no answer"},
		{"empty answer", "curated:\n  - questions: [a]\n    answer: \"\"\n", "s.yaml:3: curated[0] (curated-1) has no answer"},
		{"no questions", "curated:\n  - answer: yes\n", "s.yaml:2: curated[0] (curated-1) has no questions"},
		{"empty question", "curated:\n  - answer: yes\n    questions:\n      - ok\n      - \"  \"\n", "s.yaml:5: curated[0] question 2 is empty"},
		{"bad source", "curated:\n  - answer: yes\n    questions: [a]\n    source: ftp://x\n", "s.yaml:4: curated[0] source"},
		{"duplicate id", "curated:\n  - {id: a, questions: [q], answer: x}\n  - {id: a, questions: [q], answer: y}\n", "s.yaml:3: curated answer id \"a\""},
		{"threshold", "\n\ncurated_threshold: 1.5\n", "s.yaml:3: curated_threshold is 1.5"},
		{"wrong type", "escalation:\n  after_declines: many\n", "s.yaml:2:"},
		{"negative declines", "escalation:\n  after_declines: -1\n", "s.yaml:2: after_declines is -1"},
		{"bad language", "escalation:\n  handoff:\n    fr: bonjour\n", "s.yaml:3: unknown language \"fr\""},
		{"wechat token", "channels:\n  wechat:\n    app_id: wx1\n", "s.yaml:3: wechat needs a token"},
		{"aes key length", "channels:\n  wechat:\n    token: t\n    app_id: wx1\n    encoding_aes_key: short\n", "s.yaml:5: encoding_aes_key has 5 characters"},
		{"contact url", "escalation:\n  contact:\n    message: Write to us\n    url: mailto:x@y.example\n", "s.yaml:4: contact url"},
		{"contact email", "escalation:\n  contact:\n    email: support at example\n", "s.yaml:3: contact email \"support at example\" is not an e-mail address"},
		{"webhook without url", "escalation:\n  webhook:\n    secret_env: X\n", "s.yaml:3: webhook settings without a url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("s.yaml", []byte(tc.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, quarry.ErrInvalid) {
				t.Errorf("code %s", quarry.ErrorCode(err))
			}
			if !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestParseFileEmpty(t *testing.T) {
	f, err := ParseFile("s.yaml", []byte("# nothing yet\n"))
	if err != nil || len(f.Curated) != 0 {
		t.Errorf("%+v, %v", f, err)
	}
}

func FuzzParseFile(f *testing.F) {
	data, _ := os.ReadFile("testdata/strategy.yaml")
	f.Add(data)
	f.Add([]byte("curated:\n  - questions: [a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := ParseFile("f.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error without the file and line: %v", err)
			}
			return
		}
		for _, c := range file.Curated {
			if len(c.Questions) == 0 || strings.TrimSpace(c.Answer) == "" {
				t.Fatalf("invalid curated answer accepted: %+v", c)
			}
		}
	})
}

// The README's example strategy file is valid and says what it seems to
// (a comment inside a block scalar would be part of the persona).
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```yaml\n# DATA/kb/default/strategy.yaml\n"
	i := strings.Index(string(readme), start)
	if i < 0 {
		t.Fatal("the README has no example strategy file")
	}
	body := string(readme[i+len(start):])
	body = body[:strings.Index(body, "```")]
	f, err := ParseFile("README.md", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.Persona, "#") || len(f.Curated) == 0 || len(f.Blocked) == 0 || f.Escalation.Contact.Empty() ||
		f.Escalation.Webhook.URL == "" || f.Channels.WeChat == nil {
		t.Errorf("README example parsed as %+v", f)
	}
}
