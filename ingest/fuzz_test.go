package ingest

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quarry-kb/quarry/internal/officegen"
)

// checkParsed asserts what every successful parse guarantees.
func checkParsed(t *testing.T, p Parsed, pdf bool) {
	t.Helper()
	if p.Title == "" || strings.ContainsAny(p.Title, "\n\r\t") || !utf8.ValidString(p.Title) {
		t.Fatalf("bad title %q", p.Title)
	}
	if p.Lang != LangEnglish && p.Lang != LangChinese {
		t.Fatalf("bad lang %q", p.Lang)
	}
	if len(p.Sections) == 0 {
		t.Fatal("no sections")
	}
	lastPage := 0
	for _, s := range p.Sections {
		if s.Text == "" || normalize(s.Text) != s.Text || !utf8.ValidString(s.Text) {
			t.Fatalf("section text is not normalised: %q", s.Text)
		}
		for _, h := range s.Heading {
			if h == "" || strings.ContainsAny(h, "\n\r") {
				t.Fatalf("bad heading %q in %q", h, s.Heading)
			}
		}
		if pdf {
			// Headings cut a page into several sections, in page order.
			if s.Page < 1 || s.Page < lastPage {
				t.Fatalf("page %d after page %d", s.Page, lastPage)
			}
			lastPage = s.Page
		} else if s.Page != 0 {
			t.Fatalf("page %d outside a PDF", s.Page)
		}
	}
}

// fuzzText runs a text parser directly (ParseFile would turn a panic into
// an error and hide it from the fuzzer).
func fuzzText(f *testing.F, name string, parse func(string) Parsed, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := decodeText(data)
		if err != nil {
			return
		}
		p := parse(text)
		p.Type = TypeOf(name)
		p, err = finish(p, name)
		if err != nil {
			return
		}
		checkParsed(t, p, false)
	})
}

func FuzzParseMarkdown(f *testing.F) {
	fuzzText(f, "f.md", parseMarkdown,
		"# Title\n\nPara one.\n\n## Sub\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n",
		"---\ntitle: T\n---\nbody",
		"---\nunterminated front matter",
		"Setext\n======\n\ntext\n\nTwo\n---\n",
		"> quote\n> # heading in quote\n\n```\ncode\n```\n\n<div>html <b>block</b></div>\n",
		"中文\n段落。\n\n# 标题\n内容",
		"* [x] task\n  1. nested\n     ```\n     code\n     ```\n",
		"[ref]: http://x\n\n![img](x.png) <span>raw</span> &amp; &#1234; \\*",
		"#\n##\n###### \n# #",
		"| Device | Price |\n|---|--:|\n| Lock L1 | $229 |\n| Bulb | 3.5 W. e.g. |\n\n|  |  |\n|--|--|\n| a | 1 |\n",
		"| 表头 | 说明 |\n|---|---|\n| 新疆 | 4至7天 |\n| x |\n",
	)
}

func FuzzParseHTML(f *testing.F) {
	fuzzText(f, "f.html", parseHTML,
		"<html><head><title>T</title></head><body><h1>A</h1><p>x</p><h3>B</h3><ul><li>1</li></ul></body></html>",
		"<table><tr><td>a<td>b<tr><td>c</table><pre>x\n y</pre>",
		"<h1><h2>nested</h2></h1><p>unclosed <b>bold",
		"<script>alert('<p>')</script><style>p{}</style><nav>n</nav>text",
		"<svg><title>svg title</title></svg><p>中文\n段落</p>",
		"&lt;&gt;&amp;&#x4e2d; <br><br/> <img alt=picture>",
		"<template><p>hidden</p></template><noscript>ns</noscript><iframe>if</iframe>",
		"<table><caption>C</caption><thead><tr><th rowspan=2>A</th><th colspan=2>B</th></tr><tr><th>x<th>y</thead><tbody><tr><td>1<td>2.5 p.m.<td>3</tbody><tfoot><tr><td>t</tfoot></table>",
		"<table><tr><th colspan=99999999>h</th></tr><tr><td><table><tr><th>n</th></tr><tr><td>in</td></tr></table></td></tr></table><tr><td>stray</td></tr>",
	)
}

