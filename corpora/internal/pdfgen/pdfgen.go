// Package pdfgen renders the help centre's PDF documents from small
// plain-text sources, reproducibly: the same source always gives the same
// bytes, so the generated PDFs can be committed and checked by a test.
//
// A source is ASCII text, one block per line group:
//
//	%title Kestrel Home Limited Warranty   document title (metadata and footer)
//	%subject Warranty terms                PDF subject metadata
//	%page                                  start a new page
//	%widths 40 30 30                       column widths, in percent, of the next table
//	%% a comment                           ignored
//	# Heading, ## Heading, ### Heading     headings of three sizes
//	- item                                 a bullet item; indented lines continue it
//	| a | b |                              a table row; a table's first row is its header
//	(blank line)                           ends a paragraph, item or table
//	(anything else)                        paragraph text; lines are joined with spaces
//
// Layout is strict on purpose: a page whose content does not fit, or a
// table cell wider than its column, is an error rather than a silent
// reflow, so every sentence stays on the page its source puts it on.
// Text is written with fpdf's core Helvetica fonts (WinAnsi encoding), one
// text object per line, which github.com/ledongthuc/pdf extracts with the
// spaces between words intact.
package pdfgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// Epoch is the creation and modification date written into every PDF, so
// that regenerating a document gives identical bytes.
var Epoch = time.Date(2025, time.March, 1, 9, 0, 0, 0, time.UTC)

// Kind is the type of a block.
type Kind int

// Block kinds.
const (
	Paragraph Kind = iota
	Heading1
	Heading2
	Heading3
	Bullet
	Table
	PageBreak
)

// Block is one element of a document, in reading order.
type Block struct {
	Kind   Kind
	Text   string     // paragraph, heading or bullet text
	Rows   [][]string // table cells, header row first
	Widths []float64  // table column widths in percent; nil means equal widths
	Line   int        // 1-based source line where the block starts
}

// Doc is a parsed source.
type Doc struct {
	Title   string
	Subject string
	Blocks  []Block
}

// Parse reads a source. It rejects non-ASCII text, unknown directives,
// ragged tables and documents without a title.
func Parse(src []byte) (*Doc, error) {
	d := &Doc{}
	var (
		cur      *Block // open paragraph, bullet or table
		widths   []float64
		widthsAt int
	)
	flush := func() {
		if cur != nil {
			d.Blocks = append(d.Blocks, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		for i := 0; i < len(raw); i++ {
			if c := raw[i]; (c < 0x20 && c != '\t') || c > 0x7e {
				return nil, fmt.Errorf("line %d: byte 0x%02x at column %d: only printable ASCII is allowed", n, c, i+1)
			}
		}
		line := strings.TrimSpace(raw)
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "%%"):
			// comment
		case strings.HasPrefix(line, "%"):
			flush()
			name, arg, _ := strings.Cut(line[1:], " ")
			arg = strings.TrimSpace(arg)
			switch name {
			case "title":
				if arg == "" {
					return nil, fmt.Errorf("line %d: empty %%title", n)
				}
				d.Title = arg
			case "subject":
				d.Subject = arg
			case "page":
				d.Blocks = append(d.Blocks, Block{Kind: PageBreak, Line: n})
			case "widths":
				ws, err := parseWidths(arg)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", n, err)
				}
				widths, widthsAt = ws, n
			default:
				return nil, fmt.Errorf("line %d: unknown directive %%%s", n, name)
			}
		case strings.HasPrefix(line, "#"):
			flush()
			level := len(line) - len(strings.TrimLeft(line, "#"))
			text := strings.TrimSpace(line[level:])
			if level > 3 || text == "" || line[level] != ' ' {
				return nil, fmt.Errorf("line %d: a heading is 1 to 3 '#' followed by a space and text", n)
			}
			d.Blocks = append(d.Blocks, Block{Kind: Heading1 + Kind(level-1), Text: text, Line: n})
		case strings.HasPrefix(line, "|"):
			if cur != nil && cur.Kind != Table {
				flush()
			}
			if !strings.HasSuffix(line, "|") || len(line) < 2 {
				return nil, fmt.Errorf("line %d: a table row starts and ends with '|'", n)
			}
			var cells []string
			for _, c := range strings.Split(line[1:len(line)-1], "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			if cur == nil {
				cur = &Block{Kind: Table, Line: n}
				if widths != nil {
					if widthsAt != n-1 {
						return nil, fmt.Errorf("line %d: %%widths must be on the line just before its table", widthsAt)
					}
					cur.Widths, widths = widths, nil
				}
			}
			if len(cur.Rows) > 0 && len(cells) != len(cur.Rows[0]) {
				return nil, fmt.Errorf("line %d: row has %d cells, the table's first row has %d", n, len(cells), len(cur.Rows[0]))
			}
			if cur.Widths != nil && len(cells) != len(cur.Widths) {
				return nil, fmt.Errorf("line %d: row has %d cells, %%widths gives %d", n, len(cells), len(cur.Widths))
			}
			cur.Rows = append(cur.Rows, cells)
		case strings.HasPrefix(line, "- "):
			flush()
			cur = &Block{Kind: Bullet, Text: strings.TrimSpace(line[2:]), Line: n}
		default:
			switch {
			case cur == nil:
				cur = &Block{Kind: Paragraph, Text: line, Line: n}
			case cur.Kind == Table:
				return nil, fmt.Errorf("line %d: text right after a table; leave a blank line", n)
			case cur.Kind == Bullet && !strings.HasPrefix(raw, " ") && !strings.HasPrefix(raw, "\t"):
				flush()
				cur = &Block{Kind: Paragraph, Text: line, Line: n}
			default:
				cur.Text += " " + line
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read source: %w", err)
	}
	flush()
	if widths != nil {
		return nil, fmt.Errorf("line %d: %%widths without a table after it", widthsAt)
	}
	if d.Title == "" {
		return nil, errors.New("missing %title")
	}
	return d, nil
}

func parseWidths(arg string) ([]float64, error) {
	var ws []float64
	sum := 0.0
	for _, f := range strings.Fields(arg) {
		w, err := strconv.ParseFloat(f, 64)
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("bad column width %q", f)
		}
		ws = append(ws, w)
		sum += w
	}
	if len(ws) == 0 || sum < 99.5 || sum > 100.5 {
		return nil, fmt.Errorf("%%widths must add up to 100, got %g", sum)
	}
	return ws, nil
}

