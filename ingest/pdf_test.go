package ingest

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/hostile"
)

// makePDF renders pages of paragraphs with a core font. Paragraphs are
// separated by a blank line's worth of space, as a word processor would.
func makePDF(t testing.TB, title string, pages [][]string) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	if title != "" {
		f.SetTitle(title, true)
	}
	f.SetFont("Helvetica", "", 12)
	for _, paras := range pages {
		f.AddPage()
		for _, p := range paras {
			f.MultiCell(0, 6, p, "", "L", false)
			f.Ln(6)
		}
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		t.Fatalf("render PDF: %v", err)
	}
	return buf.Bytes()
}

// rawPDF assembles a one-page PDF around a content stream, with a correct
// cross-reference table, so tests can feed the parser content that no PDF
// library would write.
func rawPDF(content string) []byte {
	return hostile.PDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	)
}

func TestParsePDF(t *testing.T) {
	long := "Warranty claims are handled by the store where you bought the product. " +
		"Bring the receipt and the original packaging if you still have it, and allow five working days for an assessment."
	data := makePDF(t, "Warranty Handbook", [][]string{
		{long, "Second paragraph on page one."},
		{"Page two text. It has two sentences."},
		{}, // a page without text
		{"Page four closes the handbook."},
	})
	p, err := ParseFile("manuals/warranty.pdf", data)
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if p.Title != "Warranty Handbook" || p.Type != TypePDF || p.Lang != "en" {
		t.Errorf("title, type, lang = %q, %q, %q", p.Title, p.Type, p.Lang)
	}
	var pages []int
	for _, s := range p.Sections {
		pages = append(pages, s.Page)
		if len(s.Heading) != 0 {
			t.Errorf("page %d has heading %q, want none", s.Page, s.Heading)
		}
	}
	if fmt.Sprint(pages) != "[1 2 4]" {
		t.Fatalf("section pages = %v, want [1 2 4]", pages)
	}
	// The long paragraph wraps over several lines in the PDF; it must come
	// back as one paragraph, and the next one as another.
	want1 := long + "\n\nSecond paragraph on page one."
	if got := p.Sections[0].Text; got != want1 {
		t.Errorf("page 1 text:\n got %q\nwant %q", got, want1)
	}
	if got := p.Sections[1].Text; got != "Page two text. It has two sentences." {
		t.Errorf("page 2 text = %q", got)
	}
}

func TestParsePDFTitleFallbacks(t *testing.T) {
	p, err := ParseFile("x/untitled.pdf", makePDF(t, "", [][]string{{"Installation Guide", "Unpack the box."}}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Installation Guide" {
		t.Errorf("title = %q, want the first line", p.Title)
	}
	long := strings.Repeat("word ", 40)
	p, err = ParseFile("x/untitled.pdf", makePDF(t, "", [][]string{{long}}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "untitled" && len([]rune(p.Title)) > maxTitleRunes {
		t.Errorf("title = %q, want at most %d characters or the file name", p.Title, maxTitleRunes)
	}
}

func TestParsePDFRejects(t *testing.T) {
	corrupt, err := os.ReadFile("testdata/corrupt.pdf")
	if err != nil {
		t.Fatal(err)
	}
	good := makePDF(t, "T", [][]string{{"Some text."}})
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"committed corrupt file", corrupt, "corrupt PDF: "},
		{"truncated", good[:len(good)/2], "corrupt PDF: "},
		{"garbage after header", []byte("%PDF-1.4\n" + strings.Repeat("x", 200) + "\n%%EOF\n"), "corrupt PDF: "},
		{"no text", makePDF(t, "Blank", [][]string{{}, {}}), "PDF has no extractable text"},
		// The PDF library panics on a Tj operator without an operand; the
		// panic must come back as a skip reason.
		{"library panic", rawPDF("BT /F1 12 Tf 72 700 Td Tj ET"), "corrupt PDF: page 1: bad Tj operator"},
		// Structures that send the PDF library round in circles.
		{"page tree cycle", hostile.PDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count 1 >>",
		), "corrupt PDF: page tree: too deep or cyclic"},
		{"parent cycle", hostile.PDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>",
			"<< /Length 27 >>\nstream\nBT /F1 12 Tf (Loop) Tj ET\nendstream",
		), "corrupt PDF: page 1: malformed PDF: reading at offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("f.pdf", tt.data)
			if err == nil {
				t.Fatal("ParseFile succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tt.reason) {
				t.Errorf("error = %q, want prefix %q", err, tt.reason)
			}
			if quarry.ErrorCode(err) != quarry.CodeInvalid {
				t.Errorf("code = %q, want invalid", quarry.ErrorCode(err))
			}
		})
	}
}

