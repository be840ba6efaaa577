package generate

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func sentenceTexts(ss []Sentence) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Text
	}
	return out
}

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"simple", "Refunds take 5 days. Exchanges take 2 days!  Is that fast?",
			[]string{"Refunds take 5 days.", "Exchanges take 2 days!", "Is that fast?"}},
		{"decimals", "The fee is 3.5 percent. Version 2.10.1 fixed it.",
			[]string{"The fee is 3.5 percent.", "Version 2.10.1 fixed it."}},
		{"e.g. and i.e.", "Use a card, e.g. Visa or Mastercard. Pay monthly, i.e. every 30 days.",
			[]string{"Use a card, e.g. Visa or Mastercard.", "Pay monthly, i.e. every 30 days."}},
		{"titles and initials", "Ask Dr. Lee or J. Smith. They know.",
			[]string{"Ask Dr. Lee or J. Smith.", "They know."}},
		{"ambiguous abbreviation mid-sentence", "Stores open at 9 a.m. on weekdays. Cables, plugs, etc. are included.",
			[]string{"Stores open at 9 a.m. on weekdays.", "Cables, plugs, etc. are included."}},
		{"ambiguous abbreviation ends sentence", "Bring cables, plugs, etc. Then visit a store.",
			[]string{"Bring cables, plugs, etc.", "Then visit a store."}},
		{"dotted acronym", "Ships within the U.S. and Canada. In the U.S. Most orders ship free.",
			[]string{"Ships within the U.S. and Canada.", "In the U.S.", "Most orders ship free."}},
		{"numbers ending sentences", "Call 555-0168. Open until 2024. Done",
			[]string{"Call 555-0168.", "Open until 2024.", "Done"}},
		{"url", "Visit help.kestrel.example. Then sign in.",
			[]string{"Visit help.kestrel.example.", "Then sign in."}},
		{"closing quotes and brackets", `Say "Turn on the lights." Then wait (see below.) It works.`,
			[]string{`Say "Turn on the lights."`, "Then wait (see below.)", "It works."}},
		{"ellipsis and interrobang", "Wait... Really?! Yes.",
			[]string{"Wait...", "Really?!", "Yes."}},
		{"numbered list", "How to delete\n\n1. Open Account > Privacy.\n2. Tap Delete account.\n3. Confirm",
			[]string{"How to delete", "Open Account > Privacy.", "Tap Delete account.", "Confirm"}},
		{"bulleted list without periods", "Before you start:\n- a Wi-Fi network\n* the app\n+ your password",
			[]string{"Before you start:", "a Wi-Fi network", "the app", "your password"}},
		{"markdown heading", "## Refund times\nRefunds take 5 days.\nThey go to your card.",
			[]string{"## Refund times", "Refunds take 5 days.", "They go to your card."}},
		{"hard-wrapped paragraph stays whole", "Refunds go back to the\ncard you paid with. Then done.",
			[]string{"Refunds go back to the\ncard you paid with.", "Then done."}},
		{"table rows", "Plans:\n| Plan | Price |\n| Basic | $3 |",
			[]string{"Plans:", "| Plan | Price |", "| Basic | $3 |"}},
		{"flattened table rows", "Refund times:\n\nMethod | Time\nPayPal | 1 day\nVisa | 3 to 7 days\nAfter the table.",
			[]string{"Refund times:", "Method | Time", "PayPal | 1 day", "Visa | 3 to 7 days", "After the table."}},
		{"list numbers after a sentence", "Enter your code. 3. Confirm. We email you.",
			[]string{"Enter your code.", "Confirm.", "We email you."}},
		{"times", "Orders placed before 2 p.m. Pacific Time ship today. Open 9 a.m. to 5 p.m.",
			[]string{"Orders placed before 2 p.m. Pacific Time ship today.", "Open 9 a.m. to 5 p.m."}},
		{"chinese", "退款将在3个工作日内退回。如有疑问，请联系客服！可以吗？好的",
			[]string{"退款将在3个工作日内退回。", "如有疑问，请联系客服！", "可以吗？", "好的"}},
		{"chinese semicolons and quotes", "进入「我的 > 订单」；点击“申请售后。”然后等待。",
			[]string{"进入「我的 > 订单」；", "点击“申请售后。”", "然后等待。"}},
		{"chinese decimals", "费率为3.5%。运费12.00元。",
			[]string{"费率为3.5%。", "运费12.00元。"}},
		{"mixed scripts", "Kestrel Home 支持 Matter。It works with Siri.然后配对。",
			[]string{"Kestrel Home 支持 Matter。", "It works with Siri.", "然后配对。"}},
		{"only punctuation and space", " ... \n\n - \n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitSentences(tt.text)
			if texts := sentenceTexts(got); !reflect.DeepEqual(texts, tt.want) && !(len(texts) == 0 && len(tt.want) == 0) {
				t.Fatalf("SplitSentences(%q)\n got %q\nwant %q", tt.text, texts, tt.want)
			}
			checkSentences(t, tt.text, got)
		})
	}
}

