package generate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// checkGrounded checks what every answer promises: citations numbered
// 1..n, each marker [n] in the text backed by a citation and each
// citation used, and every snippet a verbatim substring of the cited
// chunk, which is one of the passages.
func checkGrounded(t *testing.T, a quarry.Answer, passages []quarry.Passage) {
	t.Helper()
	if !a.Grounded {
		t.Errorf("answer not grounded")
	}
	if a.Citations == nil {
		t.Errorf("nil citations (want an empty list)")
	}
	byID := map[string]quarry.Passage{}
	for _, p := range passages {
		byID[p.ID] = p
	}
	for i, c := range a.Citations {
		if c.N != i+1 {
			t.Errorf("citation %d numbered %d", i, c.N)
		}
		p, ok := byID[c.ChunkID]
		if !ok {
			t.Errorf("citation [%d] cites %q, not a passage", c.N, c.ChunkID)
			continue
		}
		if c.Snippet == "" || !strings.Contains(p.Text, c.Snippet) {
			t.Errorf("citation [%d] snippet %q is not in chunk %s", c.N, c.Snippet, c.ChunkID)
		}
		if c.DocID != p.DocID || c.Path != p.Path || c.Title != p.Title || c.Heading != p.Heading || c.Page != p.Page {
			t.Errorf("citation [%d] %+v does not describe chunk %+v", c.N, c, p.Chunk)
		}
		if !strings.Contains(a.Text, "["+strconv.Itoa(c.N)+"]") {
			t.Errorf("citation [%d] is not used in %q", c.N, a.Text)
		}
	}
	for _, m := range regexp.MustCompile(`\[(\d+)\]`).FindAllStringSubmatch(a.Text, -1) {
		if n, _ := strconv.Atoi(m[1]); n < 1 || n > len(a.Citations) {
			t.Errorf("marker %s has no citation", m[0])
		}
	}
	if a.Answered != (len(a.Citations) > 0) {
		t.Errorf("answered=%v with %d citations", a.Answered, len(a.Citations))
	}
}

// TestExtractiveCalibration runs the default answerer over answerable
// and unanswerable questions in both languages, without a vocabulary
// and with the hand-written corpus's own, and checks that the threshold
// in effect for each question separates them with a margin.
func TestExtractiveCalibration(t *testing.T) {
	for _, withVocab := range []bool{false, true} {
		name := "no vocabulary"
		if withVocab {
			name = "corpus vocabulary"
		}
		t.Run(name, func(t *testing.T) {
			// The smallest margin of support over the threshold in effect
			// for an answerable question, and under it for an unanswerable one.
			yesMargin, noMargin := 1.0, 1.0
			for _, c := range calibration {
				t.Run(c.question, func(t *testing.T) {
					cfg := Config{}
					threshold := DefaultMinSupportUnknown
					if withVocab {
						v := corpusVocabulary(corpusFor(c.lang))
						cfg.Vocabulary = v
						if known, _ := v.Known(context.Background(), vocabularyWords(c.question)); !slices.Contains(known, false) {
							threshold = DefaultMinSupport
						}
					}
					e := NewExtractive(cfg)
					passages := retrieveFrom(corpusFor(c.lang), c.question, 8)
					a, err := e.Answer(context.Background(), c.question, passages, nil)
					if err != nil {
						t.Fatal(err)
					}
					checkGrounded(t, a, passages)
					if a.Lang != c.lang {
						t.Errorf("lang %q, want %q", a.Lang, c.lang)
					}
					nov, err := e.novelty(context.Background(), c.question)
					if err != nil {
						t.Fatal(err)
					}
					if nov.any != (threshold == DefaultMinSupportUnknown) {
						t.Fatalf("novelty %+v with threshold %.2f", nov, threshold)
					}
					support := e.compose(c.question, passages, nov).Support
					if c.answer == "" {
						noMargin = min(noMargin, threshold-support)
						if a.Answered || a.Text != DontKnow(c.lang) || len(a.Citations) != 0 {
							t.Errorf("should abstain (support %.3f, threshold %.2f), answered %q", support, threshold, a.Text)
						}
						return
					}
					yesMargin = min(yesMargin, support-threshold)
					if !a.Answered || !strings.Contains(a.Text, c.answer) {
						t.Errorf("answer %q (support %.3f, threshold %.2f) does not quote %q", a.Text, support, threshold, c.answer)
					}
				})
			}
			t.Logf("margins: answerable %.3f above their threshold, unanswerable %.3f below", yesMargin, noMargin)
			if yesMargin < 0.03 || noMargin < 0.03 {
				t.Errorf("a threshold leaves less than 0.03 margin: answerable %.3f above, unanswerable %.3f below", yesMargin, noMargin)
			}
		})
	}
}