func TestParsePDFRawContent(t *testing.T) {
	// Words placed one by one, with gaps instead of space characters, as
	// many producers write them.
	p, err := ParseFile("raw.pdf", rawPDF("BT /F1 12 Tf 1 0 0 1 72 700 Tm (Hello) Tj 1 0 0 1 110 700 Tm (world.) Tj 1 0 0 1 72 686 Tm (Next) Tj 1 0 0 1 104 686 Tm (line.) Tj ET"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Sections[0].Text; got != "Hello world. Next line." {
		t.Errorf("text = %q", got)
	}
}

// styledLine is one line of a makeStyledPDF page: text in a core
// Helvetica face ("" regular, "B" bold) at size points, after gap extra
// millimetres of space. Cells, when set, are drawn 50 mm apart instead of
// text, like a table row.
type styledLine struct {
	style string
	size  float64
	text  string
	gap   float64
	cells []string
}

// makeStyledPDF renders pages of lines with explicit fonts and spacing,
// the way word processors set headings, body text and tables.
func makeStyledPDF(t testing.TB, pages [][]styledLine) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	for _, lines := range pages {
		f.AddPage()
		for _, l := range lines {
			f.SetFont("Helvetica", l.style, l.size)
			lh := l.size * 0.3528 * 1.25
			if l.gap > 0 {
				f.Ln(l.gap)
			}
			if l.cells == nil {
				f.CellFormat(0, lh, l.text, "", 1, "L", false, 0, "")
				continue
			}
			for _, c := range l.cells {
				f.CellFormat(50, lh, c, "", 0, "L", false, 0, "")
			}
			f.Ln(lh)
		}
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		t.Fatalf("render PDF: %v", err)
	}
	return buf.Bytes()
}

// Styles of a typical manual: body 11 pt, headings 20, 15 and bold 11.
func h1(s string) styledLine   { return styledLine{style: "B", size: 20, text: s, gap: 4} }
func h2(s string) styledLine   { return styledLine{style: "B", size: 15, text: s, gap: 4} }
func h3(s string) styledLine   { return styledLine{style: "B", size: 11, text: s, gap: 3} }
func body(s string) styledLine { return styledLine{size: 11, text: s} }
func gap(l styledLine) styledLine {
	l.gap = 3
	return l
}

// sectionsString renders sections one a line as "p<page> [h1 > h2] text".
func sectionsString(secs []Section) string {
	var b strings.Builder
	for _, s := range secs {
		fmt.Fprintf(&b, "p%d [%s] %s\n", s.Page, strings.Join(s.Heading, " > "), s.Text)
	}
	return b.String()
}

func TestParsePDFHeadings(t *testing.T) {
	data := makeStyledPDF(t, [][]styledLine{{
		h1("Thermostat T2 Guide"),
		gap(body("This guide explains how to install the thermostat and")),
		body("how to use it every day."),
		h2("Installation"),
		gap(body("Turn off the power at the breaker first.")),
		// A bold heading at body size, set as tight to its paragraph as
		// to the line above: it must not run into either.
		{style: "B", size: 11, text: "Wiring the base"},
		body("Connect each labelled wire to the terminal with the same"),
		body("letter until the button clicks down."),
	}, {
		body("Then press the display onto the base."),
		// A heading wrapped over two lines is one heading.
		h2("When the display stays blank after the power has been switched back on at the"),
		{style: "B", size: 15, text: "breaker"},
		gap(body("Check that the furnace door is closed.")),
		h3("Resetting"),
		gap(body("Hold the display for 10 seconds.")),
	}})
	p, err := ParseFile("t2.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	want := `p1 [Thermostat T2 Guide] This guide explains how to install the thermostat and how to use it every day.
p1 [Thermostat T2 Guide > Installation] Turn off the power at the breaker first.
p1 [Thermostat T2 Guide > Installation > Wiring the base] Connect each labelled wire to the terminal with the same letter until the button clicks down.
p2 [Thermostat T2 Guide > Installation > Wiring the base] Then press the display onto the base.
p2 [Thermostat T2 Guide > When the display stays blank after the power has been switched back on at the breaker] Check that the furnace door is closed.
p2 [Thermostat T2 Guide > When the display stays blank after the power has been switched back on at the breaker > Resetting] Hold the display for 10 seconds.
`
	if got := sectionsString(p.Sections); got != want {
		t.Errorf("sections:\n%s\nwant:\n%s", got, want)
	}
	if p.Title != "Thermostat T2 Guide" {
		t.Errorf("title = %q", p.Title)
	}
}

// TestParsePDFHeadingLevels checks that levels follow sizes across the
// document, whatever order they first appear in, and that a regular
// (not bold) larger line is a heading too.
func TestParsePDFHeadingLevels(t *testing.T) {
	data := makeStyledPDF(t, [][]styledLine{{
		h3("Overview"),
		gap(body("Short introduction to the plans.")),
		{size: 15, text: "Plans", gap: 4},
		gap(body("Two plans are offered.")),
		h3("Basic"),
		gap(body("Basic costs $3.99.")),
		h1("Appendix"),
		gap(body("Nothing else.")),
	}})
	p, err := ParseFile("levels.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	want := `p1 [Overview] Short introduction to the plans.
p1 [Plans] Two plans are offered.
p1 [Plans > Basic] Basic costs $3.99.
p1 [Appendix] Nothing else.
`
	// Overview is level 3 with no level 1 or 2 above it yet: its path
	// is just itself, as in Markdown.
	if got := sectionsString(p.Sections); got != want {
		t.Errorf("sections:\n%s\nwant:\n%s", got, want)
	}
}

// TestParsePDFHeadingLookalikes feeds lines that are styled like
// headings but are body text: none may become a heading, and no text may
// be lost.
func TestParsePDFHeadingLookalikes(t *testing.T) {
	long := "Always switch off the power at the circuit breaker before you touch any of the wires behind"
	tests := []struct {
		name  string
		pages [][]styledLine
		want  string
	}{
		{
			name: "one font size throughout",
			pages: [][]styledLine{{
				body("Installation"),
				gap(body("Unpack the box.")),
				gap(body("Specifications")),
				gap(body("Width 80 mm.")),
			}},
			want: "p1 [] Installation\n\nUnpack the box.\n\nSpecifications\n\nWidth 80 mm.\n",
		},
		{
			name: "a bold sentence that ends in a period",
			pages: [][]styledLine{{
				body("Read these steps first."),
				gap(styledLine{style: "B", size: 11, text: "Always switch off the breaker first."}),
				gap(body("Then remove the cover.")),
			}},
			want: "p1 [] Read these steps first.\n\nAlways switch off the breaker first.\n\nThen remove the cover.\n",
		},
		{
			name: "a long bold paragraph",
			pages: [][]styledLine{{
				body("Read these steps first."),
				gap(styledLine{style: "B", size: 11, text: long}),
				{style: "B", size: 11, text: "the old thermostat, and keep it off until the new base plate is on the wall"},
				gap(body("Then remove the cover.")),
			}},
			want: "p1 [] Read these steps first.\n\n" + long + " the old thermostat, and keep it off until the new base plate is on the wall\n\nThen remove the cover.\n",
		},
		{
			name: "bold words that end a paragraph",
			pages: [][]styledLine{{
				body("If the lock does not respond, call"),
				{style: "B", size: 11, text: "Kestrel Support"},
				gap(body("Next paragraph.")),
			}},
			want: "p1 [] If the lock does not respond, call Kestrel Support\n\nNext paragraph.\n",
		},
		{
			name: "bold words that start a sentence running on",
			pages: [][]styledLine{{
				body("First paragraph."),
				gap(styledLine{style: "B", size: 11, text: "Kestrel Support"}),
				body("answers every day from 8 a.m."),
			}},
			want: "p1 [] First paragraph.\n\nKestrel Support answers every day from 8 a.m.\n",
		},
		{
			name: "a larger line ending in a comma",
			pages: [][]styledLine{{
				{size: 15, text: "Dear customer,"},
				gap(body("Thank you for your order.")),
			}},
			want: "p1 [] Dear customer, Thank you for your order.\n",
		},
		{
			name: "a bold running header on every page",
			pages: [][]styledLine{
				{{style: "B", size: 11, text: "Kestrel Home Handbook"}, gap(body("Page one text, long enough to be most of the page."))},
				{{style: "B", size: 11, text: "Kestrel Home Handbook"}, gap(body("Page two text, long enough to be most of the page."))},
			},
			want: "p1 [] Kestrel Home Handbook\n\nPage one text, long enough to be most of the page.\np2 [] Kestrel Home Handbook\n\nPage two text, long enough to be most of the page.\n",
		},
		{
			name: "bold everywhere marks nothing",
			pages: [][]styledLine{{
				{style: "B", size: 11, text: "Installation"},
				gap(styledLine{style: "B", size: 11, text: "Unpack the box"}),
			}},
			want: "p1 [] Installation\n\nUnpack the box\n",
		},
		{
			name: "small print below the body size",
			pages: [][]styledLine{{
				body("Body text of the page."),
				gap(body("More body text.")),
				gap(styledLine{style: "B", size: 8, text: "Handbook - Page 1 of 2"}),
			}},
			want: "p1 [] Body text of the page.\n\nMore body text. Handbook - Page 1 of 2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFile("f.pdf", makeStyledPDF(t, tt.pages))
			if err != nil {
				t.Fatal(err)
			}
			if got := sectionsString(p.Sections); got != tt.want {
				t.Errorf("sections:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestParsePDFHeadingsAndTables checks that a table under a heading keeps
// its rows (its bold header row is not a heading) and that the heading
// after it closes the table's section.
func TestParsePDFHeadingsAndTables(t *testing.T) {
	row := func(style string, cells ...string) styledLine {
		return styledLine{style: style, size: 11, cells: cells}
	}
	data := makeStyledPDF(t, [][]styledLine{{
		h2("Devices"),
		gap(row("B", "Device", "Price", "Notes")),
		row("", "Smart Lock L1", "$229", "Keypad"),
		row("", "Hub H2", "$129", "Needed for sensors"),
		h2("Kits"),
		gap(row("B", "Item", "Price", "Notes")),
		row("", "Starter Kit", "$179", "Hub and sensors"),
		row("", "Chime Plug", "$29", "Indoor chime"),
	}})
	p, err := ParseFile("prices.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	want := `p1 [Devices] Smart Lock L1 — Price: $229; Notes: Keypad.

Hub H2 — Price: $129; Notes: Needed for sensors.
p1 [Kits] Starter Kit — Price: $179; Notes: Hub and sensors.

Chime Plug — Price: $29; Notes: Indoor chime.
`
	if got := sectionsString(p.Sections); got != want {
		t.Errorf("sections:\n%s\nwant:\n%s", got, want)
	}
}

func TestIsBoldFont(t *testing.T) {
	tests := map[string]bool{
		"Helvetica-Bold":            true,
		"Helvetica-BoldOblique":     true,
		"ABCDEF+NotoSans-SemiBold":  true,
		"Arial,Bold":                true,
		"Roboto-Black":              true,
		"SourceSansPro-Heavy":       true,
		"Helvetica":                 false,
		"Times-Italic":              false,
		"ABCDEF+NotoSansSC-Regular": false,
	}
	for name, want := range tests {
		if got := isBoldFont(name); got != want {
			t.Errorf("isBoldFont(%q) = %v, want %v", name, got, want)
		}
	}
}

// Running headers and footers are dropped from pages that have a body
// besides them, and kept where they are most of the page.
func TestParsePDFRunningFurniture(t *testing.T) {
	small := func(s string) styledLine { return styledLine{size: 8, text: s, gap: 2} }
	page := func(n int, lines ...string) []styledLine {
		out := []styledLine{small("Kestrel Lock Guide")}
		for _, l := range lines {
			out = append(out, gap(body(l)))
		}
		return append(out, small(fmt.Sprintf("Kestrel Lock Guide - Page %d of 2", n)))
	}
	p, err := ParseFile("lock.pdf", makeStyledPDF(t, [][]styledLine{
		page(1, "Insert four AA batteries.", "Close the cover.", "Wait for the chime.", "Set a code."),
		page(2, "Hold the reset button.", "Release it after the beep.", "Add the lock again.", "Test the code."),
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := sectionsString(p.Sections)
	for _, s := range []string{"Insert four AA batteries.", "Set a code.", "Hold the reset button.", "Test the code."} {
		if !strings.Contains(got, s) {
			t.Errorf("body line %q lost:\n%s", s, got)
		}
	}
	if strings.Contains(got, "Kestrel Lock Guide") || strings.Contains(got, "Page 1 of 2") {
		t.Errorf("running header or footer kept:\n%s", got)
	}
	if p.Title != "Kestrel Lock Guide" {
		t.Errorf("title %q, want the first line (the running header)", p.Title)
	}

	// Two short pages that are nothing but their repeated lines keep them.
	p, err = ParseFile("short.pdf", makeStyledPDF(t, [][]styledLine{
		{small("Notice"), gap(body("Same text on every page."))},
		{small("Notice"), gap(body("Same text on every page."))},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := sectionsString(p.Sections); strings.Count(got, "Same text on every page.") != 2 {
		t.Errorf("short pages lost their text:\n%s", got)
	}
}

// An RC4-40 encrypted PDF with an empty user password (fpdf's
// SetProtection) is reported as encrypted, not as corrupt or textless.
func TestParsePDFEncryptedRC4(t *testing.T) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetProtection(fpdf.CnProtectPrint, "", "owner")
	f.AddPage()
	f.SetFont("Helvetica", "", 12)
	f.Cell(40, 10, "Refunds are paid within fourteen days.")
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	p, err := ParseFile("locked.pdf", b.Bytes())
	if err == nil {
		if !strings.Contains(p.Sections[0].Text, "fourteen days") {
			t.Errorf("decrypted text %q", p.Sections[0].Text)
		}
		return
	}
	if SkipKind(err) != KindEncrypted {
		t.Errorf("err = %v (kind %s), want it reported as encrypted", err, SkipKind(err))
	}
}
