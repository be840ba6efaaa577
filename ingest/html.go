package ingest

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// parseHTML turns HTML into sections, one per h1–h6. The title is the
// <title>, else the first h1. Script, style, nav, head, template,
// noscript, iframe and svg content is ignored.
func parseHTML(src string) Parsed {
	root, err := html.Parse(strings.NewReader(src))
	if err != nil { // html.Parse recovers from any markup; this is an I/O error
		return Parsed{}
	}
	w := htmlWalker{}
	if head := findElement(root, atom.Head); head != nil {
		w.title = strings.TrimSpace(collapse(textContent(findElement(head, atom.Title))))
	}
	w.node(root)
	p := Parsed{Title: w.title, Sections: w.b.sections()}
	if p.Title == "" {
		p.Title = w.h1
	}
	return p
}

// htmlFragmentText returns the text of an HTML fragment (an HTML block in
// Markdown), with the same rules as a page.
func htmlFragmentText(src string) string {
	root, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return ""
	}
	var w htmlWalker
	w.node(root)
	var parts []string
	for _, s := range w.b.sections() {
		parts = append(parts, s.Text)
	}
	return strings.Join(parts, "\n\n")
}

type htmlWalker struct {
	b     sectionBuilder
	title string
	h1    string
}

var headingLevel = map[atom.Atom]int{atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6}

func (w *htmlWalker) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.ElementNode:
	case html.DocumentNode:
		w.children(n)
		return
	default: // comments, doctype
		return
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Nav, atom.Head, atom.Template, atom.Noscript,
		atom.Iframe, atom.Svg, atom.Math, atom.Button, atom.Select, atom.Object:
		return
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		title := strings.TrimSpace(collapse(textContent(n)))
		if n.DataAtom == atom.H1 && w.h1 == "" {
			w.h1 = title
		}
		w.b.setHeading(headingLevel[n.DataAtom], title)
		return
	case atom.Br:
		w.b.lineBreak()
		return
	case atom.Img:
		if alt := attr(n, "alt"); alt != "" {
			w.text(" " + alt + " ")
		}
		return
	case atom.Pre:
		w.b.endParagraph()
		for _, line := range strings.Split(textContent(n), "\n") {
			w.b.write(line)
			w.b.lineBreak()
		}
		w.b.endParagraph()
		return
	case atom.Table:
		w.table(n)
		return
	case atom.Tr: // a row outside a table (the parser puts every row in one)
		w.b.lineBreak()
		w.b.write(joinCells(rowCells(n).text))
		w.b.lineBreak()
		return
	case atom.Li, atom.Dt, atom.Dd, atom.Caption, atom.Figcaption:
		w.b.lineBreak()
		w.children(n)
		w.b.lineBreak()
		return
	}
	if isBlock(n.DataAtom) {
		w.b.endParagraph()
		w.children(n)
		w.b.endParagraph()
		return
	}
	w.children(n) // inline element
}

// table writes a table. Its header is the rows of its <thead>, else a
// first row made only of <th> cells; with a header, each body row is
// written as a sentence that carries the headers (see writeTable). A
// caption stays a line of its own, before the rows.
func (w *htmlWalker) table(n *html.Node) {
	var head, body []htmlRow
	addRows := func(sec *html.Node, inHead bool) {
		for r := sec.FirstChild; r != nil; r = r.NextSibling {
			if r.Type != html.ElementNode || r.DataAtom != atom.Tr {
				continue
			}
			if inHead {
				head = append(head, rowCells(r))
			} else {
				body = append(body, rowCells(r))
			}
		}
	}
	w.b.endParagraph()
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.Caption:
			w.b.lineBreak()
			w.children(c)
			w.b.lineBreak()
		case atom.Thead:
			addRows(c, true)
		case atom.Tbody, atom.Tfoot:
			addRows(c, false)
		case atom.Tr:
			body = append(body, rowCells(c))
		}
	}
	w.b.endParagraph()
	if len(head) == 0 && len(body) > 0 && body[0].allTh {
		head, body = body[:1], body[1:]
	}
	var rows [][]string
	for _, r := range body {
		rows = append(rows, r.text)
	}
	writeTable(&w.b, mergeHeaderRows(head), rows)
}