// checkSentences checks the invariants of a split: every sentence is
// verbatim text[Start:End], trimmed, non-empty, and in order without
// overlap.
func checkSentences(t *testing.T, text string, ss []Sentence) {
	t.Helper()
	prevEnd := 0
	for _, s := range ss {
		if s.Start < prevEnd || s.End < s.Start || s.End > len(text) {
			t.Fatalf("sentence %q has bad span [%d,%d) after %d", s.Text, s.Start, s.End, prevEnd)
		}
		if text[s.Start:s.End] != s.Text {
			t.Fatalf("sentence %q is not text[%d:%d] = %q", s.Text, s.Start, s.End, text[s.Start:s.End])
		}
		if s.Text != strings.TrimSpace(s.Text) || s.Text == "" {
			t.Fatalf("sentence %q is not trimmed", s.Text)
		}
		if !strings.ContainsFunc(s.Text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			t.Fatalf("sentence %q has no letter or digit", s.Text)
		}
		prevEnd = s.End
	}
}

func FuzzSplitSentences(f *testing.F) {
	for _, s := range []string{
		"Refunds take 5 days. Exchanges take 2 days!",
		"e.g. 3.5 U.S. a.m. etc. J. Smith",
		"1. One\n2. Two\n\n- three\n# Head\n| a | b |",
		"退款将在3个工作日内退回。如有疑问；请联系客服！",
		"“引号。”「括号」）。",
		"\xff\xfe. broken utf8 .\x80",
		"...?!...",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkSentences(t, text, SplitSentences(text))
	})
}

func TestDetectLang(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"How do I get a refund?", LangEnglish},
		{"如何申请退款？", LangChinese},
		{"如何申请 refund?", LangChinese},
		{"How do I get a 退款?", LangEnglish},
		{"Kestrel Home 的门锁怎么安装", LangChinese},
		{"", LangEnglish},
		{"12345 ???", LangEnglish},
	}
	for _, tt := range tests {
		if got := DetectLang(tt.text); got != tt.want {
			t.Errorf("DetectLang(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestTerms(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"stop words and stemming", "How do I get my refunds processed?", []string{"refund", "process"}},
		{"inflections meet", "refund refunds refunded refunding", []string{"refund"}},
		{"y and ies", "policy policies apply applies applied applying", []string{"polici", "appli"}},
		{"e and doubled consonants", "charge charges charged shipping shipped ship billing", []string{"charg", "ship", "bill"}},
		{"sibilant plurals", "boxes addresses processes status", []string{"box", "address", "process", "status"}},
		{"how long frames the question", "How long does a refund take?", []string{"refund"}},
		{"possessives and contractions", "The customer's order isn't here; don't worry", []string{"customer", "order", "worri"}},
		{"numbers kept, single letters dropped", "Plan B costs 5 dollars in 2024", []string{"plan", "cost", "5", "dollar", "2024"}},
		{"versions and decimals are one term", "Upgrade 2.0.5 to 3.3.x for $14.99.", []string{"upgrad", "2.0.5", "3.3", "14.99"}},
		{"case folding", "IOS iOS ios", []string{"ios"}},
		{"chinese function words cut runs", "如何申请退款", []string{"申", "申请", "退", "请退", "款", "退款"}},
		{"chinese particles break bigrams", "我的订单", []string{"订", "单", "订单"}},
		{"chinese question frame", "退款多久到账？", []string{"退", "款", "退款", "账", "到账"}},
		{"mixed", "如何绑定 Alexa 音箱", []string{"绑", "定", "绑定", "alexa", "音", "箱", "音箱"}},
		{"nothing but stop words", "What is it? 是什么吗", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Terms(tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Terms(%q)\n got %q\nwant %q", tt.text, got, tt.want)
			}
		})
	}
}

func FuzzTerms(f *testing.F) {
	for _, s := range []string{"How do I get my refunds processed?", "如何申请退款", "如何绑定 Alexa 音箱", "don't '' ’s", "\xff退\x80款", "2.0.5 3.3.x 1..2 .5 a.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, term := range Terms(text) {
			if term == "" || !utf8.ValidString(term) {
				t.Fatalf("bad term %q from %q", term, text)
			}
			if strings.ContainsFunc(term, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Han, r) && r != '\'' && r != '.'
			}) {
				t.Fatalf("term %q of %q holds a separator", term, text)
			}
			// A dot only joins two digits ("2.0.5").
			for i := 0; i < len(term); i++ {
				if term[i] == '.' && (i == 0 || i == len(term)-1 || !isDigitByte(term[i-1]) || !isDigitByte(term[i+1])) {
					t.Fatalf("term %q of %q holds a dot not between digits", term, text)
				}
			}
		}
		// Terms are distinct.
		seen := map[string]bool{}
		for _, term := range Terms(text) {
			if seen[term] {
				t.Fatalf("term %q repeated in Terms(%q)", term, text)
			}
			seen[term] = true
		}
	})
}

