package ingest

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

// Document types, as recorded in quarry.Document.Type.
const (
	TypeMarkdown = "markdown"
	TypeHTML     = "html"
	TypeText     = "text"
	TypePDF      = "pdf"
	TypeDOCX     = "docx"
	TypePPTX     = "pptx"
	TypeXLSX     = "xlsx"
	TypeCSV      = "csv"
	TypeImage    = "image" // .png, .jpg: text by OCR
)

// Parsed is the text of one file, cleaned of markup and cut into
// sections.
type Parsed struct {
	Title    string
	Type     string // TypeMarkdown, TypeHTML, TypeText, TypePDF, TypeDOCX, ...
	Lang     string // "en" or "zh", see DetectLang
	Sections []Section

	ocrPages []int // PDF pages without text, for OCR
}

// Section is a run of text under one heading path (or on one PDF page).
// Paragraphs in Text are separated by a blank line; list items, table
// rows and lines of code are lines of their own.
type Section struct {
	Heading []string // enclosing headings, outermost first; empty before the first heading
	Page    int      // 1-based PDF page or PowerPoint slide, 0 for other types
	Text    string
}

// A format is one file type Quarry parses. To add a type, add a row to
// formats; set untrusted when its parser can loop or allocate without
// bound on a hostile file (binary formats, compressed streams), so that
// it runs in a parse worker a bad file cannot take down (see Untrusted
// and package ingest/sandbox).
type format struct {
	typ       string
	exts      []string
	untrusted bool
	parse     func(data []byte) (Parsed, error)
}

var formats = []format{
	{TypeMarkdown, []string{".md", ".markdown", ".mdx"}, false, textFormat(parseMarkdown)},
	{TypeHTML, []string{".html", ".htm"}, false, textFormat(parseHTML)},
	{TypeText, []string{".txt"}, false, textFormat(parseText)},
	{TypePDF, []string{".pdf"}, true, parsePDFWithOCR},
	{TypeDOCX, []string{".docx"}, true, parseDOCX},
	{TypePPTX, []string{".pptx"}, true, parsePPTX},
	{TypeXLSX, []string{".xlsx", ".xlsm"}, true, parseXLSX},
	{TypeCSV, []string{".csv", ".tsv"}, false, parseCSV},
	{TypeImage, []string{".png", ".jpg", ".jpeg"}, true, parseImage},
}

// parsePDFWithOCR parses a PDF and reads its pages without a text layer
// by OCR.
func parsePDFWithOCR(data []byte) (Parsed, error) {
	p, err := parsePDF(data)
	if err == nil && len(p.ocrPages) > 0 {
		var ocred []Section
		ocred, err = ocrPDFPages(data, p.ocrPages)
		if err != nil && len(p.Sections) > 0 {
			err = nil // the text layer of the other pages is still worth having
		}
		p.Sections = append(p.Sections, ocred...)
		slices.SortStableFunc(p.Sections, func(a, b Section) int { return a.Page - b.Page })
	}
	return p, err
}

// ParserVersion names the behaviour of the parsers. Parse failures are
// remembered by content hash and this version (see Failures): change it
// when a parser changes what it accepts, so that files that failed
// before are tried again.
const ParserVersion = "2026-12-03.2"

// textFormat adapts a parser of decoded text.
func textFormat(parse func(string) Parsed) func([]byte) (Parsed, error) {
	return func(data []byte) (Parsed, error) {
		text, err := decodeText(data)
		if err != nil {
			return Parsed{}, err
		}
		return parse(text), nil
	}
}

func formatOf(name string) *format {
	ext := strings.ToLower(path.Ext(name))
	for i := range formats {
		if slices.Contains(formats[i].exts, ext) {
			return &formats[i]
		}
	}
	return nil
}

// TypeOf returns the document type for a file name from its extension,
// or "" when Quarry does not handle it.
func TypeOf(name string) string {
	if f := formatOf(name); f != nil {
		return f.typ
	}
	return ""
}

// Untrusted reports whether the parser of a file's type must not run in
// the serving process: it can loop or allocate without bound on a
// hostile file.
func Untrusted(name string) bool {
	f := formatOf(name)
	return f != nil && f.untrusted
}

// ParseFile extracts the title, sections and language of a file from its
// bytes; path (slash-separated) picks the parser by extension and gives
// the fallback title. The error, when there is one, is a short human
// reason for skipping the file, classified quarry.CodeUnsupported
// (a file type Quarry does not handle) or quarry.CodeInvalid (an empty,
// binary, corrupt or textless file); SkipKind names its kind. ParseFile
// never panics: a parser panic is returned as a CodeInvalid error.
//
// ParseFile runs the parser in the calling goroutine with no time or
// memory limit: for files of an Untrusted type from a source nobody
// vetted, use a parse worker (package ingest/sandbox) instead.
func ParseFile(path string, data []byte) (p Parsed, err error) {
	f := formatOf(path)
	if f == nil {
		ext := strings.ToLower(pathExt(path))
		if ext == "" {
			return Parsed{}, quarry.Errorf(quarry.CodeUnsupported, "unsupported file type (no extension)")
		}
		return Parsed{}, quarry.Errorf(quarry.CodeUnsupported, "unsupported file type %s", ext)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "empty file")
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = Parsed{}, quarry.Errorf(quarry.CodeInvalid, "%s parser failed: %v", f.typ, r)
		}
	}()
	p, err = f.parse(data)
	if err != nil {
		return Parsed{}, err
	}
	p.Type = f.typ
	return finish(p, path)
}

