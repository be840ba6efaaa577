// Package officegen writes small Office Open XML files (.docx, .pptx,
// .xlsx) reproducibly, byte for byte: for tests of the ingester and for
// the sample corpus (corpora/internal/mkoffice). It writes only what
// those need: headings (built-in, localised and outline-level styles),
// paragraphs, list items, tables, footnotes, a page header and footer;
// slides with a title, bullets, a table and speaker notes; sheets of
// cells.
package officegen

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// fixed is the modification time of every zip entry.
var fixed = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

type zipWriter struct {
	buf bytes.Buffer
	zw  *zip.Writer
}

func newZip() *zipWriter {
	z := &zipWriter{}
	z.zw = zip.NewWriter(&z.buf)
	return z
}

func (z *zipWriter) add(name, content string) {
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fixed})
	if err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	if _, err := w.Write([]byte(content)); err != nil {
		panic(err)
	}
}

func (z *zipWriter) bytes() []byte {
	if err := z.zw.Close(); err != nil {
		panic(err)
	}
	return z.buf.Bytes()
}

const xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

// Block is one block of a Word document: set exactly one field.
type Block struct {
	// Heading: Level 1-6 with the built-in "heading N" style, or Style
	// names another paragraph style of Doc.Styles.
	Heading string
	Level   int
	Style   string
	// Para is a body paragraph; Footnote, when set, is cited at its end.
	Para     string
	Footnote string
	// List is a run of list items.
	List []string
	// Table rows; the first is marked as the repeating header row when
	// HeaderRow is set.
	Table     [][]string
	HeaderRow bool
}

// Style is an extra paragraph style: a name (perhaps localised) and an
// outline level (0-based, -1 for none).
type Style struct {
	ID, Name string
	Outline  int
}

// Doc is a Word document.
type Doc struct {
	Title  string // docProps/core.xml title; "" for none
	Styles []Style
	Header string // page header text (to be dropped by readers)
	Footer string
	Blocks []Block
}

