package ingest

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown parses GFM (tables, strikethrough, task lists, autolinks).
// goldmark.Markdown is safe for concurrent use once built.
// Wiki-links and embeds are parsed too (see mddialect.go).
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithInlineParsers(util.Prioritized(wikiLinkParser{}, 199))))

// parseMarkdown turns Markdown into sections, one per ATX or setext
// heading. The title is front matter's "title:", else the first level-1
// heading. The dialects of mddialect.go (wiki-links, callouts,
// admonitions, MDX) are read as their text.
func parseMarkdown(src string) Parsed {
	body, fmTitle := splitFrontMatter(src)
	source := []byte(preprocessMarkdown(body))
	doc := markdown.Parser().Parse(text.NewReader(source))
	w := mdWalker{src: source}
	w.blocks(doc)
	p := Parsed{Title: fmTitle, Sections: w.b.sections()}
	if p.Title == "" {
		p.Title = w.h1
	}
	return p
}

type mdWalker struct {
	src []byte
	b   sectionBuilder
	h1  string // the first level-1 heading
}

func (w *mdWalker) blocks(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		w.block(c)
	}
}

func (w *mdWalker) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Heading:
		title := strings.TrimSpace(w.inlineText(n))
		if n.Level == 1 && w.h1 == "" {
			w.h1 = title
		}
		w.b.setHeading(n.Level, title)
	case *ast.Paragraph:
		w.b.write(w.inlineText(n))
		w.b.endParagraph()
	case *ast.TextBlock: // a paragraph in a tight list
		w.b.write(w.inlineText(n))
	case *ast.List:
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			w.b.lineBreak()
			w.blocksInline(item)
			w.b.lineBreak()
		}
		w.b.endParagraph()
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			w.b.write(string(bytes.TrimRight(seg.Value(w.src), "\r\n")))
			w.b.lineBreak()
		}
		w.b.endParagraph()
	case *ast.HTMLBlock:
		var raw bytes.Buffer
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			raw.Write(seg.Value(w.src))
		}
		if n.HasClosure() {
			raw.Write(n.ClosureLine.Value(w.src))
		}
		w.b.write(htmlFragmentText(raw.String()))
		w.b.endParagraph()
	case *east.Table:
		var rows [][]string
		for row := n.FirstChild(); row != nil; row = row.NextSibling() {
			var cells []string
			for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
				cells = append(cells, strings.TrimSpace(w.inlineText(cell)))
			}
			rows = append(rows, cells)
		}
		// A GFM table's first row is always its header row (goldmark
		// makes it the TableHeader), but it may be left blank.
		writeTable(&w.b, rows[0], rows[1:])
	case *ast.ThematicBreak, *ast.LinkReferenceDefinition:
		w.b.endParagraph()
	case *ast.Blockquote:
		if title, ok := w.callout(n); ok {
			w.writeCallout(n, title)
			return
		}
		w.blocks(n)
		w.b.endParagraph()
	default: // block quotes, list items and anything else: their children
		w.blocks(n)
		w.b.endParagraph()
	}
}

// blocksInline writes a list item's blocks as one line each, without
// ending the list's paragraph.
func (w *mdWalker) blocksInline(item ast.Node) {
	for c := item.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.TextBlock, *ast.Paragraph:
			w.b.write(w.inlineText(c))
			w.b.lineBreak()
		case *ast.List:
			for sub := c.FirstChild(); sub != nil; sub = sub.NextSibling() {
				w.b.lineBreak()
				w.blocksInline(sub)
			}
		default:
			w.block(c)
		}
	}
}

// inlineText returns the plain text of a node's inline children: markup
// removed, escapes and entities resolved, soft line breaks joined.
func (w *mdWalker) inlineText(n ast.Node) string {
	var b strings.Builder
	w.inline(&b, n)
	return b.String()
}

func (w *mdWalker) inline(b *strings.Builder, n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		w.inlineNode(b, c)
	}
}

// inlineNode writes the plain text of one inline node.
func (w *mdWalker) inlineNode(b *strings.Builder, c ast.Node) {
	switch c := c.(type) {
	case *wikiLink:
		writeJoined(b, c.Label) // "" for an embed
	case *ast.Image:
		if alt := w.inlineText(c); !slugAlt(alt) {
			writeJoined(b, alt)
		}
	case *ast.Text:
		v := c.Value(w.src)
		if !c.IsRaw() {
			v = util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
		}
		writeJoined(b, string(v))
		switch {
		case c.HardLineBreak():
			b.WriteByte('\n')
		case c.SoftLineBreak():
			b.WriteByte(' ') // re-joined without a space between CJK by softJoin below
		}
	case *ast.String:
		writeJoined(b, string(c.Value))
	case *ast.AutoLink:
		writeJoined(b, string(c.Label(w.src)))
	case *ast.RawHTML:
		// inline tags carry no text of their own
	case *east.TaskCheckBox:
		// "[ ]" / "[x]" markers are not prose
	default: // emphasis, links, images (alt text), code spans...
		w.inline(b, c)
	}
}

