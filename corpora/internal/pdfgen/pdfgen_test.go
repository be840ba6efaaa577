package pdfgen

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
)

func TestParse(t *testing.T) {
	src := strings.Join([]string{
		"%title Test Doc",
		"%subject About testing",
		"%% a comment",
		"# Big",
		"First line",
		"second line.",
		"",
		"- item one",
		"  continues",
		"- item two",
		"after the list",
		"%widths 60 40",
		"| A | B |",
		"| 1 | 2 |",
		"%page",
		"## Mid",
		"### Small",
	}, "\n")
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: Heading1, Text: "Big", Line: 4},
		{Kind: Paragraph, Text: "First line second line.", Line: 5},
		{Kind: Bullet, Text: "item one continues", Line: 8},
		{Kind: Bullet, Text: "item two", Line: 10},
		{Kind: Paragraph, Text: "after the list", Line: 11},
		{Kind: Table, Rows: [][]string{{"A", "B"}, {"1", "2"}}, Widths: []float64{60, 40}, Line: 13},
		{Kind: PageBreak, Line: 15},
		{Kind: Heading2, Text: "Mid", Line: 16},
		{Kind: Heading3, Text: "Small", Line: 17},
	}
	if d.Title != "Test Doc" || d.Subject != "About testing" {
		t.Errorf("title %q subject %q", d.Title, d.Subject)
	}
	if !reflect.DeepEqual(d.Blocks, want) {
		t.Errorf("blocks:\n got %+v\nwant %+v", d.Blocks, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"no title", "# Heading\ntext", "missing %title"},
		{"empty title", "%title", "empty %title"},
		{"non-ASCII", "%title T\ncaf\u00e9", "line 2: byte 0xc3"},
		{"control byte", "%title T\na\x01b", "line 2: byte 0x01"},
		{"unknown directive", "%title T\n%font Times", "unknown directive %font"},
		{"heading too deep", "%title T\n#### Four", "heading"},
		{"heading without space", "%title T\n#Tight", "heading"},
		{"ragged table", "%title T\n| a | b |\n| 1 |", "line 3: row has 1 cells"},
		{"row without closing bar", "%title T\n| a | b", "starts and ends"},
		{"widths not 100", "%title T\n%widths 50 40\n| a | b |", "add up to 100"},
		{"widths not numbers", "%title T\n%widths 50 x\n| a | b |", "bad column width"},
		{"widths count", "%title T\n%widths 50 50\n| a | b | c |", "%widths gives 2"},
		{"widths far from table", "%title T\n%widths 50 50\n\n| a | b |", "just before its table"},
		{"widths without table", "%title T\n%widths 50 50", "without a table"},
		{"text after table", "%title T\n| a |\ntext", "text right after a table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func extract(t *testing.T, b []byte) []string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for i := 1; i <= r.NumPage(); i++ {
		s, err := r.Page(i).GetPlainText(nil)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, strings.Join(strings.Fields(s), " "))
	}
	return pages
}

func TestRenderRoundTrip(t *testing.T) {
	long := strings.Repeat("Every word of this long sentence must survive extraction with its spaces. ", 12)
	src := "%title Round Trip\n# Round Trip\n" + long + "\n\n- A bullet, with punctuation: $49.99 (20%) & more.\n%page\n## Second page\n| Plan | Price |\n| Plus | $9.99 |\n"
	out, err := RenderSource([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	pages := extract(t, out)
	if len(pages) != 2 {
		t.Fatalf("%d pages, want 2", len(pages))
	}
	for _, want := range []string{strings.TrimSpace(long), "A bullet, with punctuation: $49.99 (20%) & more.", "Round Trip - Page 1 of 2"} {
		if !strings.Contains(pages[0], want) {
			t.Errorf("page 1 lacks %q:\n%s", want, pages[0])
		}
	}
	for _, want := range []string{"Second page", "Plus", "$9.99", "Page 2 of 2"} {
		if !strings.Contains(pages[1], want) {
			t.Errorf("page 2 lacks %q:\n%s", want, pages[1])
		}
	}
	again, err := RenderSource([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Error("two renderings of the same source differ")
	}
	if !bytes.Contains(out, []byte("/CreationDate (D:20250301090000)")) {
		t.Error("creation date is not the fixed Epoch")
	}
}

func TestRenderRejectsOverflowAndWideCells(t *testing.T) {
	var b strings.Builder
	b.WriteString("%title Too Long\n")
	for i := 0; i < 80; i++ {
		b.WriteString("A paragraph line that will not fit on one page when repeated.\n\n")
	}
	if _, err := RenderSource([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "overflows page 1") {
		t.Errorf("overflow: err = %v", err)
	}
	wide := "%title Wide\n%widths 10 90\n| " + strings.Repeat("x", 60) + " | b |\n"
	if _, err := RenderSource([]byte(wide)); err == nil || !strings.Contains(err.Error(), "wider than its column") {
		t.Errorf("wide cell: err = %v", err)
	}
}

func TestGenerate(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "topic"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"topic/a.txt":  "%title A\nHello.\n%page\nWorld.\n",
		"b.txt":        "%title B\nBee.\n",
		"topic/notes":  "not a source",
		"topic/c.json": "{}",
	}
	for p, s := range files {
		if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(p)), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	written, err := Generate(src, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b.pdf", "topic/a.pdf"}; !reflect.DeepEqual(written, want) {
		t.Fatalf("wrote %v, want %v", written, want)
	}
	b, err := os.ReadFile(filepath.Join(out, "topic", "a.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if pages := extract(t, b); len(pages) != 2 || !strings.Contains(pages[1], "World.") {
		t.Errorf("topic/a.pdf pages = %q", pages)
	}

	if err := os.WriteFile(filepath.Join(src, "bad.txt"), []byte("no title"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(src, out); err == nil || !strings.Contains(err.Error(), "bad.txt") {
		t.Errorf("bad source: err = %v, want it to name bad.txt", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("%title T\n# H\ntext\n- item\n  more\n| a | b |\n| 1 | 2 |\n%page\n## H2\n"))
	f.Add([]byte("%widths 50 50\n| a | b |\n"))
	f.Add([]byte("%title\n"))
	f.Add([]byte("#\n##x\n| |\n|\n- \n%%\n%"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse(src)
		if err != nil {
			return
		}
		if d.Title == "" {
			t.Fatal("accepted a document without a title")
		}
		for _, b := range d.Blocks {
			if b.Kind == Table {
				for _, row := range b.Rows {
					if len(row) != len(b.Rows[0]) {
						t.Fatalf("accepted a ragged table: %q", b.Rows)
					}
				}
			}
			for i := 0; i < len(b.Text); i++ {
				if b.Text[i] > 0x7e {
					t.Fatalf("accepted non-ASCII text %q", b.Text)
				}
			}
		}
	})
}

func BenchmarkRenderSource(b *testing.B) {
	src, err := os.ReadFile("../../pdfsrc/privacy/privacy-policy.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderSource(src); err != nil {
			b.Fatal(err)
		}
	}
}