func passagesOf(chunks ...quarry.Chunk) []quarry.Passage {
	ps := make([]quarry.Passage, len(chunks))
	for i, c := range chunks {
		ps[i] = quarry.Passage{Chunk: c, Score: 1 / float64(i+1)}
	}
	return ps
}

func TestExtractiveAnswer(t *testing.T) {
	cards := chunk("returns/cards", "Refunds", "Cards", "Refunds to credit cards appear within 5 business days.\n\nContact your bank if they do not.")
	paypal := chunk("returns/paypal", "Refunds", "PayPal", "Refunds to PayPal arrive within 3 days.")
	tests := []struct {
		name     string
		cfg      Config
		question string
		passages []quarry.Passage
		want     string
		wantIDs  []string // cited chunks, in citation order
	}{
		{
			name:     "sentences from two passages, numbered in order",
			question: "How long do refunds take?",
			passages: passagesOf(cards, paypal),
			want:     "Refunds to credit cards appear within 5 business days. [1] Refunds to PayPal arrive within 3 days. [2]",
			wantIDs:  []string{cards.ID, paypal.ID},
		},
		{
			name:     "retrieval rank decides between equally good sentences",
			question: "How long do refunds take?",
			passages: passagesOf(paypal, cards),
			want:     "Refunds to PayPal arrive within 3 days. [1] Refunds to credit cards appear within 5 business days. [2]",
			wantIDs:  []string{paypal.ID, cards.ID},
		},
		{
			name:     "MaxSentences 1",
			cfg:      Config{MaxSentences: 1},
			question: "How long do refunds take?",
			passages: passagesOf(cards, paypal),
			want:     "Refunds to credit cards appear within 5 business days. [1]",
			wantIDs:  []string{cards.ID},
		},
		{
			// The first step shares hub and pair with the question, enough
			// for an extra sentence; quoted in text order.
			name:     "an extra sentence that shares the question's words is quoted in text order",
			question: "How do I pair the hub with Apple Home?",
			passages: passagesOf(chunk("d/hub", "Hub", "Matter", "Open Hub settings > Matter > Pair to show a setup code. In the Apple Home app, tap Add accessory and scan the hub's setup code to pair.")),
			want:     "Open Hub settings > Matter > Pair to show a setup code. In the Apple Home app, tap Add accessory and scan the hub's setup code to pair. [1]",
			wantIDs:  []string{"d/hub#0"},
		},
		{
			name:     "the right sentence, not the first",
			question: "How long is the reset link valid?",
			passages: passagesOf(chunk("a/pw", "Password", "", "If you forgot your password, tap Forgot password.\n\nWe send you a reset link that is valid for 1 hour.\n\nChoose a new password of 10 characters.")),
			want:     "We send you a reset link that is valid for 1 hour. [1]",
			wantIDs:  []string{"a/pw#0"},
		},
		{
			name:     "sentences of one passage keep their order and share a citation",
			question: "How do I pair the hub with Apple Home?",
			passages: passagesOf(chunk("d/hub", "Hub", "Matter", "Pair the hub with Apple Home from Hub settings > Matter. Apple Home then asks you to scan the hub's code to pair it.")),
			// One paragraph is one unit: quoted whole, cited once.
			want:    "Pair the hub with Apple Home from Hub settings > Matter. Apple Home then asks you to scan the hub's code to pair it. [1]",
			wantIDs: []string{"d/hub#0"},
		},
		{
			name:     "near-duplicates are quoted once",
			question: "How long do refunds take?",
			passages: passagesOf(cards, chunk("returns/copy", "Refunds", "", "Refunds to credit cards appear within 5 business days!")),
			want:     "Refunds to credit cards appear within 5 business days. [1]",
			wantIDs:  []string{cards.ID},
		},
		{
			name:     "headings are not answers, and list markers are left out",
			question: "How do I delete my account?",
			passages: passagesOf(chunk("a/del", "Account", "", "## Delete your account\n\n1. Go to Account > Privacy > Delete account.")),
			want:     "Go to Account > Privacy > Delete account. [1]",
			wantIDs:  []string{"a/del#0"},
		},
		{
			name:     "a question asking how long prefers the sentence with the figure",
			cfg:      Config{MaxSentences: 1},
			question: "How long does delivery to Canada take?",
			passages: passagesOf(chunk("s/ca", "Shipping to Canada", "Delivery", "Orders to Canada ship from Ontario.\n\nStandard delivery takes 3 to 6 business days.")),
			want:     "Standard delivery takes 3 to 6 business days. [1]",
			wantIDs:  []string{"s/ca#0"},
		},
		{
			name:     "table header rows and title lines are not answers",
			question: "What are the Chicago store's hours on Saturday?",
			passages: passagesOf(chunk("s/hours", "Store hours", "Stores > Hours",
				"Store hours\n\nStore | Address | Monday to Saturday | Sunday\n\nChicago | 905 W Randolph Street | 9 a.m. to 8 p.m. | Closed\nAustin | 1100 Congress Ave | 10 a.m. to 7 p.m. | 11 a.m. to 5 p.m.")),
			want:    "Chicago | 905 W Randolph Street | 9 a.m. to 8 p.m. | Closed [1]",
			wantIDs: []string{"s/hours#0"},
		},
		{
			name:     "only the top passages are quoted",
			cfg:      Config{TopPassages: 1},
			question: "How long do refunds take?",
			passages: passagesOf(cards, paypal),
			want:     "Refunds to credit cards appear within 5 business days. [1]",
			wantIDs:  []string{cards.ID},
		},
		{
			name:     "chinese sentences join without spaces",
			question: "退款多久到账？",
			passages: passagesOf(
				chunk("cn/refund", "退款", "退款时效", "退款将在3个工作日内退回到您的支付账户。到账时间取决于银行。"),
				chunk("cn/wx", "退款", "微信", "微信支付的退款一般当天到账。"),
			),
			// The second passage's sentence holds every term and a
			// duration (当天), so it comes first; the other passage's
			// paragraph is quoted whole after it.
			want:    "微信支付的退款一般当天到账。[1]退款将在3个工作日内退回到您的支付账户。到账时间取决于银行。[2]",
			wantIDs: []string{"cn/wx#0", "cn/refund#0"},
		},
		{
			name:     "a synonym counts: money back is a refund",
			question: "Do I get my money back if I cancel my yearly plan?",
			passages: passagesOf(chunk("b/cancel", "Cancelling", "Annual plans",
				"Plans renew automatically. If you cancel an annual plan within 30 days, we refund the full price.")),
			want:    "Plans renew automatically. If you cancel an annual plan within 30 days, we refund the full price. [1]",
			wantIDs: []string{"b/cancel#0"},
		},
		{
			name:     "the sentence with the asked-for kind of fact wins",
			question: "How much does overnight delivery cost?",
			passages: passagesOf(
				chunk("s/areas", "Shipping", "Overnight", "Overnight delivery is available in the lower 48 states."),
				chunk("s/rates", "Shipping", "Overnight", "Overnight delivery costs $24.99 per order.")),
			// The lower-ranked passage gives the price: it is the answer.
			want:    "Overnight delivery costs $24.99 per order. [1]",
			wantIDs: []string{"s/rates#0"},
		},
		{
			name:     "chinese: a duration answers 多久",
			question: "换货多久能发出？",
			passages: passagesOf(
				chunk("cn/apply", "换货", "换货", "换货需要在App中提交申请，审核后发出新品。"),
				chunk("cn/ex", "换货", "换货", "仓库收到退回商品后，会在2个工作日内发出新品。")),
			want:    "仓库收到退回商品后，会在2个工作日内发出新品。[1]换货需要在App中提交申请，审核后发出新品。[2]",
			wantIDs: []string{"cn/ex#0", "cn/apply#0"},
		},
		{
			name:     "a sentence ending in a colon is quoted with what follows",
			question: "What discount do businesses get on large orders?",
			passages: passagesOf(chunk("b/vol", "Business", "Volume pricing",
				"Businesses get a volume discount on large orders:\n\n- 10% off orders of 20 to 99 devices\n- 15% off orders of 100 devices or more")),
			// The list is one unit, quoted whole after the sentence
			// that introduces it.
			want:    "Businesses get a volume discount on large orders: [1] 10% off orders of 20 to 99 devices\n- 15% off orders of 100 devices or more [1]",
			wantIDs: []string{"b/vol#0"},
		},
		{
			name:     "english question, chinese passage",
			question: "How long for a 退款?",
			passages: passagesOf(chunk("cn/refund", "退款", "", "退款将在3个工作日内退回。")),
			want:     "退款将在3个工作日内退回。[1]",
			wantIDs:  []string{"cn/refund#0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewExtractive(tt.cfg).Answer(context.Background(), tt.question, tt.passages, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkGrounded(t, a, tt.passages)
			if !a.Answered || a.Text != tt.want {
				t.Errorf("answer (answered=%v)\n got %q\nwant %q", a.Answered, a.Text, tt.want)
			}
			var ids []string
			for _, c := range a.Citations {
				ids = append(ids, c.ChunkID)
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("cited %v, want %v", ids, tt.wantIDs)
			}
			if !reflect.DeepEqual(a.Passages, tt.passages) {
				t.Errorf("answer does not carry its passages")
			}
		})
	}
}

