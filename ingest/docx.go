package ingest

import (
	"encoding/xml"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseDOCX reads a Word document: body paragraphs, headings (by style,
// localised style name or outline level) as the heading path, list
// items as lines, tables as rows that carry their headers, and
// footnotes after the paragraph that cites them. Headers, footers,
// comments and deleted text (tracked changes) are not read.
func parseDOCX(data []byte) (Parsed, error) {
	const kind = "Word"
	z, err := openOOXML(data, kind)
	if err != nil {
		return Parsed{}, err
	}
	main := "word/document.xml"
	for _, t := range z.rels("") { // _rels/.rels: the main part may be elsewhere
		if strings.HasSuffix(t, ".xml") && strings.Contains(t, "document") {
			main = t
		}
	}
	if !z.has(main) {
		return Parsed{}, xmlErr(kind, main, errMissingPart)
	}
	w := docxWalker{styles: readDocxStyles(z), notes: readDocxFootnotes(z)}
	d, c, err := z.decoder(main)
	if err != nil {
		return Parsed{}, xmlErr(kind, main, err)
	}
	defer c.Close()
	if err := w.walk(d); err != nil {
		return Parsed{}, xmlErr(kind, main, err)
	}
	p := Parsed{Title: z.coreTitle(), Sections: w.b.sections()}
	if p.Title == "" {
		p.Title = w.title
	}
	if p.Title == "" {
		p.Title = w.h1
	}
	return p, nil
}

// docxStyle is what a paragraph style says about its paragraphs.
type docxStyle struct {
	name     string
	basedOn  string
	outline  int // outline level + 1 from the style, 0 for body text
	numbered bool
}

// headingName matches the names of heading styles: Word stores the
// built-in ones in English ("heading 1"), other writers localised.
var headingName = regexp.MustCompile(`(?i)^(?:heading|标题|標題|überschrift|titre|título|titolo|kop|nagłówek|заголовок|見出し|제목)\s*([1-9])$`)

var errTooDeep = errorString("XML nested too deeply")

type errorString string

func (e errorString) Error() string { return string(e) }

var titleName = regexp.MustCompile(`(?i)^(?:title|标题|標題|titel|titre|título|titolo|заголовок|表題|제목)$`)

type docxStyles map[string]docxStyle

func readDocxStyles(z *ooxml) docxStyles {
	out := docxStyles{}
	data, err := z.readPart("word/styles.xml")
	if err != nil {
		return out
	}
	var doc struct {
		Styles []struct {
			Type string `xml:"type,attr"`
			ID   string `xml:"styleId,attr"`
			Name struct {
				Val string `xml:"val,attr"`
			} `xml:"name"`
			BasedOn struct {
				Val string `xml:"val,attr"`
			} `xml:"basedOn"`
			PPr struct {
				Outline *struct {
					Val string `xml:"val,attr"`
				} `xml:"outlineLvl"`
				NumPr *struct{} `xml:"numPr"`
			} `xml:"pPr"`
		} `xml:"style"`
	}
	if xml.Unmarshal(data, &doc) != nil {
		return out
	}
	for _, s := range doc.Styles {
		if s.Type != "" && s.Type != "paragraph" {
			continue
		}
		st := docxStyle{name: strings.TrimSpace(s.Name.Val), basedOn: s.BasedOn.Val, numbered: s.PPr.NumPr != nil}
		if s.PPr.Outline != nil {
			if n, err := strconv.Atoi(s.PPr.Outline.Val); err == nil && n >= 0 && n < 9 {
				st.outline = n + 1
			}
		}
		out[s.ID] = st
	}
	return out
}

// level returns the heading level (1-9) of a paragraph style, or 0, and
// whether the style is the document title.
func (s docxStyles) level(id string) (level int, title bool) {
	for range 10 { // basedOn chains, bounded against loops
		st, ok := s[id]
		if !ok {
			// Without styles.xml a style id still says a lot.
			if m := headingName.FindStringSubmatch(strings.ReplaceAll(id, "Heading", "heading ")); m != nil {
				return int(m[1][0] - '0'), false
			}
			return 0, strings.EqualFold(id, "Title")
		}
		if m := headingName.FindStringSubmatch(st.name); m != nil {
			return int(m[1][0] - '0'), false
		}
		if titleName.MatchString(st.name) {
			return 0, true
		}
		if st.outline > 0 {
			return st.outline, false
		}
		if st.basedOn == "" {
			return 0, false
		}
		id = st.basedOn
	}
	return 0, false
}

func (s docxStyles) numbered(id string) bool {
	for range 10 {
		st, ok := s[id]
		if !ok {
			return false
		}
		if st.numbered {
			return true
		}
		id = st.basedOn
	}
	return false
}

// readDocxFootnotes returns the text of each footnote by id.
func readDocxFootnotes(z *ooxml) map[string]string {
	out := map[string]string{}
	d, c, err := z.decoder("word/footnotes.xml")
	if err != nil {
		return out
	}
	defer c.Close()
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "footnote" {
			continue
		}
		id, typ := attrVal(se, "id"), attrVal(se, "type")
		var w docxWalker
		var parts []string
		for {
			tok, err := d.Token()
			if err != nil {
				return out
			}
			if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "footnote" {
				break
			}
			if pe, ok := tok.(xml.StartElement); ok && pe.Name.Local == "p" {
				para, err := w.paragraph(d, pe)
				if err != nil {
					return out
				}
				if t := strings.TrimSpace(para.text); t != "" {
					parts = append(parts, t)
				}
			}
		}
		if typ == "" || typ == "normal" {
			out[id] = strings.Join(parts, " ")
		}
	}
}

type docxWalker struct {
	b      sectionBuilder
	styles docxStyles
	notes  map[string]string
	title  string // the first paragraph in the Title style
	h1     string
	depth  int
}

// docxPara is one paragraph's text and properties.
type docxPara struct {
	text    string
	style   string
	outline int // from the paragraph's own outlineLvl, + 1
	list    bool
	notes   []string // footnote ids cited, in order
}

// walk reads the document body.
func (w *docxWalker) walk(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "p":
			p, err := w.paragraph(d, se)
			if err != nil {
				return err
			}
			w.addParagraph(p)
		case "tbl":
			header, rows, err := w.table(d)
			if err != nil {
				return err
			}
			writeTable(&w.b, header, rows)
		case "hdr", "ftr", "comments":
			if err := d.Skip(); err != nil {
				return err
			}
		}
	}
}

