package ingest

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown parses GFM (tables, strikethrough, task lists, autolinks).
// goldmark.Markdown is safe for concurrent use once built.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// parseMarkdown turns Markdown into sections, one per ATX or setext
// heading. The title is front matter's "title:", else the first level-1
// heading.
func parseMarkdown(src string) Parsed {
	body, fmTitle := splitFrontMatter(src)
	source := []byte(body)
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
		for row := n.FirstChild(); row != nil; row = row.NextSibling() {
			var cells []string
			for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
				cells = append(cells, strings.TrimSpace(w.inlineText(cell)))
			}
			w.b.write(joinCells(cells))
			w.b.lineBreak()
		}
		w.b.endParagraph()
	case *ast.ThematicBreak, *ast.LinkReferenceDefinition:
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
		switch c := c.(type) {
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
