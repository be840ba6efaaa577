package generate

import (
	"strings"
	"unicode/utf8"
)

// An answer is quoted in whole units of a help page, not in loose
// sentences: the paragraph that answers (a FAQ entry's answer, a
// paragraph with its callout), the whole list of steps of a procedure,
// a table row with its header (ingestion writes each row as a paragraph
// of its own that carries the header; see ingest's headedRow). The
// sentence that matches the question best is found first; the answer
// then quotes the smallest whole unit around it (see unitOf).

// maxUnitChars is the longest unit quoted whole. A longer paragraph or
// list is a chapter more than an answer, and only the sentence (or the
// list item) that answers is quoted from it. 600 characters is a
// paragraph of four or five sentences, or a list of about eight short
// steps.
const maxUnitChars = 600

// unitOf returns the smallest whole unit of text that holds sentence s:
//   - the paragraph around it (text between blank lines), when it is at
//     most maxUnitChars long: a list paragraph is a procedure's steps,
//     a row paragraph a table row with its header;
//   - else the line that holds s, when that line is short enough and
//     the paragraph is a list of lines (a long list: the step itself);
//   - else s alone.
//
// A unit never starts with a question line ("Q: ...?", "问：……？"): the
// question of a FAQ entry is the user's question, not its answer, so
// leading question lines (and a bare heading line) are left out of it.
// The unit is trimmed of white space; it always contains s.
func unitOf(text string, s Sentence) Sentence {
	pStart := strings.LastIndex(text[:s.Start], "\n\n")
	if pStart < 0 {
		pStart = 0
	} else {
		pStart += 2
	}
	pEnd := len(text)
	if i := strings.Index(text[s.End:], "\n\n"); i >= 0 {
		pEnd = s.End + i
	}
	start, end := pStart, pEnd
	lStart := strings.LastIndexByte(text[:s.Start], '\n') + 1
	lEnd := len(text)
	if i := strings.IndexByte(text[s.End:], '\n'); i >= 0 {
		lEnd = s.End + i
	}
	lStart, lEnd = max(lStart, pStart), min(lEnd, pEnd)
	if isTableRow(text[lStart:lEnd]) {
		// A flattened table row (cells joined by " | "): the row.
		return unitFrom(text, lStart, lEnd, s)
	}
	if utf8.RuneCountInString(text[start:end]) > maxUnitChars {
		if utf8.RuneCountInString(text[lStart:lEnd]) > maxUnitChars {
			return s
		}
		start, end = lStart, lEnd
	}
	return unitFrom(text, start, end, s)
}

// unitFrom trims text[start:end] and returns it as a Sentence; it falls
// back to s if the trimmed span does not hold s.
func unitFrom(text string, start, end int, s Sentence) Sentence {
	start, end, _ = trimSentence(text, start, end)
	if start > s.Start || end < s.End {
		return s
	}
	// Leave out leading question lines and headings.
	for start < s.Start {
		ss := SplitSentences(text[start:s.Start])
		if len(ss) == 0 || (!isQuestionLine(ss[0].Text) && !strings.HasPrefix(ss[0].Text, "#")) {
			break
		}
		start, _, _ = trimSentence(text, start+ss[0].End, end)
	}
	return Sentence{Start: start, End: end, Text: text[start:end]}
}

func trimSpace(text string, start, end int) (int, int) {
	for start < end && strings.ContainsRune(" \t\r\n", rune(text[start])) {
		start++
	}
	for end > start && strings.ContainsRune(" \t\r\n", rune(text[end-1])) {
		end--
	}
	return start, end
}

// isQuestionLine reports whether a sentence is a question: it ends with
// a question mark, or starts as a FAQ question does ("Q:", "Q.", "问：").
// A question is never quoted as an answer.
func isQuestionLine(s string) bool {
	t := strings.TrimSpace(s)
	t = strings.TrimRight(t, "*_ ")
	if strings.HasSuffix(t, "?") || strings.HasSuffix(t, "？") {
		return true
	}
	t = strings.TrimLeft(t, "*_# ")
	for _, p := range []string{"Q:", "Q :", "Q.", "Q：", "问：", "问:", "问题：", "Question:"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}
