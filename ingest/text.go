package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// normalize cleans extracted text into the form chunks are cut from:
// Unix line ends, no control characters, runs of spaces and tabs
// collapsed to one space, lines trimmed, at most one blank line between
// paragraphs, no leading or trailing blank lines. Invalid UTF-8 becomes
// U+FFFD.
func normalize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s))
	blank := 0 // newlines owed before the next text
	started := false
	for line := range strings.Lines(s) {
		line = cleanLine(line)
		if line == "" {
			if started {
				blank++
			}
			continue
		}
		if started {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		b.WriteString(line)
		started, blank = true, 0
	}
	return b.String()
}

// cleanLine collapses whitespace inside one line and drops control and
// zero-width characters.
func cleanLine(line string) string {
	var b strings.Builder
	space := false
	for _, r := range line {
		switch {
		case r == '\u00AD' || r == '\u200B' || r == '\u200C' || r == '\u200D' || r == '\uFEFF':
			continue // soft hyphen, zero-width characters, BOM
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// joinLines appends line to b the way a soft line break reads: with a
// space between words, without one between CJK characters.
func joinLines(b *strings.Builder, line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if b.Len() > 0 {
		prev, _ := utf8.DecodeLastRuneInString(b.String())
		next, _ := utf8.DecodeRuneInString(line)
		if !unicode.IsSpace(prev) && !(isCJK(prev) && isCJK(next)) {
			b.WriteByte(' ')
		}
	}
	b.WriteString(line)
}

// hasText reports whether s holds anything but whitespace.
func hasText(s string) bool {
	return strings.TrimSpace(s) != ""
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}
