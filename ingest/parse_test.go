package ingest

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// TestParseGolden parses every file in testdata/docs and compares the
// result with testdata/golden/<file>.json (go test -update rewrites them).
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/docs/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test documents: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseFile(name, data)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
				t.Errorf("parse of %s differs from %s:\n%s", name, golden, got)
			}
		})
	}
}

// heads returns the joined heading paths of p's sections.
func heads(p Parsed) []string {
	var out []string
	for _, s := range p.Sections {
		out = append(out, joinHeading(s.Heading))
	}
	return out
}

func TestParseTitleAndHeadings(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		src       string
		wantTitle string
		wantHeads []string
		wantLang  string
		wantText  []string // substrings of the joined section text
		notText   []string // must not appear
	}{
		{
			name: "markdown atx and setext", path: "a/guide.md",
			src:       "# Guide\n\nIntro.\n\nInstall\n-------\n\nSteps.\n\n### Linux\n\nApt.\n\nUsage\n=====\n\nRun it.\n",
			wantTitle: "Guide",
			wantHeads: []string{"Guide", "Guide > Install", "Guide > Install > Linux", "Usage"},
			wantLang:  "en", wantText: []string{"Intro.", "Steps.", "Apt.", "Run it."},
		},
		{
			name: "markdown without h1 uses file name", path: "docs/how-to.markdown",
			src: "## Part\n\nText here.\n", wantTitle: "how-to", wantHeads: []string{"Part"}, wantLang: "en",
		},
		{
			name: "markdown front matter title wins", path: "x.md",
			src: "---\ntitle: \"Front Title\"\n---\n# Heading One\n\nBody.\n", wantTitle: "Front Title",
			wantHeads: []string{"Heading One"}, notText: []string{"title:"},
		},
		{
			name: "markdown strips markup", path: "m.md",
			src:      "Some **bold**, _em_, `code`, [link](http://x) and ![alt text](i.png).\n\n* item a\n* item b\n",
			wantText: []string{"Some bold, em, code, link and alt text.", "item a\nitem b"},
			notText:  []string{"**", "](", "* item"},
		},
		{
			name: "markdown chinese", path: "zh.md",
			src:       "# 退货政策\n\n商品可在三十天内退货。\n退款五天到账。\n",
			wantTitle: "退货政策", wantHeads: []string{"退货政策"}, wantLang: "zh",
			wantText: []string{"商品可在三十天内退货。退款五天到账。"},
		},
		{
			name: "html title element", path: "p.html",
			src:       "<html><head><title> The  Title </title></head><body><h1>Big</h1><p>a</p><h2>Small</h2><p>b</p><h4>Tiny</h4><p>c</p><h2>Other</h2><p>d</p></body></html>",
			wantTitle: "The Title", wantHeads: []string{"Big", "Big > Small", "Big > Small > Tiny", "Big > Other"},
		},
		{
			name: "html first h1 when no title", path: "p.htm",
			src:       "<body><p>before</p><h1>Main <em>topic</em></h1><p>after</p></body>",
			wantTitle: "Main topic", wantHeads: []string{"", "Main topic"},
		},
		{
			name: "html ignores script style nav head", path: "n.html",
			src:     "<html><head><title>T</title><meta name=x content=y><style>.a{}</style></head><body><nav>Menu Home</nav><script>evil()</script><p>Real text.</p><template><p>tmpl</p></template></body></html>",
			notText: []string{"Menu", "evil", ".a{}", "tmpl"}, wantText: []string{"Real text."},
		},
		{
			name: "html list items are lines, table rows carry their headers", path: "l.html",
			src:      "<ul><li>one</li><li>two</li></ul><table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>",
			wantText: []string{"one\ntwo", "a — v: 1."}, notText: []string{"k | v"},
		},
		{
			name: "text title line", path: "t.txt",
			src:       "Shipping FAQ\n\nWe ship worldwide.\n",
			wantTitle: "Shipping FAQ", wantText: []string{"We ship worldwide."}, notText: []string{"Shipping FAQ"},
		},
		{
			name: "text sentence first line is not a title", path: "notes/t.txt",
			src:       "We ship worldwide.\n\nAnd fast.\n",
			wantTitle: "t", wantText: []string{"We ship worldwide.", "And fast."},
		},
		{
			name: "text single paragraph has no title", path: "one.txt",
			src:       "Just one line",
			wantTitle: "one", wantText: []string{"Just one line"},
		},
		{
			name: "text underlined title", path: "u.txt",
			src:       "Manual\n======\nBody line one\nbody line two.\n",
			wantTitle: "Manual", wantText: []string{"Body line one body line two."},
		},
		{
			name: "text crlf and hard wraps", path: "w.txt",
			src:      "Title\r\n\r\nline one\r\nline two\r\n- a\r\n- b\r\n",
			wantText: []string{"line one line two\n- a\n- b"},
		},
		{
			name: "utf8 bom", path: "b.txt",
			src:       "\ufeffBOM Title\n\nBody.\n",
			wantTitle: "BOM Title",
		},
		{
			name: "utf16 with bom", path: "u16.txt",
			src:       utf16le("Wide Title\n\nWide body."),
			wantTitle: "Wide Title", wantText: []string{"Wide body."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFile(tt.path, []byte(tt.src))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if tt.wantTitle != "" && p.Title != tt.wantTitle {
				t.Errorf("title = %q, want %q", p.Title, tt.wantTitle)
			}
			if tt.wantHeads != nil && !slices.Equal(heads(p), tt.wantHeads) {
				t.Errorf("headings = %q, want %q", heads(p), tt.wantHeads)
			}
			if tt.wantLang != "" && p.Lang != tt.wantLang {
				t.Errorf("lang = %q, want %q", p.Lang, tt.wantLang)
			}
			var all strings.Builder
			for _, s := range p.Sections {
				all.WriteString(s.Text + "\n\n")
				if s.Page != 0 {
					t.Errorf("section %q has page %d, want 0 outside PDFs", s.Heading, s.Page)
				}
			}
			for _, w := range tt.wantText {
				if !strings.Contains(all.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, all.String())
				}
			}
			for _, w := range tt.notText {
				if strings.Contains(all.String(), w) {
					t.Errorf("text has %q:\n%s", w, all.String())
				}
			}
		})
	}
}

