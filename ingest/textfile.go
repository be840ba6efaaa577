package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTitleRunes bounds a plain-text title line.
const maxTitleRunes = 100

// parseText turns plain text into one section of paragraphs (blocks
// separated by blank lines). Hard-wrapped lines inside a paragraph are
// joined; lines that look like list items stay lines of their own. A
// short first line standing alone (followed by a blank line or an
// underline of = or -) that does not end like a sentence is the title.
func parseText(src string) Parsed {
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	paras := splitParagraphs(src)
	var p Parsed
	if len(paras) > 1 {
		if lines := paras[0]; len(lines) == 1 && looksLikeTitle(lines[0]) {
			p.Title, paras = lines[0], paras[1:]
		} else if len(lines) == 2 && looksLikeTitle(lines[0]) && isUnderline(lines[1]) {
			p.Title, paras = lines[0], paras[1:]
		}
	} else if len(paras) == 1 && len(paras[0]) > 2 && looksLikeTitle(paras[0][0]) && isUnderline(paras[0][1]) {
		p.Title, paras[0] = paras[0][0], paras[0][2:]
	}
	var b sectionBuilder
	for i, lines := range paras {
		if len(lines) == 1 && i < len(paras)-1 && looksLikeHeading(lines[0]) {
			b.setHeading(1, strings.TrimSpace(lines[0]))
			continue
		}
		b.write(strings.Join(logicalLines(lines), "\n"))
		b.endParagraph()
	}
	p.Sections = b.sections()
	return p
}

// logicalLines joins the hard-wrapped lines of a paragraph. A list item
// starts a new line; so does the line after one, unless it is indented
// (a continuation of the item).
func logicalLines(lines []string) []string {
	var out []string
	var cur strings.Builder
	item := false // cur is a list item
	for _, line := range lines {
		if isUnderline(line) {
			continue
		}
		if cur.Len() > 0 && (isListItem(line) || item && !isContinuation(line)) {
			out = append(out, cur.String())
			cur.Reset()
		}
		if cur.Len() == 0 {
			item = isListItem(line)
		}
		joinLines(&cur, line)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// splitParagraphs splits text at blank lines into paragraphs of
// non-blank lines.
func splitParagraphs(src string) [][]string {
	var out [][]string
	var cur []string
	for line := range strings.SplitSeq(src, "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func looksLikeTitle(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" || utf8.RuneCountInString(line) > maxTitleRunes || isListItem(line) {
		return false
	}
	switch lastRune(line) {
	case '.', ',', ';', ':', '。', '，', '；', '：', '、':
		return false
	}
	return true
}

func isUnderline(line string) bool {
	line = strings.TrimSpace(line)
	return len(line) >= 3 && (strings.Trim(line, "=") == "" || strings.Trim(line, "-") == "")
}

// isListItem reports whether a line starts like a list item: a bullet
// ("-", "*", "+", "•") or a number followed by "." or ")".
func isListItem(line string) bool {
	line = strings.TrimSpace(line)
	for _, bullet := range []string{"- ", "* ", "+ ", "• ", "· "} {
		if strings.HasPrefix(line, bullet) {
			return true
		}
	}
	i := 0
	for i < len(line) && i < 4 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' '
}

// isContinuation reports whether a line is an indented continuation of
// the list item above it.
func isContinuation(line string) bool {
	return strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t")
}

// maxHeadingRunes bounds a plain-text heading line.
const maxHeadingRunes = 80

// looksLikeHeading reports whether a line standing alone between blank
// lines reads as a heading: short, with letters, not a list item, and not
// ending like a sentence (a question may be a heading: FAQs use them).
func looksLikeHeading(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" || utf8.RuneCountInString(line) > maxHeadingRunes || isListItem(line) ||
		strings.IndexFunc(line, unicode.IsLetter) < 0 {
		return false
	}
	switch lastRune(line) {
	case '.', ',', ';', ':', '!', '。', '，', '；', '：', '、', '！':
		return false
	}
	return true
}
