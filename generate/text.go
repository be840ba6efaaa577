package generate

import (
	"github.com/quarry-kb/quarry/ingest"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Languages, as in quarry.Document.Lang and quarry.Answer.Lang.
const (
	LangEnglish = ingest.LangEnglish
	LangChinese = ingest.LangChinese
)

// DetectLang returns the language of a question or text: LangChinese when
// Han characters dominate, else LangEnglish. It is ingest's detector, so a
// question and the documents it asks about are classified alike: "如何申请
// refund" is Chinese, "How do I get a 退款?" English.
func DetectLang(text string) string { return ingest.DetectLang(text) }

// DontKnow returns the polite "I don't know" given when the knowledge
// base does not support an answer, in lang (English unless LangChinese).
func DontKnow(lang string) string {
	if lang == LangChinese {
		return "抱歉，知识库中没有找到这个问题的答案。我会将您的问题转交给人工客服。"
	}
	return "I'm sorry, I couldn't find an answer to that in the knowledge base. I'll pass your question to a human colleague."
}

// Sentence is one sentence of a text: Text == text[Start:End], so that a
// sentence quoted as a citation snippet is verbatim.
type Sentence struct {
	Start, End int // byte offsets
	Text       string
}

// SplitSentences splits text into sentences, keeping their exact text.
//
// A sentence ends after . ? ! (and their runs, like "?!" or "...") when
// what follows is a space, the end, or a Han character, and after the
// Chinese 。！？； wherever they are; closing quotes and brackets stay
// with the sentence they close. A period does not end a sentence in a
// decimal ("3.5"), after an abbreviation such as "e.g." or "Dr.", after
// an initial ("J."), after a list number ("1.") at the start of a line or
// after the end of a sentence (where ingestion joined list items into
// one line), after a time ("2 p.m."), or after an ambiguous abbreviation
// ("etc.", "No.") unless an upper-case letter follows. A blank line, a
// line break before a list item or heading, and a line break before or
// after a table row also end a sentence, as does the end of a heading
// line. Leading list markers ("- ", "1. ") are left out of
// a sentence; sentences with no letter or digit are dropped.
func SplitSentences(text string) []Sentence {
	var out []Sentence
	emit := func(start, end int) {
		if s, e, ok := trimSentence(text, start, end); ok {
			out = append(out, Sentence{Start: s, End: e, Text: text[s:e]})
		}
	}
	start := 0
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		next := i + size
		switch {
		case r == '\n':
			if lineBreakEnds(text, start, next) {
				emit(start, i)
				start = next
			}
		case isCJKTerminal(r):
			end := skipClosers(text, next)
			emit(start, end)
			start, next = end, end
		case r == '.' || r == '?' || r == '!':
			// Take the whole run of terminal marks, then any closers.
			j := next
			for j < len(text) && (text[j] == '.' || text[j] == '?' || text[j] == '!') {
				j++
			}
			end := skipClosers(text, j)
			if followedByBreak(text, end) && (r != '.' || periodEnds(text, start, i, end)) {
				emit(start, end)
				start = end
			}
			next = end
		}
		i = next
	}
	emit(start, len(text))
	return out
}

// isCJKTerminal reports whether r ends a Chinese sentence.
func isCJKTerminal(r rune) bool {
	switch r {
	case '。', '！', '？', '；', '｡':
		return true
	}
	return false
}

// skipClosers returns the offset after any closing quotes and brackets
// at text[i:].
func skipClosers(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch r {
		case '"', '\'', ')', ']', '»', '”', '’', '」', '』', '）', '】', '》', '*', '_':
			i += size
		default:
			return i
		}
	}
	return i
}

// followedByBreak reports whether a sentence may end at i: at the end of
// text, before white space, or before a Han character.
func followedByBreak(text string, i int) bool {
	if i >= len(text) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return unicode.IsSpace(r) || unicode.Is(unicode.Han, r)
}

// Abbreviations after which a period never ends a sentence, and those
// after which it does only before an upper-case letter. Lower case,
// without the final period.
var (
	abbrevStrict = map[string]bool{
		"e.g": true, "i.e": true, "cf": true, "vs": true, "mr": true, "mrs": true, "ms": true, "dr": true,
		"prof": true, "sr": true, "jr": true, "st": true, "approx": true, "fig": true, "figs": true,
		"ca": true, "incl": true, "dept": true, "est": true, "min": true, "max": true, "nos": true,
		"vol": true, "pp": true, "ed": true, "mt": true, "ft": true, "oz": true, "lb": true, "lbs": true,
		// Times are usually followed by more of the sentence ("2 p.m.
		// Pacific Time"); wrongly joining two sentences costs less than
		// cutting one.
		"a.m": true, "p.m": true,
	}
	abbrevAmbiguous = map[string]bool{
		"etc": true, "no": true, "inc": true, "ltd": true, "co": true,
		"corp": true, "u.s": true, "u.k": true, "e.u": true, "jan": true, "feb": true, "mar": true,
		"apr": true, "jun": true, "jul": true, "aug": true, "sep": true, "sept": true, "oct": true,
		"nov": true, "dec": true,
	}
)

