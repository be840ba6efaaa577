package ingest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/quarry-kb/quarry"
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
	return rawPDFObjects(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	)
}

// rawPDFObjects writes objects 1..n (1 is the catalog) with their xref.
func rawPDFObjects(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
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
		{"page tree cycle", rawPDFObjects(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count 1 >>",
		), "corrupt PDF: page tree: too deep or cyclic"},
		{"parent cycle", rawPDFObjects(
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

// TestParsePDFHangIsSkipped feeds a PDF whose content stream ends inside
// a hex string, which sends the PDF library into an endless loop. The
// parse runs in a child process (the abandoned goroutine keeps spinning
// until its process exits), with a short watchdog; the file must come
// back as a skip, and a second parse must not start the parser again.
func TestParsePDFHangIsSkipped(t *testing.T) {
	hang := rawPDF("BT /F1 12 Tf 72 700 Td (x) Tj <T")
	if os.Getenv("INGEST_PDF_HANG_CHILD") == "1" {
		pdfTimeout = func(int) time.Duration { return 300 * time.Millisecond }
		for range 2 {
			_, err := ParseFile("hang.pdf", hang)
			fmt.Printf("ERR %v\n", err)
		}
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestParsePDFHangIsSkipped$")
	cmd.Env = append(os.Environ(), "INGEST_PDF_HANG_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := "ERR corrupt PDF: the parser did not finish within 300ms\nERR corrupt PDF: the parser did not finish on this file earlier\n"
	if !strings.Contains(string(out), want) {
		t.Errorf("child output:\n%s\nwant:\n%s", out, want)
	}
}
