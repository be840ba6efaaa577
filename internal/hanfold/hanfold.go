// Package hanfold folds traditional Chinese characters into simplified
// ones, so that 退貨 and 退货 are one term to search and to match. It
// uses OpenCC's traditional-to-simplified tables (the maintained
// github.com/longbridgeapp/opencc port, whose dictionaries are embedded:
// nothing is read or downloaded at run time).
package hanfold

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/longbridgeapp/opencc"
)

var (
	once sync.Once
	conv *opencc.OpenCC
)

func converter() *opencc.OpenCC {
	once.Do(func() {
		// The tables are embedded in the module: New fails only on an
		// unknown conversion name, and then nothing is folded.
		conv, _ = opencc.New("t2s")
	})
	return conv
}

// Fold returns s with its traditional Chinese characters replaced by
// their simplified forms (phrases first, as OpenCC's t2s does, then
// single characters); text without Han characters is returned as it is.
// Simplified text is left unchanged.
func Fold(s string) string {
	if !hasHan(s) {
		return s
	}
	c := converter()
	if c == nil {
		return s
	}
	out, err := c.Convert(s)
	if err != nil || utf8.RuneCountInString(out) != utf8.RuneCountInString(s) {
		// A conversion that changes the length would move offsets
		// callers rely on: keep the text as it is.
		return s
	}
	return out
}

// runes caches FoldRune's answers: an index folds the same few thousand
// characters over and over.
var runes sync.Map // rune → rune

// FoldRune returns the simplified form of one traditional character, or
// r itself (for a simplified character, or anything else).
func FoldRune(r rune) rune {
	if r < 0x2E80 || !unicode.Is(unicode.Han, r) {
		return r
	}
	if v, ok := runes.Load(r); ok {
		return v.(rune)
	}
	f := r
	if out := Fold(string(r)); utf8.RuneCountInString(out) == 1 {
		f, _ = utf8.DecodeRuneInString(out)
	}
	runes.Store(r, f)
	return f
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x2E80 && unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