// periodEnds decides whether the period at text[dot] (ending its run at
// end) ends the sentence that started at start.
func periodEnds(text string, start, dot, end int) bool {
	// The word before the period: back to white space or an opening mark.
	w := dot
	for w > start {
		r, size := utf8.DecodeLastRuneInString(text[:w])
		if unicode.IsSpace(r) || strings.ContainsRune("([{\"'“‘（", r) {
			break
		}
		w -= size
	}
	word := text[w:dot]
	if word == "" || dot+1 < end && text[dot+1] == '.' {
		return true // a lone period or an ellipsis
	}
	lower := strings.ToLower(word)
	if abbrevStrict[lower] {
		return false
	}
	nextUpper := func() bool {
		i := end
		for i < len(text) {
			r, size := utf8.DecodeRuneInString(text[i:])
			if !unicode.IsSpace(r) {
				return unicode.IsUpper(r)
			}
			i += size
		}
		return true // end of text
	}
	if abbrevAmbiguous[lower] {
		return nextUpper()
	}
	if r, size := utf8.DecodeRuneInString(word); size == len(word) && unicode.IsLetter(r) {
		return false // an initial, as in "J. Smith"
	}
	if isDigits(word) && (atLineStart(text, w) || afterSentenceEnd(text, w)) {
		return false // a numbered list marker, "1. Open the app"
	}
	if isDottedAbbrev(word) {
		return nextUpper() // "U.S.", "a.k.a.", "Ph.D."
	}
	return true
}

// isDottedAbbrev reports whether word is letters in groups of one or two
// separated by periods, like "U.S" or "a.k.a" (but not "3.5" or
// "app.example").
func isDottedAbbrev(word string) bool {
	parts := strings.Split(word, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		n := 0
		for _, r := range p {
			if !unicode.IsLetter(r) {
				return false
			}
			n++
		}
		if n == 0 || n > 2 {
			return false
		}
	}
	return true
}

// isNumeral reports whether s is a number as a term holds it: digits,
// with single dots between digits ("2.0.5", "14.99").
func isNumeral(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && i > 0 && i+1 < len(s) && isDigitByte(s[i-1]) && isDigitByte(s[i+1]) {
			continue
		}
		if !isDigitByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// afterSentenceEnd reports whether the text before i, spaces aside,
// ends with a sentence's final mark.
func afterSentenceEnd(text string, i int) bool {
	before := strings.TrimRight(text[:i], " \t")
	if before == "" {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(before)
	return strings.ContainsRune(".?!:;。！？；", r)
}

// atLineStart reports whether only spaces or tabs separate i from the
// start of its line.
func atLineStart(text string, i int) bool {
	for i > 0 {
		c := text[i-1]
		if c == '\n' {
			return true
		}
		if c != ' ' && c != '\t' {
			return false
		}
		i--
	}
	return true
}

// lineBreakEnds decides whether the line break ending at next (just
// after a '\n') ends the sentence that started at start: at a blank
// line, before a list item or heading, after a heading, and before and
// after a table row (a line with a "|" cell separator, as ingestion
// flattens HTML and Markdown tables).
func lineBreakEnds(text string, start, next int) bool {
	if strings.HasPrefix(strings.TrimLeft(text[start:next], " \t\r\n"), "#") {
		return true
	}
	rest := strings.TrimLeft(text[next:], " \t\r")
	if rest == "" || rest[0] == '\n' {
		return true
	}
	if rest[0] == '#' || listMarkerLen(rest) > 0 {
		return true
	}
	line := text[strings.LastIndexByte(text[:next-1], '\n')+1 : next]
	nextLine, _, _ := strings.Cut(rest, "\n")
	return isTableRow(line) || isTableRow(nextLine)
}

// isTableRow reports whether line looks like a table row: it starts with
// "|" or separates cells with " | ".
func isTableRow(line string) bool {
	line = strings.TrimSpace(line)
	return strings.HasPrefix(line, "|") || strings.Contains(line, " | ")
}

// listMarkerLen returns the length of a list marker ("- ", "* ", "+ ",
// "• ", "12. ", "3) ") at the start of s, or 0.
func listMarkerLen(s string) int {
	for _, m := range []string{"- ", "* ", "+ ", "• "} {
		if strings.HasPrefix(s, m) {
			return len(m)
		}
	}
	i := 0
	for i < len(s) && i < 4 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(s) && (s[i] == '.' || s[i] == ')') && (s[i+1] == ' ' || s[i+1] == '\t') {
		return i + 2
	}
	return 0
}

// trimSentence trims white space and a leading list marker from
// text[start:end] and reports whether anything worth keeping (a letter
// or a digit) is left.
func trimSentence(text string, start, end int) (int, int, bool) {
	for {
		for start < end {
			r, size := utf8.DecodeRuneInString(text[start:end])
			if !unicode.IsSpace(r) {
				break
			}
			start += size
		}
		n := listMarkerLen(text[start:end])
		if n == 0 {
			break
		}
		start += n
	}
	for end > start {
		r, size := utf8.DecodeLastRuneInString(text[start:end])
		if !unicode.IsSpace(r) {
			break
		}
		end -= size
	}
	for _, r := range text[start:end] {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return start, end, true
		}
	}
	return start, end, false
}