// finish drops empty sections, normalises section text, fills in the
// fallback title and the language, and refuses a file without text.
func finish(p Parsed, filePath string) (Parsed, error) {
	secs := p.Sections[:0]
	var all strings.Builder
	for _, s := range p.Sections {
		s.Text = normalize(s.Text)
		if s.Text == "" {
			continue
		}
		var heading []string
		for _, h := range s.Heading {
			if h = cleanLine(h); h != "" {
				heading = append(heading, h)
			}
		}
		s.Heading = heading
		secs = append(secs, s)
		all.WriteString(s.Text)
		all.WriteByte('\n')
	}
	if len(secs) == 0 {
		switch p.Type {
		case TypePDF:
			return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "PDF has no extractable text (scanned images?)%s", ocrHint())
		case TypeImage:
			return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "no text recognised in the image")
		}
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "no text content")
	}
	p.Sections = secs
	p.Title = cleanLine(p.Title)
	if p.Title == "" {
		p.Title = strings.TrimSuffix(path.Base(filePath), pathExt(filePath))
	}
	p.Lang = DetectLang(p.Title + "\n" + all.String())
	return p, nil
}

func pathExt(name string) string { return path.Ext(path.Base(name)) }

// decodeText returns the UTF-8 text of a text-type file: a UTF-8 BOM is
// dropped, UTF-16 with a BOM is converted, and anything else that is not
// valid UTF-8 or holds NUL bytes is refused as binary.
func decodeText(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case len(data)%2 == 0 && (bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF})):
		return decodeUTF16(data)
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return "", quarry.Errorf(quarry.CodeInvalid, "binary content in a text file (NUL byte at offset %d)", i)
	}
	if !utf8.Valid(data) {
		return "", quarry.Errorf(quarry.CodeInvalid, "binary content in a text file (not valid UTF-8 at offset %d)", invalidAt(data))
	}
	return string(data), nil
}

func decodeUTF16(data []byte) (string, error) {
	le := data[0] == 0xFF
	u := make([]uint16, 0, len(data)/2-1)
	for i := 2; i+1 < len(data); i += 2 {
		if le {
			u = append(u, uint16(data[i])|uint16(data[i+1])<<8)
		} else {
			u = append(u, uint16(data[i])<<8|uint16(data[i+1]))
		}
	}
	s := string(utf16.Decode(u))
	if strings.ContainsRune(s, 0) || strings.ContainsRune(s, utf8.RuneError) {
		return "", quarry.Errorf(quarry.CodeInvalid, "binary content in a text file (invalid UTF-16)")
	}
	return s, nil
}

func invalidAt(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// sectionBuilder accumulates sections as a parser walks a document.
type sectionBuilder struct {
	secs    []Section
	heading []string // current heading path, indexed by level-1
	page    int
	para    strings.Builder // the paragraph being built
	text    strings.Builder // the current section's finished paragraphs
}

// setHeading closes the current section and opens one under a heading of
// the given level (1-6).
func (b *sectionBuilder) setHeading(level int, title string) {
	b.flushSection()
	level = max(1, min(level, 6))
	h := b.heading
	if len(h) >= level {
		h = h[:level-1]
	}
	for len(h) < level-1 {
		h = append(h, "") // a skipped level: "" is dropped when the path is joined
	}
	b.heading = append(h, title)
}

// setPage closes the current section and starts a page.
func (b *sectionBuilder) setPage(page int) {
	b.flushSection()
	b.page = page
}

// write adds inline text to the current paragraph.
func (b *sectionBuilder) write(s string) { b.para.WriteString(s) }

// lineBreak ends a line inside the paragraph (a list item, a table row).
func (b *sectionBuilder) lineBreak() {
	if b.para.Len() > 0 && !strings.HasSuffix(b.para.String(), "\n") {
		b.para.WriteByte('\n')
	}
}

// reopen continues the last paragraph of the section, on a new line,
// when no paragraph is open: what is written next belongs to it (a
// callout to the paragraph it annotates). With no paragraph before it
// in the section, it does nothing.
func (b *sectionBuilder) reopen() {
	if b.para.Len() > 0 || b.text.Len() == 0 {
		return
	}
	t := b.text.String()
	keep, last := "", t // the whole text is one paragraph
	if i := strings.LastIndex(t, "\n\n"); i >= 0 {
		keep, last = t[:i], t[i+2:]
	}
	b.text.Reset()
	b.text.WriteString(keep)
	b.para.WriteString(last)
	b.para.WriteByte('\n')
}

// endParagraph closes the current paragraph.
func (b *sectionBuilder) endParagraph() {
	p := strings.TrimSpace(b.para.String())
	b.para.Reset()
	if p == "" {
		return
	}
	if b.text.Len() > 0 {
		b.text.WriteString("\n\n")
	}
	b.text.WriteString(p)
}

func (b *sectionBuilder) flushSection() {
	b.endParagraph()
	if b.text.Len() > 0 {
		b.secs = append(b.secs, Section{
			Heading: compactHeading(b.heading),
			Page:    b.page,
			Text:    b.text.String(),
		})
	}
	b.text.Reset()
}

func (b *sectionBuilder) sections() []Section {
	b.flushSection()
	return b.secs
}

func compactHeading(h []string) []string {
	var out []string
	for _, s := range h {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
