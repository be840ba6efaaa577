package ingest

import (
	"errors"
	"fmt"
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

// FuzzParseOffice feeds the Office and CSV parsers (kind picks .docx,
// .pptx, .xlsx or .csv). Deployments run the zip-based ones in a parse
// worker; here a parse that does not finish is given up on.
func FuzzParseOffice(f *testing.F) {
	f.Add(uint8(0), testDocx())
	f.Add(uint8(1), officegen.PPTX("Deck", []officegen.Slide{{Title: "Plans", Bullets: []string{"One.", "Two."}, Notes: "Note."}}))
	if x, err := officegen.XLSX("Prices", []officegen.Sheet{{Name: "S", Rows: [][]string{{"Product", "Price"}, {"Cam", "$59"}}}}); err == nil {
		f.Add(uint8(2), x)
	}
	f.Add(uint8(3), []byte("问题,答案\n发票怎么开？,在订单详情页申请。\n"))
	f.Add(uint8(3), []byte("a;b\n\"x\n"))
	exts := []string{"f.docx", "f.pptx", "f.xlsx", "f.csv"}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		name := exts[int(kind)%len(exts)]
		type result struct {
			p   Parsed
			err error
		}
		done := make(chan result, 1)
		go func() {
			p, err := ParseFile(name, data)
			done <- result{p, err}
		}()
		select {
		case r := <-done:
			if r.err == nil {
				checkParsed(t, r.p, name == "f.pptx") // slides are numbered like pages
			}
		case <-time.After(5 * time.Second):
			return // a skip is the contract: the worker's time limit ends it
		}
	})
}