// DOCX renders a Word document.
func DOCX(d Doc) []byte {
	z := newZip()
	z.add("[Content_Types].xml", xmlHead+`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>`+
		`<Default Extension="xml" ContentType="application/xml"/>`+
		`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>`+
		`<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>`+
		`<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>`+
		`<Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/>`+
		`<Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/>`+
		`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>`+
		`</Types>`)
	z.add("_rels/.rels", xmlHead+`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>`+
		`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>`+
		`</Relationships>`)
	z.add("docProps/core.xml", xmlHead+`<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">`+
		`<dc:title>`+esc(d.Title)+`</dc:title></cp:coreProperties>`)
	z.add("word/_rels/document.xml.rels", xmlHead+`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>`+
		`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>`+
		`<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/>`+
		`<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/>`+
		`</Relationships>`)
	const ns = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	var st strings.Builder
	st.WriteString(xmlHead + `<w:styles ` + ns + `>`)
	st.WriteString(`<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>`)
	st.WriteString(`<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/></w:style>`)
	st.WriteString(`<w:style w:type="paragraph" w:styleId="ListParagraph"><w:name w:val="List Paragraph"/><w:basedOn w:val="Normal"/></w:style>`)
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&st, `<w:style w:type="paragraph" w:styleId="Heading%d"><w:name w:val="heading %d"/><w:basedOn w:val="Normal"/><w:pPr><w:outlineLvl w:val="%d"/></w:pPr></w:style>`, i, i, i-1)
	}
	for _, s := range d.Styles {
		fmt.Fprintf(&st, `<w:style w:type="paragraph" w:styleId="%s"><w:name w:val="%s"/><w:basedOn w:val="Normal"/>`, esc(s.ID), esc(s.Name))
		if s.Outline >= 0 {
			fmt.Fprintf(&st, `<w:pPr><w:outlineLvl w:val="%d"/></w:pPr>`, s.Outline)
		}
		st.WriteString(`</w:style>`)
	}
	st.WriteString(`</w:styles>`)
	z.add("word/styles.xml", st.String())

	para := func(style, text string) string {
		var b strings.Builder
		b.WriteString(`<w:p>`)
		if style != "" {
			b.WriteString(`<w:pPr><w:pStyle w:val="` + esc(style) + `"/></w:pPr>`)
		}
		b.WriteString(`<w:r><w:t xml:space="preserve">` + esc(text) + `</w:t></w:r></w:p>`)
		return b.String()
	}
	var body, notes strings.Builder
	notes.WriteString(xmlHead + `<w:footnotes ` + ns + `>` +
		`<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>` +
		`<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>`)
	nNote := 0
	for _, bl := range d.Blocks {
		switch {
		case bl.Heading != "":
			style := bl.Style
			if style == "" {
				style = fmt.Sprintf("Heading%d", max(1, min(bl.Level, 6)))
			}
			body.WriteString(para(style, bl.Heading))
		case bl.Para != "":
			if bl.Footnote == "" {
				body.WriteString(para("", bl.Para))
				break
			}
			nNote++
			fmt.Fprintf(&body, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r><w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteReference w:id="%d"/></w:r></w:p>`, esc(bl.Para), nNote)
			fmt.Fprintf(&notes, `<w:footnote w:id="%d"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> %s</w:t></w:r></w:p></w:footnote>`, nNote, esc(bl.Footnote))
		case len(bl.List) > 0:
			for _, it := range bl.List {
				fmt.Fprintf(&body, `<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, esc(it))
			}
		case len(bl.Table) > 0:
			body.WriteString(`<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/></w:tblPr>`)
			for i, row := range bl.Table {
				body.WriteString(`<w:tr>`)
				if i == 0 && bl.HeaderRow {
					body.WriteString(`<w:trPr><w:tblHeader/></w:trPr>`)
				}
				for _, c := range row {
					body.WriteString(`<w:tc><w:tcPr><w:tcW w:w="2000" w:type="dxa"/></w:tcPr>` + para("", c) + `</w:tc>`)
				}
				body.WriteString(`</w:tr>`)
			}
			body.WriteString(`</w:tbl>`)
		}
	}
	notes.WriteString(`</w:footnotes>`)
	z.add("word/document.xml", xmlHead+`<w:document `+ns+`><w:body>`+body.String()+
		`<w:sectPr><w:headerReference w:type="default" r:id="rId3"/><w:footerReference w:type="default" r:id="rId4"/></w:sectPr></w:body></w:document>`)
	z.add("word/footnotes.xml", notes.String())
	z.add("word/header1.xml", xmlHead+`<w:hdr `+ns+`>`+para("", d.Header)+`</w:hdr>`)
	z.add("word/footer1.xml", xmlHead+`<w:ftr `+ns+`>`+para("", d.Footer)+`</w:ftr>`)
	return z.bytes()
}

// Slide is one slide of a deck.
type Slide struct {
	Title   string
	Bullets []string
	Table   [][]string // first row is the header
	Notes   string     // speaker notes
}