func (w *docxWalker) addParagraph(p docxPara) {
	text := strings.TrimSpace(p.text)
	if text == "" {
		return
	}
	level, isTitle := w.styles.level(p.style)
	if p.outline > 0 && p.outline < 10 {
		level = p.outline
	}
	switch {
	case isTitle:
		if w.title == "" {
			w.title = text // the document's title, not a section of it
		} else {
			w.b.setHeading(1, text)
		}
	case level > 0 && utf8.RuneCountInString(text) <= 200:
		if level == 1 && w.h1 == "" {
			w.h1 = text
		}
		w.b.setHeading(level, text)
	case p.list || w.styles.numbered(p.style):
		w.b.lineBreak()
		w.b.write("- " + text)
		w.b.lineBreak()
	default:
		w.b.endParagraph()
		w.b.write(text)
		w.b.endParagraph()
	}
	for _, id := range p.notes {
		if n := w.notes[id]; n != "" {
			w.b.endParagraph()
			w.b.write("[" + id + "] " + n)
			w.b.endParagraph()
		}
	}
}

// paragraph reads a <w:p> up to its end element. Text boxes inside it
// are read as part of it; the VML fallback copy of a drawing is not.
func (w *docxWalker) paragraph(d *xml.Decoder, start xml.StartElement) (docxPara, error) {
	var p docxPara
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, err := d.Token()
		if err != nil {
			return p, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxOOXMLXMLDepth {
				return p, errTooDeep
			}
			switch t.Name.Local {
			case "pStyle":
				if depth == 3 { // w:p/w:pPr/w:pStyle, not a text box's
					p.style = attrVal(t, "val")
				}
			case "outlineLvl":
				if n, err := strconv.Atoi(attrVal(t, "val")); err == nil && depth == 3 && n >= 0 && n < 9 {
					p.outline = n + 1
				}
			case "numPr":
				if depth == 3 {
					p.list = true
				}
			case "t":
				var s string
				if err := d.DecodeElement(&s, &t); err != nil {
					return p, err
				}
				b.WriteString(s)
				depth--
			case "tab":
				b.WriteByte(' ')
			case "br", "cr":
				b.WriteByte('\n')
			case "footnoteReference":
				if id := attrVal(t, "id"); id != "" {
					p.notes = append(p.notes, id)
					b.WriteString("[" + id + "]")
				}
			case "delText", "instrText", "Fallback", "rPr":
				if err := d.Skip(); err != nil {
					return p, err
				}
				depth--
			case "p": // a paragraph of a text box
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	p.text = b.String()
	_ = start
	return p, nil
}

// table reads a <w:tbl> up to its end element: rows of cell texts (a
// cell spanning n columns repeated n times), and the header, which is
// the rows marked as repeating header rows, else the first row when it
// has no empty cell and the table has more rows.
func (w *docxWalker) table(d *xml.Decoder) (header []string, body [][]string, err error) {
	var head []htmlRow
	var row []string
	isHeader := false
	var cell strings.Builder
	span := 1
	depth := 1
	inCell := 0 // depth of the current cell, 0 outside one
	for depth > 0 {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxOOXMLXMLDepth {
				return nil, nil, errTooDeep
			}
			switch {
			case t.Name.Local == "tr" && inCell == 0:
				row, isHeader = nil, false
			case t.Name.Local == "tblHeader" && inCell == 0:
				if v := attrVal(t, "val"); v == "" || v == "1" || v == "true" || v == "on" {
					isHeader = true
				}
			case t.Name.Local == "tc" && inCell == 0:
				inCell, span = depth, 1
				cell.Reset()
			case t.Name.Local == "gridSpan" && inCell > 0:
				if n, err := strconv.Atoi(attrVal(t, "val")); err == nil && n > 1 {
					span = min(n, maxColspan)
				}
			case t.Name.Local == "p" && inCell > 0:
				p, err := w.paragraph(d, t)
				if err != nil {
					return nil, nil, err
				}
				depth--
				if s := strings.TrimSpace(p.text); s != "" {
					if cell.Len() > 0 {
						cell.WriteByte(' ')
					}
					cell.WriteString(s)
				}
			}
		case xml.EndElement:
			depth--
			switch {
			case t.Name.Local == "tc" && inCell == depth+1:
				inCell = 0
				for range span {
					row = append(row, cell.String())
				}
			case t.Name.Local == "tr" && inCell == 0:
				if isHeader {
					head = append(head, htmlRow{text: row})
				} else {
					body = append(body, row)
				}
			}
		}
	}
	if len(head) == 0 && len(body) > 1 && !slicesHasEmpty(body[0]) {
		head, body = []htmlRow{{text: body[0]}}, body[1:]
	}
	return mergeHeaderRows(head), body, nil
}

func slicesHasEmpty(cells []string) bool {
	for _, c := range cells {
		if !hasText(c) {
			return true
		}
	}
	return len(cells) == 0
}
