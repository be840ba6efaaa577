package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// span is a byte range [start, end) of a text.
type span struct{ start, end int }

// SplitSentences splits text into sentences, trimmed, in order. A sentence
// ends after ". ", "? " or "! " (with any closing quotes or brackets),
// after the Chinese 。！？ or ；, or at a line end. Decimal points and a
// few common abbreviations ("e.g.", "Mr.") do not end a sentence.
func SplitSentences(text string) []string {
	var out []string
	for _, sp := range sentenceSpans(text, 0, len(text)) {
		out = append(out, text[sp.start:sp.end])
	}
	return out
}

// sentenceSpans returns the sentences of text[start:end], trimmed of
// surrounding whitespace; empty sentences are dropped.
func sentenceSpans(text string, start, end int) []span {
	var out []span
	emit := func(s, e int) {
		for s < e {
			r, n := utf8.DecodeRuneInString(text[s:e])
			if !unicode.IsSpace(r) {
				break
			}
			s += n
		}
		for e > s {
			r, n := utf8.DecodeLastRuneInString(text[s:e])
			if !unicode.IsSpace(r) {
				break
			}
			e -= n
		}
		if e > s {
			out = append(out, span{s, e})
		}
	}
	s := start
	for i := start; i < end; {
		r, n := utf8.DecodeRuneInString(text[i:end])
		switch {
		case r == '\n':
			emit(s, i)
			s = i + n
		case r == '。' || r == '！' || r == '？' || r == '；' || r == '!' || r == '?' || r == '.':
			j := i + n
			// A run of terminators ("?!", "...") and closing quotes or
			// brackets belongs to the sentence it ends.
			for j < end {
				r2, n2 := utf8.DecodeRuneInString(text[j:end])
				if !isTerminator(r2) && !isCloser(r2) {
					break
				}
				j += n2
			}
			if isCJKTerminator(r) || j == end || startsWithSpace(text[j:end]) {
				if r != '.' || !isAbbreviation(text[s:i]) {
					emit(s, j)
					s = j
				}
			}
			i = j
			continue
		}
		i += n
	}
	emit(s, end)
	return out
}

func isTerminator(r rune) bool {
	return r == '.' || r == '!' || r == '?' || r == '。' || r == '！' || r == '？' || r == '；' || r == '…'
}

func isCJKTerminator(r rune) bool { return r == '。' || r == '！' || r == '？' || r == '；' }

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '’', '”', '」', '』', '）', '】', '》', '〉':
		return true
	}
	return false
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// abbreviations that are followed by a period and usually more of the
// same sentence. "etc." is left out on purpose: it ends sentences often.
var abbreviations = map[string]bool{
	"e.g": true, "i.e": true, "mr": true, "mrs": true, "ms": true, "dr": true,
	"prof": true, "vs": true, "fig": true, "no": true, "cf": true, "approx": true,
	"st": true, "jr": true, "sr": true,
}

// isAbbreviation reports whether the text before a period ends with a
// known abbreviation or a single capital letter (an initial, "J. Smith").
func isAbbreviation(before string) bool {
	k := strings.LastIndexFunc(before, unicode.IsSpace)
	word := strings.TrimLeft(before[k+1:], "(\"'“‘")
	if word == "" {
		return false
	}
	if len(word) == 1 && word[0] >= 'A' && word[0] <= 'Z' {
		return true
	}
	return abbreviations[strings.ToLower(word)]
}