// htmlRow is the text of a table row's cells, a cell spanning n columns
// repeated n times so that cells line up with their headers.
type htmlRow struct {
	text  []string
	allTh bool // every cell is a <th>
}

// maxColspan bounds the columns one cell may claim, so that a hostile
// colspan="1000000" cannot blow up a row.
const maxColspan = 64

func rowCells(tr *html.Node) htmlRow {
	row := htmlRow{allTh: true}
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode || (c.DataAtom != atom.Td && c.DataAtom != atom.Th) {
			continue
		}
		row.allTh = row.allTh && c.DataAtom == atom.Th
		text := strings.TrimSpace(collapse(textContent(c)))
		span := 1
		if v, err := strconv.Atoi(strings.TrimSpace(attr(c, "colspan"))); err == nil && v > 1 {
			span = min(v, maxColspan)
		}
		for range span {
			row.text = append(row.text, text)
		}
	}
	row.allTh = row.allTh && len(row.text) > 0
	return row
}

// mergeHeaderRows turns header rows into one header: a column's header
// is the distinct texts of its cells, top to bottom, joined with a
// space ("Price" spanning "Monthly" and "Annual" gives "Price Monthly"
// and "Price Annual"). It returns nil for no rows.
func mergeHeaderRows(rows []htmlRow) []string {
	if len(rows) == 0 {
		return nil
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.text))
	}
	header := make([]string, width)
	for i := range header {
		var parts []string
		for _, r := range rows {
			if i < len(r.text) && r.text[i] != "" && (len(parts) == 0 || parts[len(parts)-1] != r.text[i]) {
				parts = append(parts, r.text[i])
			}
		}
		header[i] = strings.Join(parts, " ")
	}
	return header
}

func (w *htmlWalker) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
}

// text adds a text node: HTML whitespace (including newlines) is
// collapsed to single spaces, as a browser renders it.
func (w *htmlWalker) text(s string) {
	c := collapse(s)
	if c == "" {
		return
	}
	cur := w.b.para.String()
	if cur == "" || strings.HasSuffix(cur, "\n") {
		c = strings.TrimLeft(c, " ")
	} else if strings.HasSuffix(cur, " ") && strings.HasPrefix(c, " ") {
		c = c[1:]
	}
	w.b.write(c)
}

// collapse replaces runs of HTML whitespace with one space, keeping a
// leading or trailing space (it may separate words of adjacent nodes). A
// line break between two CJK characters is dropped instead: Chinese
// source is wrapped without meaning a space.
func collapse(s string) string {
	var b strings.Builder
	space, newline := false, false
	var prev rune
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
			space = true
			newline = newline || r == '\n' || r == '\r'
			continue
		}
		if space && !(newline && isCJK(prev) && isCJK(r)) {
			b.WriteByte(' ')
		}
		space, newline = false, false
		b.WriteRune(r)
		prev = r
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Section, atom.Article, atom.Main, atom.Aside, atom.Header,
		atom.Footer, atom.Blockquote, atom.Ul, atom.Ol, atom.Dl, atom.Table, atom.Thead,
		atom.Tbody, atom.Tfoot, atom.Form, atom.Fieldset, atom.Figure, atom.Details,
		atom.Summary, atom.Address, atom.Hr, atom.Body, atom.Html, atom.Center:
		return true
	}
	return false
}

// textContent returns the text under n, skipping elements whose content
// is not prose.
func textContent(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style || n.DataAtom == atom.Template):
			return
		case n.Type == html.ElementNode && n.DataAtom == atom.Br:
			b.WriteByte('\n')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func findElement(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findElement(c, a); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
