package generate

import (
	"context"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/hanfold"
)

// A FAQ page: every question is a line of its own, in the forms help
// centres write them. None may come back as (part of) an answer, even
// when it shares every word with the user's question; the answer is
// the paragraph under it.
func TestExtractiveNeverQuotesFAQQuestions(t *testing.T) {
	faq := chunk("help/faq", "FAQ", "Billing",
		"What happens if I refund my service?\n\nYour plan ends at once and the unused days are paid back within 5 business days.\n\n"+
			"Q: Can I buy a licence myself, or must my company buy it?\nA: You can buy a personal licence in the store; company licences are bought by an admin.\n\n"+
			"**Can I pause my subscription?**\n\nSubscriptions cannot be paused, but you can cancel and subscribe again at any time.")
	faqZH := chunk("help/faq-zh", "常见问题", "许可证",
		"问：我可以自己购买许可证，还是必须让公司来购买？\n\n答：个人可以在商店购买个人许可证，公司许可证由管理员购买。\n\n"+
			"退款后服务会怎样？\n\n套餐立即结束，未使用的天数将在5个工作日内退回。")
	tests := []struct {
		question string
		passages []quarry.Passage
		want     string // the answer holds it
	}{
		{"What happens if I refund my service?", passagesOf(faq), "paid back within 5 business days"},
		{"Can I buy a licence myself or must my company buy it?", passagesOf(faq), "You can buy a personal licence"},
		{"Can I pause my subscription?", passagesOf(faq), "cannot be paused"},
		{"我可以自己购买许可证，还是必须让公司来购买？", passagesOf(faqZH), "个人可以在商店购买个人许可证"},
		{"退款后服务会怎样？", passagesOf(faqZH), "套餐立即结束"},
	}
	questions := []string{"What happens if I refund my service?", "Can I buy a licence myself", "Can I pause my subscription?",
		"我可以自己购买许可证", "退款后服务会怎样"}
	for _, tc := range tests {
		t.Run(tc.question, func(t *testing.T) {
			a, err := NewExtractive(Config{}).Answer(context.Background(), tc.question, tc.passages, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkGrounded(t, a, tc.passages)
			if !a.Answered || !strings.Contains(a.Text, tc.want) {
				t.Errorf("answer (answered=%v) %q, want one holding %q", a.Answered, a.Text, tc.want)
			}
			for _, q := range questions {
				if strings.Contains(a.Text, q) {
					t.Errorf("answer %q quotes the FAQ question %q", a.Text, q)
				}
			}
		})
	}
}

// A procedure is quoted as its whole list of steps, not as the one
// step that shares the most words with the question.
func TestExtractiveKeepsStepListWhole(t *testing.T) {
	steps := "Open the app and tap Account.\nTap Security > Password.\nEnter your email address.\nWe send a reset link to that address.\nOpen the link within 1 hour and choose a new password."
	tests := []struct {
		name, question, text string
	}{
		{"steps under a heading", "How do I reset my password?",
			"To reset your password:\n\n" + steps},
		{"steps alone", "How do I reset my password?", steps},
		{"chinese steps", "怎么重置密码？",
			"重置密码的步骤：\n\n打开应用，点击账户。\n点击安全 > 密码。\n输入您的邮箱地址。\n我们会向该地址发送重置链接。\n在1小时内打开链接并设置新密码。"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := passagesOf(chunk("acct/password", "Password", "Reset your password", tc.text))
			a, err := NewExtractive(Config{}).Answer(context.Background(), tc.question, ps, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkGrounded(t, a, ps)
			list := tc.text[strings.LastIndex(tc.text, "\n\n")+1:]
			for _, step := range strings.Split(strings.TrimSpace(list), "\n") {
				if !strings.Contains(a.Text, step) {
					t.Errorf("answer %q leaves out the step %q", a.Text, step)
				}
			}
			if len(a.Citations) != 1 {
				t.Errorf("%d citations, want the one list", len(a.Citations))
			}
		})
	}
}

func TestUnitOf(t *testing.T) {
	text := "Intro sentence. Second sentence.\n\n| Plan | Price\nBasic | $5\nPro | $9\n\nQ: Is it safe?\nA: Yes, it is. Fully.\n\n" +
		strings.Repeat("Long paragraph sentence number one goes on. ", 20)
	find := func(s string) Sentence {
		for _, x := range SplitSentences(text) {
			if strings.Contains(x.Text, s) {
				return x
			}
		}
		t.Fatalf("no sentence %q", s)
		return Sentence{}
	}
	tests := []struct{ sentence, want string }{
		{"Second sentence.", "Intro sentence. Second sentence."},
		{"Pro | $9", "Pro | $9"},
		{"Yes, it is.", "A: Yes, it is. Fully."},
		{"Long paragraph", "Long paragraph sentence number one goes on."},
	}
	for _, tc := range tests {
		s := find(tc.sentence)
		u := unitOf(text, s)
		if u.Text != tc.want || text[u.Start:u.End] != u.Text {
			t.Errorf("unit of %q = %q, want %q", tc.sentence, u.Text, tc.want)
		}
	}
}

func TestListAnswerType(t *testing.T) {
	asks := map[string]bool{
		"For a DingTalk alert instance, which message formats can I pick?": true,
		"What login methods are supported?":                                true,
		"Which remote storage services can task logs be written to?":       true,
		"支持哪些告警方式？":                                                        true,
		"What happens if I refund my service?":                             false,
		"Which plan is cheaper?":                                           false,
		"What does the status light mean?":                                 false,
		"How do I reset my password?":                                      false,
	}
	for q, want := range asks {
		if got := asksList(q); got != want {
			t.Errorf("asksList(%q) = %v, want %v", q, got, want)
		}
	}
	lists := map[string]bool{
		"Msg Type — Description: Message parse type (support txt, markdown, markdownV2, html).":                      true,
		"Currently support OSS, S3, GCS, ABS":                                                                        true,
		"Sign-in supports four types, Kestrel Household password, LDAP, Casdoor SSO and OAuth2, with OAuth2 on top.": true,
		"Open the app, tap Settings and choose Region, then restart.":                                                false,
		"支持邮件、钉钉、企业微信和飞书。":                                                                                           true,
		"If you cancel, we refund the price, minus fees, within 30 days.":                                            false,
		"Pair the hub with Apple Home from Hub settings > Matter.":                                                   false,
	}
	for s, want := range lists {
		if got := sentenceTypes(s)&typeList != 0; got != want {
			t.Errorf("sentenceTypes(%q) has typeList %v, want %v", s, got, want)
		}
	}
	// Of two rows that share the question's words, the one that lists
	// the choices answers "which ... can I pick".
	ps := passagesOf(chunk("alert/dingtalk", "DingTalk", "Parameters",
		"WebHook — Description: The format is: https://oapi.dingtalk.com/robot/send?access_token=XXXXXX.\n\n"+
			"Msg Type — Description: Message parse type (support txt, markdown, markdownV2, html)."))
	cands := rankSentences(Config{}.withDefaults(), "For a DingTalk alert, which message formats can I pick?", ps, novelty{})
	if len(cands) == 0 || !strings.HasPrefix(cands[0].s.Text, "Msg Type") || !cands[0].typed {
		t.Errorf("best sentence %+v, want the Msg Type row, typed", cands)
	}
}

// Traditional and simplified characters are the same terms: a question
// in traditional characters gets the answer its simplified twin gets,
// from a simplified page and from its traditional copy.
func TestExtractiveTraditionalSimplified(t *testing.T) {
	simplified := passagesOf(chunk("cn/refund", "退款", "退款时效",
		"退款将在3个工作日内原路退回。\n\n门锁的电子部件保修2年。"))
	traditional := passagesOf(chunk("cn/refund", "退款", "退款時效",
		"退款將在3個工作日內原路退回。\n\n門鎖的電子部件保修2年。"))
	ask := func(q string, ps []quarry.Passage) quarry.Answer {
		t.Helper()
		a, err := NewExtractive(Config{}).Answer(context.Background(), q, ps, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, q := range [][2]string{{"退款需要几个工作日？", "退款需要幾個工作日？"}, {"门锁的电子部件保修多久？", "門鎖的電子部件保修多久？"}} {
		want := ask(q[0], simplified)
		if !want.Answered {
			t.Fatalf("%s: not answered from the simplified page", q[0])
		}
		if got := ask(q[1], simplified); got.Text != want.Text {
			t.Errorf("%s on the simplified page: %q, want %q", q[1], got.Text, want.Text)
		}
		// The same sentences, in the page's own characters.
		if got := ask(q[0], traditional); !got.Answered || hanfold.Fold(got.Text) != want.Text {
			t.Errorf("%s on the traditional page: %q, want the traditional form of %q", q[0], got.Text, want.Text)
		}
	}
}

// TestProcedureSteps checks that a step of a procedure written as a
// heading's subsections (a subheading line, then the step, as ingestion
// folds them) is quoted with the steps before it when the question asks
// how to do something, and only then.
func TestProcedureSteps(t *testing.T) {
	procedure := "See the provider's guide for details.\n\n" +
		"Create an app\n\nOpen the developer console and create a new app.\n\n" +
		"Turn on webhooks\n\nIn the app's Features, switch Incoming Webhooks to On.\n\n" +
		"Copy the address\n\nCopy the webhook address into the alert settings."
	rows := "Plan A — Price: $10; Notes: one camera.\n\nPlan B — Price: $20; Notes: five cameras.\n\nPlan C — Price: $30; Notes: any number of cameras."
	prose := "The hub keeps working offline.\n\nAutomations run on the hub itself.\n\nCopy the webhook address into the alert settings."
	last := func(text, s string) Sentence {
		i := strings.Index(text, s)
		return Sentence{Start: i, End: i + len(s), Text: s}
	}
	tests := []struct {
		name, text, unit string
		limit            int
		want             string // "" means no span
	}{
		{"folded procedure", procedure, "Copy the webhook address into the alert settings.", 800, procedure},
		{"too long for the answer", procedure, "Copy the webhook address into the alert settings.", 200, ""},
		{"first step has nothing before it", procedure, "See the provider's guide for details.", 800, ""},
		{"table rows are not steps", rows, "Plan C — Price: $30; Notes: any number of cameras.", 800, ""},
		{"paragraphs without subheadings", prose, "Copy the webhook address into the alert settings.", 800, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stepsUpTo(tt.text, last(tt.text, tt.unit), tt.limit)
			if tt.want == "" {
				if ok {
					t.Errorf("span %q, want none", got.Text)
				}
				return
			}
			if !ok || got.Text != tt.want || tt.text[got.Start:got.End] != got.Text {
				t.Errorf("span %q (ok %v), want %q", got.Text, ok, tt.want)
			}
		})
	}

	asks := map[string]bool{
		"How do I get the webhook address for alerts?": true,
		"How can we turn on webhooks?":                 true,
		"How to get a webhook address":                 true,
		"如何获取 Webhook 地址？":                             true,
		"怎么开启 Webhook？":                                true,
		"How long does a refund take?":                 false,
		"How much is Plan B?":                          false,
		"What is the webhook address?":                 false,
		"超出限制会怎样？":                                     false,
		"这个功能怎么样？":                                     false,
	}
	for q, want := range asks {
		if got := asksHow(q); got != want {
			t.Errorf("asksHow(%q) = %v, want %v", q, got, want)
		}
	}

	// End to end: the answer to "how do I" quotes the steps.
	ps := passagesOf(chunk("alert/slack", "Slack", "How to get a webhook", procedure))
	q := "How do I get the webhook address for Slack alerts?"
	a, err := NewExtractive(Config{Vocabulary: &vocab{known: knownWords(vocabularyWords(q)...)}}).Answer(context.Background(), q, ps, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkGrounded(t, a, ps)
	if !a.Answered || !strings.Contains(a.Text, "switch Incoming Webhooks to On") || !strings.Contains(a.Text, "Copy the webhook address") {
		t.Errorf("answer %q, want the steps up to the address", a.Text)
	}
}

// TestSubheading checks which paragraphs are folded subheadings: they
// name a topic and are never quoted as an answer.
func TestSubheading(t *testing.T) {
	text := "Create an app\n\nOpen the console and create an app.\n\n- Wi-Fi only\n\n" +
		"Plan A | $10\n\nA: Yes\n\n2，如果 Worker 服务掉了，Master 会重试\n\n不适用七天无理由退货的商品\n\n" +
		"Two lines\nin one paragraph\n\nSee billing, invoicing and volume pricing"
	tests := []struct {
		s    string
		want bool
	}{
		{"Create an app", true},
		{"Open the console and create an app.", false},
		{"- Wi-Fi only", false},
		{"Plan A | $10", false},
		{"A: Yes", false},
		{"2，如果 Worker 服务掉了，Master 会重试", false},
		{"不适用七天无理由退货的商品", true},
		{"Two lines", false},
		{"See billing, invoicing and volume pricing", true},
	}
	for _, tt := range tests {
		i := strings.Index(text, tt.s)
		if got := isSubheading(text, Sentence{Start: i, End: i + len(tt.s), Text: tt.s}); got != tt.want {
			t.Errorf("isSubheading(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
	// Asked something else than how, the answer quotes the step, not
	// the subheadings around it.
	procedure := "Turn on webhooks\n\nIn the app's Features, switch Incoming Webhooks to On.\n\nCopy the address\n\nCopy the webhook address into the alert settings."
	ps := passagesOf(chunk("alert/slack", "Slack", "Webhooks", procedure))
	q := "Which switch turns on incoming webhooks?"
	a, err := NewExtractive(Config{MinSupport: -1}).Answer(context.Background(), q, ps, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkGrounded(t, a, ps)
	if !strings.HasPrefix(a.Text, "In the app's Features") || strings.Contains(a.Text, "Turn on webhooks") {
		t.Errorf("answer %q, want the step without its subheading", a.Text)
	}
}