// Page geometry and type sizes, in millimetres and points.
const (
	margin     = 20.0
	bottom     = 20.0
	bodySize   = 10.5
	lineHeight = 5.2
	cellHeight = 6.5
	indent     = 6.0
)

// Render lays out a parsed document as a US Letter PDF.
func Render(d *Doc) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCreationDate(Epoch)
	pdf.SetModificationDate(Epoch)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetProducer("Quarry corpora pdfgen", false)
	pdf.SetCreator("corpora/internal/mkpdf", false)
	pdf.SetAuthor("Kestrel Home, Inc.", false)
	pdf.SetTitle(d.Title, false)
	if d.Subject != "" {
		pdf.SetSubject(d.Subject, false)
	}
	pdf.SetLang("en-US")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, bottom)
	pdf.AliasNbPages("{nb}")

	var overflow []int
	pdf.SetAcceptPageBreakFunc(func() bool {
		overflow = append(overflow, pdf.PageNo())
		return true
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-13)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s - Page %d of {nb}", d.Title, pdf.PageNo()), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	width := 215.9 - 2*margin
	var cellErr error
	for i, b := range d.Blocks {
		switch b.Kind {
		case PageBreak:
			pdf.AddPage()
		case Heading1:
			pdf.SetFont("Helvetica", "B", 17)
			pdf.MultiCell(0, 8, b.Text, "", "L", false)
			pdf.Ln(3)
		case Heading2:
			if i > 0 && d.Blocks[i-1].Kind != PageBreak {
				pdf.Ln(2)
			}
			pdf.SetFont("Helvetica", "B", 13)
			pdf.MultiCell(0, 6.5, b.Text, "", "L", false)
			pdf.Ln(1.5)
		case Heading3:
			pdf.SetFont("Helvetica", "B", 11)
			pdf.MultiCell(0, 5.8, b.Text, "", "L", false)
			pdf.Ln(0.5)
		case Paragraph:
			pdf.SetFont("Helvetica", "", bodySize)
			pdf.MultiCell(0, lineHeight, b.Text, "", "L", false)
			pdf.Ln(2)
		case Bullet:
			pdf.SetFont("Helvetica", "", bodySize)
			pdf.SetX(margin + 1.5)
			pdf.CellFormat(indent-1.5, lineHeight, "-", "", 0, "L", false, 0, "")
			pdf.SetLeftMargin(margin + indent)
			pdf.MultiCell(0, lineHeight, b.Text, "", "L", false)
			pdf.SetLeftMargin(margin)
			pdf.Ln(1)
		case Table:
			ws := b.Widths
			if ws == nil {
				for range b.Rows[0] {
					ws = append(ws, 100/float64(len(b.Rows[0])))
				}
			}
			for r, row := range b.Rows {
				if r == 0 {
					pdf.SetFont("Helvetica", "B", 9.5)
					pdf.SetFillColor(228, 232, 238)
				} else {
					pdf.SetFont("Helvetica", "", 9.5)
				}
				for c, cell := range row {
					w := width * ws[c] / 100
					if pdf.GetStringWidth(cell)+2*pdf.GetCellMargin() > w && cellErr == nil {
						cellErr = fmt.Errorf("line %d: table cell %q is wider than its column", b.Line+r, cell)
					}
					pdf.CellFormat(w, cellHeight, cell, "1", 0, "L", r == 0, 0, "")
				}
				pdf.Ln(-1)
			}
			pdf.Ln(3)
		}
	}
	if cellErr != nil {
		return nil, cellErr
	}
	if len(overflow) > 0 {
		return nil, fmt.Errorf("content overflows page %d; add a %%page break earlier or shorten it", overflow[0])
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render %q: %w", d.Title, err)
	}
	return buf.Bytes(), nil
}

// RenderSource parses and renders one source.
func RenderSource(src []byte) ([]byte, error) {
	d, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return Render(d)
}

// Generate renders every *.txt source under srcDir into outDir, keeping
// the relative path and replacing the extension with .pdf
// (pdfsrc/warranty/x.txt becomes outDir/warranty/x.pdf). It returns the
// slash-separated relative paths of the PDFs it wrote, sorted.
func Generate(srcDir, outDir string) ([]string, error) {
	var written []string
	err := filepath.WalkDir(srcDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || filepath.Ext(path) != ".txt" {
			return nil
		}
		rel, err := filepath.Rel(srcDir, path)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := RenderSource(src)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		relPDF := strings.TrimSuffix(filepath.ToSlash(rel), ".txt") + ".pdf"
		dst := filepath.Join(outDir, filepath.FromSlash(relPDF))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
		written = append(written, relPDF)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("generate PDFs from %s: %w", srcDir, err)
	}
	sort.Strings(written)
	return written, nil
}