func FuzzParseText(f *testing.F) {
	fuzzText(f, "f.txt", parseText,
		"Title\n\nBody para.\nwrapped line.\n\n- item\n- item\n  continued\n",
		"Underlined\n==========\nbody",
		"no title.\n\n1. one\n2) two\n10. ten",
		"\r\n\r\n\rmixed\rline\r\nends",
		"标题\n\n正文第一行\n正文第二行。",
		"---\n===\n- \n*",
	)
}

func FuzzParsePDF(f *testing.F) {
	f.Add(makePDF(f, "Title", [][]string{{"Hello world.", "Second paragraph."}, {"Page two."}}))
	f.Add(makePDF(f, "", [][]string{{}}))
	f.Add(rawPDF("BT /F1 12 Tf 72 700 Td (Hi) Tj ET"))
	f.Add(rawPDF("BT /F1 12 Tf 72 700 Td Tj ET"))
	f.Add(rawPDF("BT /F1 12 Tf [(A) -250 (B)] TJ T* (C) ' 1 2 (D) \" ET"))
	f.Add(rawPDF("q 1 0 0 1 0 0 cm BT /F1 12 Tf 1 0 0 1 72 700 Tm (x) Tj ET Q Q"))
	f.Add([]byte("%PDF-1.4\n%%EOF\n"))
	f.Add(makeStyledPDF(f, [][]styledLine{{h1("Guide"), body("Intro."), h2("Setup"), {style: "B", size: 11, text: "Wiring"}, body("Connect the"), body("wires.")}, {{style: "B", size: 15, text: "Wrapped"}, {style: "B", size: 15, text: "heading"}, body("Text,"), h3("Dear customer,")}}))
	f.Add(rawPDF(pdfRows([]float64{72, 300, 400}, []string{"Device", "Price", "Notes"}, []string{"Lock", "$229", "2 keys."}, []string{"-", "x", "3.5 p.m."})))
	// Inputs that send the PDF library into an endless loop are given
	// up on after a while (deployments parse PDFs in a parse worker that
	// is killed then, see ingest/sandbox); a skip is the contract, so
	// they pass.
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePDFWithin(data, 2*time.Second)
		if err != nil {
			return
		}
		p.Type = TypePDF
		p, err = finish(p, "f.pdf")
		if err != nil {
			return
		}
		checkParsed(t, p, true)
	})
}

// parsePDFWithin runs parsePDF, giving up after d (the goroutine of a
// parse that loops is left behind: acceptable in a fuzzing process only).
func parsePDFWithin(data []byte, d time.Duration) (Parsed, error) {
	type result struct {
		p   Parsed
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if x := recover(); x != nil {
				done <- result{err: fmt.Errorf("panic: %v", x)}
			}
		}()
		p, err := parsePDF(data)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-time.After(d):
		return Parsed{}, errors.New("timeout")
	}
}