func TestExtractiveSnippetSpansQuotedSentences(t *testing.T) {
	text := "Pair the hub with Apple Home from Hub settings > Matter.\n\nWait a moment.\n\nApple Home then asks you to scan the hub's code to pair it."
	a, err := NewExtractive(Config{}).Answer(context.Background(), "How do I pair the hub with Apple Home?",
		passagesOf(chunk("d/hub", "Hub", "", text)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Citations) != 1 || a.Citations[0].Snippet != text {
		t.Fatalf("citations %+v, want one whose snippet spans both quoted sentences", a.Citations)
	}
	if strings.Contains(a.Text, "Wait a moment") {
		t.Errorf("quoted an irrelevant sentence: %q", a.Text)
	}
}

// A term that only one retrieved passage holds but that most of its
// sentences repeat (the topic, "hub") must not outweigh the term that
// singles out the answering sentence ("reset"): rarity among sentences,
// not only among passages, decides which sentence answers.
func TestExtractiveSentenceRarity(t *testing.T) {
	tests := []struct {
		name, question, want string
		chunks               []quarry.Chunk
	}{
		{"en", "How do I reset the hub?", "Press and hold the button for 10 seconds to reset it.", []quarry.Chunk{
			chunk("d/hub", "Hub", "", "The hub sits on a shelf. The hub has a status light. The hub uses Wi-Fi. Press and hold the button for 10 seconds to reset it."),
			chunk("d/factory", "Factory settings", "", "A factory reset erases your settings."),
		}},
		{"zh", "网关怎么重置？", "长按按钮10秒即可重置。", []quarry.Chunk{
			chunk("d/gw", "网关", "", "网关放在书架上。网关有指示灯。网关使用无线网络。长按按钮10秒即可重置。"),
			chunk("d/factory", "恢复出厂", "", "重置会清除所有设置。"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands := rankSentences(Config{}.withDefaults(), tt.question, passagesOf(tt.chunks...), novelty{})
			if len(cands) == 0 || cands[0].s.Text != tt.want {
				var got []string
				for _, c := range cands {
					got = append(got, c.s.Text)
				}
				t.Fatalf("ranked %q, want %q first", got, tt.want)
			}
			if conf := confidence(cands[0]); conf < DefaultMinSupportUnknown {
				t.Errorf("confidence %.2f of the answering sentence is below the default threshold", conf)
			}
		})
	}
}

func TestExtractiveAbstains(t *testing.T) {
	account := chunk("a/acct", "Account", "", "Your account holds your homes and devices. You can sign in to your account on up to 5 phones.")
	tests := []struct {
		name, question, lang string
		passages             []quarry.Passage
		cfg                  Config
	}{
		{"no passages", "How do I get a refund?", "en", nil, Config{}},
		{"no content terms", "How do I do it?", "en", passagesOf(account), Config{}},
		{"only generic words shared", "How do I change the email on my account?", "en", passagesOf(account), Config{}},
		{"rare word without the rest", "How do I delete my account?", "en", passagesOf(
			chunk("c/trash", "Clips", "", "Deleted clips stay in the trash for 30 days."),
			account,
			chunk("a/owner", "Owners", "", "The Owner of a home manages every account that shares it."),
		), Config{}},
		// Half the question's words: quoted at the default MinSupport
		// (calibrated on the sample help centre, where long questions
		// often share half their words with the answer), withheld by a
		// stricter deployment.
		{"two of four terms, strict", "Does the doorbell work with Google Home?", "en",
			passagesOf(chunk("a/gh", "Assistants", "", "Assign each device to a room in Google Home.")), Config{MinSupport: 0.55}},
		{"chinese, no passages", "怎么退款？", "zh", nil, Config{}},
		{"chinese, only generic words shared", "怎么修改账户的邮箱？", "zh",
			passagesOf(chunk("cn/a", "账户", "", "您的账户用于管理家庭和设备。")), Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewExtractive(tt.cfg).Answer(context.Background(), tt.question, tt.passages, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := quarry.Answer{Text: DontKnow(tt.lang), Answered: false, Grounded: true, Lang: tt.lang,
				Citations: []quarry.Citation{}, Passages: tt.passages}
			if !reflect.DeepEqual(a, want) {
				t.Fatalf("got %+v\nwant %+v", a, want)
			}
		})
	}
	if DontKnow("en") == DontKnow("zh") || !strings.Contains(DontKnow("zh"), "抱歉") {
		t.Error("the Chinese apology should be in Chinese")
	}
}

// recorder collects streamed events; it fails with errStop on event
// number failAt (1-based), if set.
type recorder struct {
	events []quarry.Event
	failAt int
}

var errStop = errors.New("client went away")

func (r *recorder) send(ev quarry.Event) error {
	r.events = append(r.events, ev)
	if len(r.events) == r.failAt {
		return errStop
	}
	return nil
}

func (r *recorder) types() []string {
	var ts []string
	for _, ev := range r.events {
		ts = append(ts, ev.Type)
	}
	return ts
}

func TestExtractiveStreaming(t *testing.T) {
	passages := retrieveFrom(corpusEN, "How do I delete my account?", 8)
	for _, question := range []string{"How do I delete my account?", "Is the camera waterproof?"} {
		t.Run(question, func(t *testing.T) {
			var rec recorder
			a, err := NewExtractive(Config{}).Answer(context.Background(), question, passages, rec.send)
			if err != nil {
				t.Fatal(err)
			}
			ts := rec.types()
			n := len(ts)
			if n < 4 || ts[0] != quarry.EventPassages || ts[n-2] != quarry.EventCitations || ts[n-1] != quarry.EventDone {
				t.Fatalf("event order %v", ts)
			}
			var text strings.Builder
			for _, ev := range rec.events[1 : n-2] {
				if ev.Type != quarry.EventDelta {
					t.Fatalf("event order %v", ts)
				}
				text.WriteString(ev.Delta)
			}
			if text.String() != a.Text {
				t.Errorf("deltas %q, answer %q", text.String(), a.Text)
			}
			if a.Answered && n-3 < 2 {
				t.Errorf("answer streamed in %d piece(s), want one per sentence", n-3)
			}
			if !reflect.DeepEqual(rec.events[0].Passages, passages) {
				t.Errorf("passages event does not carry the passages")
			}
			if !reflect.DeepEqual(rec.events[n-2].Citations, a.Citations) {
				t.Errorf("citations event %+v, answer %+v", rec.events[n-2].Citations, a.Citations)
			}
			if done := rec.events[n-1].Answer; done == nil || !reflect.DeepEqual(*done, a) {
				t.Errorf("done event %+v, answer %+v", done, a)
			}
		})
	}
}

func TestExtractiveSendErrorStops(t *testing.T) {
	passages := retrieveFrom(corpusEN, "How do I delete my account?", 8)
	var full recorder
	if _, err := NewExtractive(Config{}).Answer(context.Background(), "How do I delete my account?", passages, full.send); err != nil {
		t.Fatal(err)
	}
	for failAt := 1; failAt <= len(full.events); failAt++ {
		t.Run(fmt.Sprintf("fail at event %d", failAt), func(t *testing.T) {
			rec := recorder{failAt: failAt}
			_, err := NewExtractive(Config{}).Answer(context.Background(), "How do I delete my account?", passages, rec.send)
			if !errors.Is(err, errStop) {
				t.Fatalf("error %v, want the send error", err)
			}
			if len(rec.events) != failAt {
				t.Fatalf("%d events sent after a failure at %d", len(rec.events), failAt)
			}
		})
	}
}

func TestExtractiveCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var rec recorder
	_, err := NewExtractive(Config{}).Answer(ctx, "How do I delete my account?", passagesOf(corpusEN[0]), rec.send)
	if !errors.Is(err, quarry.ErrCanceled) {
		t.Fatalf("error %v, want canceled", err)
	}
	if len(rec.events) != 0 {
		t.Fatalf("sent %v on a canceled context", rec.types())
	}
}

func BenchmarkExtractiveAnswer(b *testing.B) {
	for _, c := range []struct{ lang, q string }{
		{"en", "How long do refunds to a credit card take?"},
		{"zh", "退款多久到账？"},
	} {
		passages := retrieveFrom(corpusFor(c.lang), c.q, 8)
		e := NewExtractive(Config{})
		ctx := context.Background()
		b.Run(c.lang, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Answer(ctx, c.q, passages, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// vocab is a Vocabulary over a fixed set of words; it records what it is
// asked and fails with err if set.
type vocab struct {
	known map[string]bool
	asked [][]string
	err   error
	short bool // answer one word too few
	stem  bool // look words up by their terms (see corpusVocabulary)
}

func (v *vocab) Known(_ context.Context, words []string) ([]bool, error) {
	v.asked = append(v.asked, words)
	if v.err != nil {
		return nil, v.err
	}
	out := make([]bool, len(words))
	for i, w := range words {
		out[i] = v.known[w]
		if v.stem {
			out[i] = true
			eachTerm(w, func(t string, _ float64) { out[i] = out[i] && v.known[t] })
		}
	}
	if v.short {
		out = out[1:]
	}
	return out, nil
}

func knownWords(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

// TestExtractiveVocabulary checks the two thresholds: a sentence that
// shares about two fifths of the question is quoted when the knowledge
// base knows every word of the question, and withheld when the question
// names something it never mentions, when nobody can tell (no
// Vocabulary), or when the lookup fails (with a note).
func TestExtractiveVocabulary(t *testing.T) {
	en := passagesOf(chunk("d/doorbell", "Doorbell", "", "The doorbell camera sends an alert when it sees a person."))
	const enQ = "Can the doorbell camera recognise faces of my neighbours?"
	enWords := []string{"doorbell", "camera", "recognise", "faces", "neighbours"}
	zh := passagesOf(chunk("cn/lock", "门锁", "", "门锁可以和智能网关联动。"))
	const zhQ = "门锁可以和小区门禁联动吗？"
	zhWords := []string{"门", "锁", "小", "区", "禁", "联", "动"}
	lookupFailed := errors.New("index closed")
	tests := []struct {
		name, question string
		passages       []quarry.Passage
		v              *vocab // nil: no Vocabulary
		answered       bool
		note           string
		words          []string // what the vocabulary is asked
	}{
		{"en, every word known", enQ, en, &vocab{known: knownWords(enWords...)}, true, "", enWords},
		{"en, a word the knowledge base never uses", enQ, en, &vocab{known: knownWords("doorbell", "camera", "faces", "neighbours")}, false, "", enWords},
		{"en, no vocabulary", enQ, en, nil, false, "", nil},
		{"en, lookup fails", enQ, en, &vocab{err: lookupFailed}, false, "index closed", enWords},
		{"en, lookup answers too few words", enQ, en, &vocab{known: knownWords(enWords...), short: true}, false, "answered 4 words of 5", enWords},
		{"zh, every character known", zhQ, zh, &vocab{known: knownWords(zhWords...)}, true, "", zhWords},
		{"zh, 门禁 never mentioned", zhQ, zh, &vocab{known: knownWords("门", "锁", "小", "区", "联", "动")}, false, "", zhWords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.v != nil {
				cfg.Vocabulary = tt.v
			}
			a, err := NewExtractive(cfg).Answer(context.Background(), tt.question, tt.passages, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkGrounded(t, a, tt.passages)
			if a.Answered != tt.answered {
				t.Errorf("answered %v, want %v: %q", a.Answered, tt.answered, a.Text)
			}
			if tt.answered && !strings.Contains(a.Text, tt.passages[0].Text) {
				t.Errorf("answer %q does not quote the passage", a.Text)
			}
			notes := strings.Join(a.Notes, "\n")
			if tt.note == "" && notes != "" || !strings.Contains(notes, tt.note) {
				t.Errorf("notes %q, want %q", notes, tt.note)
			}
			if tt.v != nil && (len(tt.v.asked) != 1 || !slices.Equal(tt.v.asked[0], tt.words)) {
				t.Errorf("vocabulary asked %q, want %q once", tt.v.asked, tt.words)
			}
		})
	}
}

// A stricter MinSupport is not loosened by MinSupportUnknown, and a
// negative MinSupport (never abstain) holds for unknown words too. The
// sentence covers half the question: above MinSupportUnknown.
func TestExtractiveThresholdOrder(t *testing.T) {
	passages := passagesOf(chunk("d/cam", "Camera", "", "The outdoor camera works in rain and snow."))
	const q = "Is the camera waterproof in heavy rain?"
	for _, tt := range []struct {
		name     string
		cfg      Config
		answered bool
	}{
		{"defaults, unknown word", Config{Vocabulary: &vocab{}}, true},
		{"stricter MinSupport, unknown word", Config{MinSupport: 0.6, Vocabulary: &vocab{}}, false},
		{"stricter MinSupport, no vocabulary", Config{MinSupport: 0.6}, false},
		{"never abstain, no vocabulary", Config{MinSupport: -1}, true},
	} {
		a, err := NewExtractive(tt.cfg).Answer(context.Background(), q, passages, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.Answered != tt.answered {
			t.Errorf("%s: answered %v, want %v", tt.name, a.Answered, tt.answered)
		}
	}
	never := passagesOf(chunk("d/cam", "Camera", "", "The camera has a status light."))
	a, err := NewExtractive(Config{MinSupport: -1, Vocabulary: &vocab{}}).Answer(context.Background(), "Does the camera record in heavy rain?", never, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Answered {
		t.Error("MinSupport -1 abstained on a question with unknown words")
	}
}

// TestAbsentKnownWords checks how a question's words that no retrieved
// passage holds weigh. Asked in the asker's own words, a question has
// words the knowledge base uses elsewhere ("clock", "wrong", "switch"),
// and those weigh less than the words the passages share; a word the
// knowledge base never uses keeps its full weight, and the stricter
// threshold, so that a question about something the documents never
// mention is still declined.
func TestAbsentKnownWords(t *testing.T) {
	passages := passagesOf(
		chunk("settings/region", "Region settings", "Time zone",
			"In the app, open Settings > Region and switch to another time zone."),
		chunk("settings/schedules", "Schedules", "",
			"Schedules run in the time zone of your home, which the app shows under Settings."),
		chunk("app/history", "Event history", "",
			"The app lists events in your home's time zone."),
		chunk("app/travel", "Travelling", "",
			"Away from home, the app keeps the time zone of your home."),
		chunk("app/sign-in", "Signing in", "",
			"Sign in to the app with your account email and password."),
	)
	const q = "Since my trip the clock in the app looks wrong. How do I switch the time zone?"
	words := vocabularyWords(q)
	all := knownWords(words...)
	without := func(w string) map[string]bool {
		m := knownWords(words...)
		delete(m, w)
		return m
	}
	tests := []struct {
		name     string
		known    map[string]bool
		answered bool
	}{
		{"every word known", all, true},
		{"clock never mentioned", without("clock"), false},
		{"wrong never mentioned", without("wrong"), false},
	}
	var supports []float64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewExtractive(Config{Vocabulary: &vocab{known: tt.known}})
			a, err := e.Answer(context.Background(), q, passages, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkGrounded(t, a, passages)
			nov, err := e.novelty(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			support := e.compose(q, passages, nov).Support
			supports = append(supports, support)
			t.Logf("support %.3f", support)
			if a.Answered != tt.answered {
				t.Fatalf("answered %v, want %v: %q", a.Answered, tt.answered, a.Text)
			}
			if tt.answered && !strings.Contains(a.Text, "switch to another time zone") {
				t.Errorf("answer %q, want the time zone sentence", a.Text)
			}
		})
	}
	// An unused word weighs more than the same word known elsewhere.
	if len(supports) == len(tests) && !(supports[0] > supports[1] && supports[0] > supports[2]) {
		t.Errorf("supports %.3f, want the first (every word known) above the others", supports)
	}
}

// TestVersionTerms checks that a version is one term, matched by its
// releases ("4.1" by "4.1.x"), and not by its digits apart: of an SQL
// line full of version digits under a FAQ question about other
// versions, and the sentence that says which upgrades 4.1 supports, the
// sentence answers.
func TestVersionTerms(t *testing.T) {
	q := qterm{term: "4.1"}
	for _, tt := range []struct {
		text string
		want float64
	}{
		{"From 4.1.x on", 1},
		{"Version 4.1 is out", 1},
		{"Version 4.10 is out", 0},
		{"Version 14.1 is out", 0},
		{"Set 4 to 1", 0},
	} {
		if got := q.match(termSet(tt.text)); got != tt.want {
			t.Errorf("%q matched in %q: %v, want %v", q.term, tt.text, got, tt.want)
		}
	}
	passages := passagesOf(
		chunk("upgrade", "Upgrade", "Notice",
			"From version 4.1.x on, we only support upgrading from 4.0.0. Older versions upgrade to 4.0.0 first."),
		chunk("faq", "FAQ", "Q: Upgrade from 4.0.1 to 4.0.4 fails",
			"A: Run this SQL:\n\nupdate t_version set version='4.0.1';"),
	)
	const question = "We are on 4.0.4 and want to move to 4.1. From which version is a direct upgrade supported?"
	e := NewExtractive(Config{Vocabulary: &vocab{known: knownWords(vocabularyWords(question)...)}})
	a, err := e.Answer(context.Background(), question, passages, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Answered || len(a.Citations) == 0 || a.Citations[0].DocID != "upgrade" {
		t.Errorf("answer %q, citations %+v: want the upgrade page first", a.Text, a.Citations)
	}
}
