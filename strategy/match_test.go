package strategy

import (
	"os"
	"testing"

	"github.com/quarry-kb/quarry/index/bleveindex"
)

// analyzer is retrieval's own query analysis.
func analyzer(t testing.TB) Analyzer {
	t.Helper()
	a, err := bleveindex.QueryTerms(bleveindex.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func exampleStrategy(t testing.TB) *Strategy {
	t.Helper()
	data, err := os.ReadFile("testdata/strategy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("strategy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Compile(f, "strategy.yaml", analyzer(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMatchCurated(t *testing.T) {
	st := exampleStrategy(t)
	for _, tc := range []struct {
		question string
		want     bool
	}{
		{"How do I reset my password?", true},
		{"how can I reset my password", true},
		{"Resetting passwords: how?", true},
		{"I forgot my password!", true},
		{"如何重置密码", true},
		{"忘记密码了怎么办？", true},
		{"How do I reset my router?", false},    // near miss: another thing reset
		{"How do I change my password?", false}, // near miss: another thing done
		{"如何重置路由器？", false},                     // near miss in Chinese
		{"What is the password for the guest Wi-Fi network?", false},
		{"How long do refunds take?", false},
	} {
		m, ok := st.MatchCurated(tc.question)
		if ok != tc.want {
			t.Errorf("MatchCurated(%q) = %v (score %.2f), want %v", tc.question, ok, m.Score, tc.want)
		}
		if ok && m.Curated.ID != "reset-password" {
			t.Errorf("MatchCurated(%q) = %s", tc.question, m.Curated.ID)
		}
	}
}

func TestMatchBlocked(t *testing.T) {
	st := exampleStrategy(t)
	for q, want := range map[string]bool{
		"What is Kestrel's stock price today?": true,
		"Kestrel的股价是多少":                        true,
		"Let's talk politics":                  true,
		"What is the price of the hub?":        false,
		"How do I reset my password?":          false,
	} {
		if _, ok := st.MatchBlocked(q); ok != want {
			t.Errorf("MatchBlocked(%q) = %v, want %v", q, ok, want)
		}
	}
}

func TestSmallTalkKind(t *testing.T) {
	for q, want := range map[string]string{
		"你好":                          "greeting",
		"您好！":                         "greeting",
		"Hello!":                      "greeting",
		"thanks":                      "thanks",
		"Thank you very much :)":      "thanks",
		"谢谢！":                         "thanks",
		"bye":                         "goodbye",
		"你好，我想退货":                     "",
		"thanks, how do I return?":    "",
		"How do I reset my password?": "",
	} {
		if got := SmallTalkKind(q); got != want {
			t.Errorf("SmallTalkKind(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestWantsHuman(t *testing.T) {
	st := exampleStrategy(t)
	for q, want := range map[string]bool{
		"转人工":                       true,
		"我要人工客服":                    true,
		"请帮我转人工，谢谢":                 true,
		"I want to talk to a human": true,
		"agent":                     true,
		"Agent please!":             true,
		"Can I speak to a person about my order?": true,
		"人工": true,
		"How do I change my user agent string in the app settings?": false,
		"Does the hub detect humans in the room?":                   false,
		"人工智能功能怎么打开":                                                false,
	} {
		if got := st.WantsHuman(q); got != want {
			t.Errorf("WantsHuman(%q) = %v, want %v", q, got, want)
		}
	}
}