// FuzzParseOffice feeds ParseFile the part of an Office file that its
// parser reads most (kind picks the word/document.xml of a .docx, the
// slide of a .pptx or the worksheet of an .xlsx), a whole .csv, or a
// whole .xlsx. For the first three the fuzzer mutates the XML and the
// function puts it into an otherwise fixed package: of single-byte
// changes to a whole .docx, three in five land where no parser looks
// (zip headers, times: the same result) and one in five breaks a
// deflate stream (a "corrupt" error), so few reach the XML readers.
// FuzzParseDOCX and FuzzParsePPTX mutate whole zips, for the container.
//
// Every input that finds new coverage is minimised, by default for up
// to 60 s and in a pass quadratic in its length; at a millisecond or so
// a parse, that took all of a short -fuzztime (about 0 execs/s), so
// TestMain and scripts/fuzz.sh bound it (-fuzzminimizetime 100x). Deployments run the
// zip-based parsers in a parse worker; here a parse that does not
// finish is given up on.
func FuzzParseOffice(f *testing.F) {
	const (
		wNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`
		pNS = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
		xNS = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	)
	docx := officegen.DOCX(officegen.Doc{
		Styles: []officegen.Style{{ID: "a3", Name: "标题 2", Outline: -1}, {ID: "T", Name: "Topic", Outline: 2}},
		Blocks: []officegen.Block{{Heading: "H", Level: 1}, {Para: "p.", Footnote: "f."}, {List: []string{"i"}}},
	})
	pptx := officegen.PPTX("T", []officegen.Slide{{Title: "A", Notes: "n."}})
	xlsx, err := officegen.XLSX("T", []officegen.Sheet{{Name: "S", Rows: [][]string{{"Question", "Answer"}, {"q?", "a."}}}})
	if err != nil {
		f.Fatal(err)
	}
	kinds := []struct {
		name string
		put  func([]byte) []byte
	}{
		{"f.docx", withPart(f, docx, "word/document.xml")},
		{"f.pptx", withPart(f, pptx, "ppt/slides/slide1.xml")},
		{"f.xlsx", withPart(f, xlsx, "xl/worksheets/sheet1.xml")},
		{"f.csv", func(b []byte) []byte { return b }},
		{"f.xlsx", func(b []byte) []byte { return b }}, // a whole workbook: excelize opens the zip itself
	}
	f.Add(uint8(0), []byte(`<w:document `+wNS+`><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Setup</w:t></w:r></w:p>`+
		`<w:p><w:r><w:t>Mount it.</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>`+
		`<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Step</w:t></w:r></w:p>`+
		`<w:tbl><w:tr><w:trPr><w:tblHeader/></w:trPr><w:tc><w:p><w:r><w:t>k</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>v</w:t></w:r></w:p></w:tc></w:tr>`+
		`<w:tr><w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`+
		`<w:p><w:pPr><w:pStyle w:val="a3"/></w:pPr><w:r><w:t>保修</w:t></w:r></w:p><w:p><w:pPr><w:pStyle w:val="T"/></w:pPr><w:r><w:t>T</w:t></w:r></w:p></w:body></w:document>`))
	f.Add(uint8(1), []byte(`<p:sld `+pNS+`><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Plans</a:t></a:r></a:p></p:txBody></p:sp>`+
		`<p:sp><p:txBody><a:p><a:r><a:t>One.</a:t></a:r></a:p></p:txBody></p:sp>`+
		`<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tr><a:tc><a:txBody><a:p><a:r><a:t>a</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame></p:spTree></p:cSld></p:sld>`))
	f.Add(uint8(2), []byte(`<worksheet `+xNS+`><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>`+
		`<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="inlineStr"><is><t>Yes.</t></is></c><c r="C2"><v>3.5</v></c></row></sheetData></worksheet>`))
	f.Add(uint8(3), []byte("问题,答案\n发票怎么开？,在订单详情页申请。\n"))
	f.Add(uint8(3), []byte("a;b\n\"x\n"))
	f.Add(uint8(4), xlsx)
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := kinds[int(kind)%len(kinds)]
		file := k.put(data)
		type result struct {
			p   Parsed
			err error
		}
		done := make(chan result, 1)
		go func() {
			p, err := ParseFile(k.name, file)
			done <- result{p, err}
		}()
		select {
		case r := <-done:
			if r.err == nil {
				checkParsed(t, r.p, k.name == "f.pptx") // slides are numbered like pages
			}
		case <-time.After(5 * time.Second):
			return // a skip is the contract: the worker's time limit ends it
		}
	})
}

// withPart returns a function that makes a copy of the Office package
// pkg with part replaced by its argument (the parts stored, not
// deflated, which is cheap).
func withPart(f *testing.F, pkg []byte, part string) func([]byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		f.Fatal(err)
	}
	type entry struct {
		name string
		data []byte
	}
	var parts []entry
	found := false
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			f.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			f.Fatal(err)
		}
		found = found || zf.Name == part
		parts = append(parts, entry{zf.Name, b})
	}
	if !found {
		f.Fatalf("no %s in the package", part)
	}
	return func(data []byte) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, e := range parts {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
			if err != nil {
				panic(err) // writing to a bytes.Buffer does not fail
			}
			b := e.data
			if e.name == part {
				b = data
			}
			if _, err := w.Write(b); err != nil {
				panic(err)
			}
		}
		if err := zw.Close(); err != nil {
			panic(err)
		}
		return buf.Bytes()
	}
}