// PPTX renders a deck.
func PPTX(title string, slides []Slide) []byte {
	z := newZip()
	const (
		nsP = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
		rel = `http://schemas.openxmlformats.org/officeDocument/2006/relationships/`
	)
	var ct, presRels, ids strings.Builder
	ct.WriteString(xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>` +
		`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>`)
	presRels.WriteString(xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	// Slides are listed in reverse file order on purpose: readers must
	// follow sldIdLst, not file names.
	n := len(slides)
	for i := range slides {
		file := n - i
		fmt.Fprintf(&ids, `<p:sldId id="%d" r:id="rId%d"/>`, 256+i, 100+i)
		fmt.Fprintf(&presRels, `<Relationship Id="rId%d" Type="%sslide" Target="slides/slide%d.xml"/>`, 100+i, rel, file)
		fmt.Fprintf(&ct, `<Override PartName="/ppt/slides/slide%d.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>`, file)
		fmt.Fprintf(&ct, `<Override PartName="/ppt/notesSlides/notesSlide%d.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.notesSlide+xml"/>`, file)
	}
	presRels.WriteString(`</Relationships>`)
	ct.WriteString(`</Types>`)
	z.add("[Content_Types].xml", ct.String())
	z.add("_rels/.rels", xmlHead+`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`officeDocument" Target="ppt/presentation.xml"/>`+
		`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`)
	z.add("docProps/core.xml", xmlHead+`<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">`+
		`<dc:title>`+esc(title)+`</dc:title></cp:coreProperties>`)
	z.add("ppt/presentation.xml", xmlHead+`<p:presentation `+nsP+`><p:sldIdLst>`+ids.String()+`</p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/></p:presentation>`)
	z.add("ppt/_rels/presentation.xml.rels", presRels.String())
	txBody := func(paras []string) string {
		var b strings.Builder
		b.WriteString(`<p:txBody><a:bodyPr/><a:lstStyle/>`)
		for _, p := range paras {
			b.WriteString(`<a:p><a:r><a:rPr lang="en-US"/><a:t>` + esc(p) + `</a:t></a:r></a:p>`)
		}
		b.WriteString(`</p:txBody>`)
		return b.String()
	}
	shape := func(id int, ph, idx string, paras []string) string {
		attrs := ""
		if ph != "" {
			attrs += ` type="` + ph + `"`
		}
		if idx != "" {
			attrs += ` idx="` + idx + `"`
		}
		return fmt.Sprintf(`<p:sp><p:nvSpPr><p:cNvPr id="%d" name="Shape %d"/><p:cNvSpPr/><p:nvPr><p:ph%s/></p:nvPr></p:nvSpPr><p:spPr/>%s</p:sp>`, id, id, attrs, txBody(paras))
	}
	for i, s := range slides {
		file := n - i
		var sp strings.Builder
		sp.WriteString(shape(2, "title", "", []string{s.Title}))
		if len(s.Bullets) > 0 {
			sp.WriteString(shape(3, "", "1", s.Bullets))
		}
		if len(s.Table) > 0 {
			sp.WriteString(`<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl>`)
			for _, row := range s.Table {
				sp.WriteString(`<a:tr h="370840">`)
				for _, c := range row {
					sp.WriteString(`<a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>` + esc(c) + `</a:t></a:r></a:p></a:txBody></a:tc>`)
				}
				sp.WriteString(`</a:tr>`)
			}
			sp.WriteString(`</a:tbl></a:graphicData></a:graphic></p:graphicFrame>`)
		}
		z.add(fmt.Sprintf("ppt/slides/slide%d.xml", file), xmlHead+`<p:sld `+nsP+`><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>`+sp.String()+`</p:spTree></p:cSld></p:sld>`)
		z.add(fmt.Sprintf("ppt/slides/_rels/slide%d.xml.rels", file), xmlHead+`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
			fmt.Sprintf(`<Relationship Id="rId2" Type="%snotesSlide" Target="../notesSlides/notesSlide%d.xml"/>`, rel, file)+`</Relationships>`)
		notes := shape(2, "sldImg", "", nil)
		if s.Notes != "" {
			notes += shape(3, "body", "1", []string{s.Notes})
		}
		notes += shape(4, "sldNum", "5", []string{fmt.Sprint(i + 1)})
		z.add(fmt.Sprintf("ppt/notesSlides/notesSlide%d.xml", file), xmlHead+`<p:notes `+nsP+`><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>`+notes+`</p:spTree></p:cSld></p:notes>`)
	}
	return z.bytes()
}

// Sheet is one worksheet.
type Sheet struct {
	Name string
	Rows [][]string
}

// XLSX renders a workbook with excelize.
func XLSX(title string, sheets []Sheet) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetDocProps(&excelize.DocProperties{Title: title, Created: "2025-01-01T00:00:00Z", Modified: "2025-01-01T00:00:00Z", Creator: "Quarry"}); err != nil {
		return nil, err
	}
	for i, s := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s.Name); err != nil {
				return nil, err
			}
		} else if _, err := f.NewSheet(s.Name); err != nil {
			return nil, err
		}
		for r, row := range s.Rows {
			for c, v := range row {
				cell, err := excelize.CoordinatesToCellName(c+1, r+1)
				if err != nil {
					return nil, err
				}
				if err := f.SetCellStr(s.Name, cell, v); err != nil {
					return nil, err
				}
			}
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
