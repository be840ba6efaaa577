package generate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/internal/hanfold"
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
		if len(ss) == 0 || (!ingest.IsQuestionLine(ss[0].Text) && !strings.HasPrefix(ss[0].Text, "#")) {
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

// maxStepChars is the longest paragraph that is a step of a procedure.
const maxStepChars = 300

// stepsUpTo returns the span of text from the start of its procedure to
// the end of unit u, when text before u is a procedure written as a
// heading's subsections, one per step (as ingestion folds them: each
// subheading a line of its own, then the step): at least two
// subheading lines, every paragraph at most maxStepChars characters,
// and the span within limit characters. Leading question lines and
// headings are left out, as in unitOf.
func stepsUpTo(text string, u Sentence, limit int) (Sentence, bool) {
	subheads := 0
	for p := range strings.SplitSeq(text[:u.Start], "\n\n") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if utf8.RuneCountInString(p) > maxStepChars || isTableRow(p) {
			return Sentence{}, false
		}
		if isSubheadLine(p) {
			subheads++
		}
	}
	if subheads < 2 {
		return Sentence{}, false
	}
	span := unitFrom(text, 0, u.End, u)
	if span.Start >= u.Start || utf8.RuneCountInString(span.Text) > limit {
		return Sentence{}, false
	}
	return span, true
}

// isSubheadLine reports whether a paragraph is a subheading kept as a
// line of its own: one short line (at most 80 characters, 30 in
// Chinese) that does not end as a sentence or a label does, holds no
// sentence break or Chinese comma, and is not a FAQ answer ("A: ...").
func isSubheadLine(p string) bool {
	n := utf8.RuneCountInString(p)
	if strings.ContainsRune(p, '\n') || n > 80 || n > 30 && DetectLang(p) == LangChinese {
		return false
	}
	if strings.ContainsAny(p, "，。；！？") || strings.Contains(p, ". ") {
		return false
	}
	for _, a := range []string{"A:", "A：", "答：", "答:"} {
		if strings.HasPrefix(p, a) {
			return false
		}
	}
	r, _ := utf8.DecodeLastRuneInString(p)
	return !strings.ContainsRune(".。!！?？:：;；,，", r)
}

// asksHow reports whether a question asks how to do something: "how do
// I", "how can we", "how to", 如何, 怎么, 怎样 (not "how long" or
// "how much", nor 怎么样 or 会怎样, "what happens").
func asksHow(q string) bool {
	q = hanfold.Fold(q)
	for _, not := range []string{"怎么样", "会怎样", "会怎么"} {
		q = strings.ReplaceAll(q, not, "")
	}
	if strings.Contains(q, "怎么") || strings.Contains(q, "如何") || strings.Contains(q, "怎样") {
		return true
	}
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) })
	for i, w := range words {
		if w != "how" || i+1 == len(words) {
			continue
		}
		switch words[i+1] {
		case "do", "does", "can", "could", "should", "would", "to", "must", "did":
			return true
		}
	}
	return false
}
