package ingest

import "unicode"

// Languages DetectLang returns.
const (
	LangEnglish = "en"
	LangChinese = "zh"
)

// DetectLang returns "zh" when Han characters dominate the letters of s,
// else "en" (also for text without letters).
//
// A Han character carries about as much meaning as a short word, while
// an English word takes several letters, so Han characters are weighed
// three to one against other letters: "使用 Kubernetes 部署" is Chinese,
// "the word 你好 means hello" is English.
func DetectLang(s string) string {
	han, other := 0, 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.IsLetter(r):
			other++
		}
	}
	if han > 0 && 3*han >= other {
		return LangChinese
	}
	return LangEnglish
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// isCJK reports whether r belongs to a script written without spaces
// between words, so that joining two lines must not insert one.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF) // CJK punctuation, full-width forms
}