func TestAsksQuantity(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"How long does delivery take?", true},
		{"How much is the Guard plan?", true},
		{"When will my order ship?", true},
		{"What time do stores open?", true},
		{"退款多久到账？", true},
		{"积分有效期是多少？", true},
		{"什么时候发货？", true},
		{"How do I reset my password?", false},
		{"What is Matter?", false},
		{"如何申请退款？", false},
	}
	for _, tt := range tests {
		if got := asksQuantity(tt.q); got != tt.want {
			t.Errorf("asksQuantity(%q) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestHasNumber(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"Delivery takes 3 to 6 days.", true},
		{"It takes two days.", true},
		{"积分有效期为两年。", true},
		{"Orders ship from Ontario.", false},
		{"请联系客服。", false},
	}
	for _, tt := range tests {
		if got := hasNumber(tt.s); got != tt.want {
			t.Errorf("hasNumber(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestQuestionType(t *testing.T) {
	tests := []struct {
		q    string
		want answerType
	}{
		{"How long does delivery take?", typeDuration},
		{"How many days do I have to return it?", typeCount | typeDuration},
		{"What does overnight shipping cost?", typeMoney},
		{"How much is the Guard plan?", typeMoney | typeCount},
		{"When will my order ship?", typeTime | typeDuration},
		{"How many members can I invite?", typeCount},
		{"How do I reset my password?", 0},
		{"Can I pay with PayPal?", 0},
		{"退款多久到账？", typeDuration},
		{"运费多少钱？", typeMoney},
		{"积分什么时候过期？", typeTime | typeDuration},
		{"可以绑定几个设备？", typeCount},
		{"如何申请退款？", 0},
	}
	for _, tt := range tests {
		if got := questionType(tt.q); got != tt.want {
			t.Errorf("questionType(%q) = %b, want %b", tt.q, got, tt.want)
		}
	}
}

func TestSentenceTypes(t *testing.T) {
	tests := []struct {
		s    string
		want answerType // the bits that must be set
		not  answerType // the bits that must not be
	}{
		{"Refunds arrive within 5 business days.", typeDuration | typeCount, typeMoney},
		{"Overnight shipping costs $24.99.", typeMoney, typeDuration},
		{"Orders placed before 2 p.m. ship the same day.", typeTime, typeMoney},
		{"Returns are accepted until January 31.", typeTime, typeMoney},
		{"You can pair the lock with the app.", 0, typeDuration | typeMoney | typeTime | typeCount},
		{"退款将在3个工作日内退回。", typeDuration, typeMoney},
		{"订单满99元包邮。", typeMoney, typeDuration},
		{"微信支付的退款一般当天到账。", typeDuration, typeMoney},
	}
	for _, tt := range tests {
		got := sentenceTypes(tt.s)
		if got&tt.want != tt.want || got&tt.not != 0 {
			t.Errorf("sentenceTypes(%q) = %b, want %b set and %b clear", tt.s, got, tt.want, tt.not)
		}
	}
}

func TestFuzzyMatch(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{stem("delivery"), stem("deliver"), true},
		{stem("cancel"), stem("cancellation"), true},
		{stem("install"), stem("installation"), true},
		{stem("refund"), stem("refurbished"), false},
		{"ship", "shipment", false}, // too short to guess
		{"model", "modem", false},
	}
	for _, tt := range tests {
		if got := fuzzyMatch(tt.a, tt.b); got != tt.want {
			t.Errorf("fuzzyMatch(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSynonyms(t *testing.T) {
	tests := []struct {
		word, synonym string
		want          bool
	}{
		{"cost", "price", true},
		{"annual", "yearly", true},
		{"cancel", "undo", true},
		{"退款", "退钱", true},
		{"维修", "修好", true},
		{"refund", "password", false},
		{"退款", "发票", false},
	}
	for _, tt := range tests {
		got := containsString(synonymsOf[lexiconTerm(tt.word)], lexiconTerm(tt.synonym))
		if got != tt.want {
			t.Errorf("%q ~ %q: %v, want %v", tt.word, tt.synonym, got, tt.want)
		}
	}
}

func TestVocabularyWords(t *testing.T) {
	tests := []struct {
		question string
		want     []string
	}{
		{"Can the doorbell recognise my neighbours' faces?", []string{"doorbell", "recognise", "neighbours", "faces"}},
		{"What's the customer's limit for 2 orders on Wi-Fi?", []string{"customer", "limit", "orders", "wi", "fi"}},
		{"Does the Hub H2 support 5G? Does the hub...", []string{"hub", "h2", "support", "5g"}},
		{"退货以后钱多久能退回来？", []string{"退", "货", "后", "钱", "回", "来"}}, // 以, 多久, 能: function words
		{"How do I do it?", nil},
	}
	for _, tt := range tests {
		if got := vocabularyWords(tt.question); !slices.Equal(got, tt.want) {
			t.Errorf("vocabularyWords(%q) = %q, want %q", tt.question, got, tt.want)
		}
	}
}