func utf16le(s string) string {
	b := []byte{0xFF, 0xFE}
	for _, r := range s { // test strings are in the BMP
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}

func TestParseFileRejects(t *testing.T) {
	tests := []struct {
		name, path string
		data       []byte
		code       quarry.Code
		reason     string // prefix of the error text
	}{
		{"unsupported extension", "report.odt", []byte("PK\x03\x04"), quarry.CodeUnsupported, "unsupported file type .odt"},
		{"no extension", "Makefile", []byte("all:"), quarry.CodeUnsupported, "unsupported file type (no extension)"},
		{"uppercase extension is supported", "README.MD", []byte(""), quarry.CodeInvalid, "empty file"},
		{"empty", "a.txt", nil, quarry.CodeInvalid, "empty file"},
		{"whitespace only", "a.md", []byte(" \n\t\n"), quarry.CodeInvalid, "empty file"},
		{"nul bytes", "a.txt", []byte("abc\x00def"), quarry.CodeInvalid, "binary content in a text file"},
		{"invalid utf8", "a.html", []byte("caf\xe9 au lait"), quarry.CodeInvalid, "binary content in a text file"},
		{"png named txt", "img.txt", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), quarry.CodeInvalid, "binary content in a text file"},
		{"markup without text", "a.html", []byte("<html><script>x()</script></html>"), quarry.CodeInvalid, "no text content"},
		{"not a pdf", "a.pdf", []byte("hello, I am not a PDF"), quarry.CodeInvalid, "corrupt PDF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile(tt.path, tt.data)
			if err == nil {
				t.Fatal("ParseFile succeeded, want an error")
			}
			if got := quarry.ErrorCode(err); got != tt.code {
				t.Errorf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if !strings.HasPrefix(err.Error(), tt.reason) {
				t.Errorf("error = %q, want prefix %q", err, tt.reason)
			}
			var qe *quarry.Error
			if !errors.As(err, &qe) {
				t.Errorf("error %T is not a *quarry.Error", err)
			}
		})
	}
}

func TestTypeOf(t *testing.T) {
	for name, want := range map[string]string{
		"a.md": TypeMarkdown, "a.markdown": TypeMarkdown, "A.HTML": TypeHTML, "x/y.htm": TypeHTML,
		"n.txt": TypeText, "d.pdf": TypePDF, "d.PDF": TypePDF, "a.docx": TypeDOCX, "b.odt": "", "c.CSV": TypeCSV, "s.jpeg": TypeImage, "noext": "", "dir.md/file": "",
	} {
		if got := TypeOf(name); got != want {
			t.Errorf("TypeOf(%q) = %q, want %q", name, got, want)
		}
	}
}
