package bleveindex

import (
	"slices"
	"testing"
)

func TestQueryTerms(t *testing.T) {
	terms, err := QueryTerms(Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"english stems and stop words", "Resetting the Passwords", []string{"reset", "password"}},
		{"chinese bigrams", "重置密码", []string{"重置", "置密", "密码"}},
		{"full width folded", "ＡＢＣ", []string{"abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := terms(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("QueryTerms(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if _, err := QueryTerms(Analyzer{Stemmer: "nope"}); err == nil {
		t.Error("unknown stemmer accepted")
	}
}