// writeJoined appends s, dropping a soft-break space that was written
// between two CJK characters.
func writeJoined(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	cur := b.String()
	if strings.HasSuffix(cur, " ") && len(cur) > 1 {
		prev := lastRune(cur[:len(cur)-1])
		if isCJK(prev) && isCJK(firstRune(s)) {
			trimmed := cur[:len(cur)-1]
			b.Reset()
			b.WriteString(trimmed)
		}
	}
	b.WriteString(s)
}

// writeTable writes a table into b. With a header (at least one header
// cell holds text), each body row becomes a paragraph of its own, one
// sentence that carries the headers (see headedRow), so that a row can
// be quoted without the header line that gives its cells their meaning;
// the header row itself is not written, its text being in every row.
// Without a header (nil, or no header cell with text), or without body
// rows, the rows are written as lines of cells separated by " | ", as
// they read in the source.
func writeTable(b *sectionBuilder, header []string, body [][]string) {
	b.endParagraph()
	if !anyText(header) || len(body) == 0 {
		rows := body
		if header != nil {
			rows = append([][]string{header}, body...)
		}
		for _, row := range rows {
			if anyText(row) {
				b.write(joinCells(row))
				b.lineBreak()
			}
		}
		b.endParagraph()
		return
	}
	for _, row := range body {
		b.write(headedRow(header, row))
		b.endParagraph()
	}
}

// anyText reports whether a cell of row holds text.
func anyText(row []string) bool {
	for _, c := range row {
		if hasText(c) {
			return true
		}
	}
	return false
}

// headedRow renders a table body row as one sentence: its first cell is
// the row's label, and every other non-empty cell follows as
// "Header: cell", joined with "; " and ended with a period ("。" for a
// row in Chinese) unless the last cell already ends a sentence:
//
//	Kestrel Smart Lock L1 — Price: $229; Notes: Keypad, 2 physical keys.
//
// Header and cell text is kept verbatim (only its white space is
// collapsed), so that phrases of the source still match. A cell without
// a header (a row longer than the header) is written bare. ";" is the
// ASCII one on purpose: the Chinese "；" ends a sentence.
func headedRow(header, cells []string) string {
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var label string
	if len(cells) > 0 {
		label = clean(cells[0])
	}
	var parts []string
	for i := 1; i < len(cells); i++ {
		c := clean(cells[i])
		if c == "" {
			continue
		}
		if i < len(header) {
			if h := clean(header[i]); h != "" {
				c = h + ": " + c
			}
		}
		parts = append(parts, c)
	}
	row := strings.Join(parts, "; ")
	switch {
	case label == "":
	case row == "":
		row = label
	default:
		row = label + " — " + row
	}
	if row == "" {
		return ""
	}
	switch lastRune(row) {
	case '.', '!', '?', '。', '！', '？', '…':
		return row
	}
	if DetectLang(row) == LangChinese {
		return row + "。"
	}
	return row + "."
}

func joinCells(cells []string) string {
	for i, c := range cells {
		cells[i] = strings.Join(strings.Fields(c), " ")
	}
	return strings.Join(cells, " | ")
}

// splitFrontMatter removes a leading YAML front matter block ("---" lines)
// and returns its title, if it has one.
func splitFrontMatter(src string) (body, title string) {
	s := strings.TrimPrefix(src, "\ufeff")
	if !strings.HasPrefix(s, "---\n") && !strings.HasPrefix(s, "---\r\n") {
		return src, ""
	}
	rest := s[strings.IndexByte(s, '\n')+1:]
	end := -1
	for off := 0; off < len(rest); {
		nl := strings.IndexByte(rest[off:], '\n')
		line := rest[off:]
		if nl >= 0 {
			line = rest[off : off+nl]
		}
		if t := strings.TrimRight(line, "\r "); t == "---" || t == "..." {
			end = off
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "title" && title == "" {
			title = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	if end < 0 {
		return src, "" // not front matter after all
	}
	after := rest[end:]
	if nl := strings.IndexByte(after, '\n'); nl >= 0 {
		return after[nl+1:], title
	}
	return "", title
}
