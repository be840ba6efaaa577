package ingest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"

	"github.com/quarry-kb/quarry"
)

// PDF parsing limits. The PDF library trusts the file's structure: a
// page tree or a Parent chain that loops would keep it busy forever. The
// page tree is walked here with a depth and node limit, and every read
// the library makes is charged to a budget far above what a sound file
// needs, so that any other loop ends in a read error instead.
const (
	pdfMaxDepth      = 64
	pdfMaxNodes      = 100_000
	pdfBudgetBase    = 32 << 20 // bytes any PDF may read
	pdfBudgetPerByte = 256      // and this many times its size
)

var errPDFBudget = errors.New("the file's structure loops (read budget exhausted)")

// budgetReader is an io.ReaderAt that fails once a read budget is spent.
type budgetReader struct {
	r    *bytes.Reader
	left atomic.Int64
}

func (b *budgetReader) ReadAt(p []byte, off int64) (int, error) {
	if b.left.Add(-int64(len(p))) < 0 {
		return 0, errPDFBudget
	}
	return b.r.ReadAt(p, off)
}

// pdfTimeout bounds one PDF parse: generous for any sound file (30s plus
// 10s per MiB), it only ever ends a parser stuck in a loop.
var pdfTimeout = func(size int) time.Duration {
	return 30*time.Second + time.Duration(size>>20)*10*time.Second
}

// hungPDFs remembers, by content hash, PDFs whose parse timed out, so
// that a later sync in the same process skips them at once.
var hungPDFs sync.Map

// parsePDFGuarded runs parsePDF under a watchdog. The PDF library has
// loops that malformed input can make endless without reading anything
// (an unterminated hex string at the end of a stream, for one); Go
// cannot stop a goroutine, so a parse that overruns pdfTimeout is
// abandoned (it keeps a goroutine busy until the process exits) and the
// file is skipped. That is one stray goroutine per distinct bad file per
// process, instead of a sync that never ends.
func parsePDFGuarded(data []byte) (Parsed, error) {
	key := sha256.Sum256(data)
	if _, ok := hungPDFs.Load(key); ok {
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: the parser did not finish on this file earlier")
	}
	type result struct {
		p   Parsed
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if x := recover(); x != nil {
				done <- result{err: quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: %v", x)}
			}
		}()
		p, err := parsePDF(data)
		done <- result{p, err}
	}()
	limit := pdfTimeout(len(data))
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.p, r.err
	case <-timer.C:
		hungPDFs.Store(key, true)
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: the parser did not finish within %s", limit)
	}
}

// parsePDF extracts one section per page. The title is the document
// information dictionary's Title, else the first line of text.
func parsePDF(data []byte) (Parsed, error) {
	if err := checkXref(data); err != nil {
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: %w", err)
	}
	br := &budgetReader{r: bytes.NewReader(data)}
	br.left.Store(pdfBudgetBase + pdfBudgetPerByte*int64(len(data)))
	r, err := pdf.NewReader(br, int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) {
			return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "encrypted PDF (a password is needed)")
		}
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: %w", err)
	}
	pages, err := pdfPages(r)
	if err != nil {
		return Parsed{}, err
	}
	var p Parsed
	p.Title = pdfTitle(r)
	var b sectionBuilder
	var firstErr error
	firstLine := ""
	for i, page := range pages {
		paras, first, err := pdfPageText(page)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("page %d: %w", i+1, err)
			}
			continue // one bad page does not lose the others
		}
		if firstLine == "" {
			firstLine = first
		}
		b.setPage(i + 1)
		for _, para := range paras {
			b.write(para)
			b.endParagraph()
		}
	}
	p.Sections = b.sections()
	if len(p.Sections) == 0 && firstErr != nil {
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: %w", firstErr)
	}
	if p.Title == "" && utf8.RuneCountInString(firstLine) <= maxTitleRunes {
		p.Title = firstLine
	}
	return p, nil
}

// The PDF library sizes its object table from the numbers in the
// cross-reference sections (/Size, /Index, subsection headers) before it
// reads a single object, so a corrupt number like 333333333330 would
// allocate until the process dies. checkXref refuses such numbers
// first: a file cannot hold more objects than a fraction of its bytes.
var (
	reSize  = regexp.MustCompile(`/Size\s+(\d+)`)
	reIndex = regexp.MustCompile(`/Index\s*\[([\d\s]*)\]`)
	reW     = regexp.MustCompile(`/W\s*\[([\d\s]*)\]`)
)

func checkXref(data []byte) error {
	limit := min(max(1<<16, int64(len(data))/4), 1<<22)
	tooMany := func(n int64) error {
		return fmt.Errorf("cross-reference table claims %d objects in a %d-byte file", n, len(data))
	}
	num := func(b []byte) int64 {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return math.MaxInt64
		}
		return n
	}
	// The library reads an xref table wherever startxref or /Prev point,
	// so every "xref" counts, whatever precedes it (except startxref).
	for off := 0; ; {
		k := bytes.Index(data[off:], []byte("xref"))
		if k < 0 {
			break
		}
		at := off + k
		off = at + 4
		if bytes.HasSuffix(data[:at], []byte("start")) {
			continue
		}
		// Subsections, read as the library reads them: "start count",
		// then count entries of three tokens, until a non-number.
		tok := pdfTokens(data[off:])
		for {
			a, b := tok(), tok()
			start, n := num(a), num(b)
			if a == nil || b == nil || !isInteger(a) || !isInteger(b) {
				break
			}
			if start > limit || n > limit || start+n > limit {
				return tooMany(start + n)
			}
			for range 3 * n {
				tok()
			}
		}
	}
	for _, m := range reSize.FindAllSubmatch(data, -1) {
		if n := num(m[1]); n > limit {
			return tooMany(n)
		}
	}
	for _, m := range reIndex.FindAllSubmatch(data, -1) {
		f := bytes.Fields(m[1])
		for i := 0; i+1 < len(f); i += 2 {
			if start, n := num(f[i]), num(f[i+1]); start > limit || n > limit || start+n > limit {
				return tooMany(start + n)
			}
		}
	}
	for _, m := range reW.FindAllSubmatch(data, -1) {
		for _, f := range bytes.Fields(m[1]) {
			if num(f) > 8 {
				return fmt.Errorf("cross-reference stream field width %s is out of range", f)
			}
		}
	}
	return nil
}

// pdfTokens returns a function that yields the tokens of b (runs of
// regular characters, or single delimiters; comments skipped), then nil.
func pdfTokens(b []byte) func() []byte {
	return func() []byte {
		i := 0
		for i < len(b) && (isPDFSpace(b[i]) || b[i] == '%') {
			if b[i] == '%' { // a comment runs to the end of the line
				for i < len(b) && b[i] != '\n' && b[i] != '\r' {
					i++
				}
				continue
			}
			i++
		}
		j := i
		if j < len(b) && isPDFDelim(b[j]) {
			j++
		} else {
			for j < len(b) && !isPDFSpace(b[j]) && !isPDFDelim(b[j]) && b[j] != '%' {
				j++
			}
		}
		tok := b[i:j]
		b = b[j:]
		if len(tok) == 0 {
			return nil
		}
		return tok
	}
}

func isPDFDelim(c byte) bool { return strings.IndexByte("()<>[]{}/", c) >= 0 }

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

// isInteger reports whether b is an integer as the PDF lexer reads one:
// an optional sign and digits.
func isInteger(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// pdfPages lists the pages in document order, refusing a page tree that
// is too deep, too large or cyclic.
func pdfPages(r *pdf.Reader) (pages []pdf.Page, err error) {
	defer func() {
		if x := recover(); x != nil {
			pages, err = nil, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: page tree: %v", x)
		}
	}()
	nodes := 0
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		if nodes++; nodes > pdfMaxNodes || depth > pdfMaxDepth {
			panic("too deep or cyclic")
		}
		kids := v.Key("Kids")
		switch {
		case v.Key("Type").Name() == "Pages" || kids.Kind() == pdf.Array:
			for i := range kids.Len() {
				walk(kids.Index(i), depth+1)
			}
		case v.Key("Type").Name() == "Page":
			pages = append(pages, pdf.Page{V: v})
		}
	}
	walk(r.Trailer().Key("Root").Key("Pages"), 0)
	if len(pages) == 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "corrupt PDF: no pages")
	}
	return pages, nil
}

func pdfTitle(r *pdf.Reader) (title string) {
	defer func() {
		if recover() != nil {
			title = ""
		}
	}()
	return strings.TrimSpace(r.Trailer().Key("Info").Key("Title").Text())
}

// pdfLine is a line of text on a page.
type pdfLine struct {
	y, size float64
	text    strings.Builder
	segs    []*pdfSeg // runs of text separated by a gap wider than the font size
}

// pdfSeg is a run of text on a line that starts at x: a table cell, when
// the segments of consecutive lines start at the same places.
type pdfSeg struct {
	x    float64
	text strings.Builder
}

// pdfPageText returns the paragraphs of a page. Glyphs arrive in content
// stream order, which is reading order for almost every producer; a
// vertical move starts a new line, a horizontal gap wider than a fraction
// of the font size is a space, and a line gap clearly wider than the
// page's usual one starts a new paragraph.
func pdfPageText(page pdf.Page) (paras []string, firstLine string, err error) {
	defer func() {
		if x := recover(); x != nil {
			paras, firstLine, err = nil, "", fmt.Errorf("%v", x)
		}
	}()
	var lines []*pdfLine
	var cur *pdfLine
	var prevEnd float64
	for _, t := range page.Content().Text {
		if t.S == "" || t.S == "\n" {
			continue
		}
		size := math.Abs(t.FontSize)
		if size < 1 {
			size = 1
		}
		if cur == nil || math.Abs(t.Y-cur.y) > size/2 {
			cur = &pdfLine{y: t.Y, size: size, segs: []*pdfSeg{{x: t.X}}}
			lines = append(lines, cur)
		} else {
			gap := t.X - prevEnd
			if (gap > size*0.15 || gap < -size) && !strings.HasSuffix(cur.text.String(), " ") && t.S != " " {
				cur.text.WriteByte(' ')
			}
			if gap > size || gap < -size {
				cur.segs = append(cur.segs, &pdfSeg{x: t.X})
			}
		}
		cur.size = max(cur.size, size)
		cur.text.WriteString(t.S)
		cur.segs[len(cur.segs)-1].text.WriteString(t.S)
		prevEnd = t.X + t.W
	}
	// A paragraph gap is a line gap well over the page's usual one (the
	// lower median) or over twice the font size.
	var gaps []float64
	for i := 1; i < len(lines); i++ {
		if g := lines[i-1].y - lines[i].y; g > 0 {
			gaps = append(gaps, g)
		}
	}
	slices.Sort(gaps)
	median := 0.0
	if len(gaps) > 0 {
		median = gaps[(len(gaps)-1)/2]
	}
	var para strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		text := cleanLine(l.text.String())
		if text == "" {
			continue
		}
		if firstLine == "" {
			firstLine = text
		}
		if n := pdfTableLines(lines[i:]); n > 0 {
			if para.Len() > 0 {
				paras = append(paras, para.String())
				para.Reset()
			}
			paras = append(paras, pdfTable(lines[i:i+n])...)
			i += n - 1
			continue
		}
		if i > 0 && para.Len() > 0 {
			g := lines[i-1].y - l.y
			if g < 0 || median > 0 && g > median*1.4 || g > 2*max(l.size, lines[i-1].size) {
				paras = append(paras, para.String())
				para.Reset()
			}
		}
		joinLines(&para, text)
	}
	if para.Len() > 0 {
		paras = append(paras, para.String())
	}
	return paras, firstLine, nil
}

// PDF table detection. A table is at least pdfTableMinLines consecutive
// lines, each cut into the same number (two or more) of segments by
// gaps wider than the font size, whose segments start at the same x
// (within pdfColumnSlack points) on every line: columns set with tab
// stops or table cells, which prose (even justified) does not produce.
// A list whose markers and items are set at two x positions is not a
// table. Columns that are centred or aligned right, and cells wrapped
// over several lines, break the pattern; such a table stays as it was.
const (
	pdfTableMinLines = 3
	pdfColumnSlack   = 1.5
	pdfMaxHeaderCell = 40 // runes; a longer "header" cell is a row of data or prose
)

// pdfTableLines returns how many of the lines at the start of lines form
// a table, or 0.
func pdfTableLines(lines []*pdfLine) int {
	first := lines[0]
	if len(first.segs) < 2 {
		return 0
	}
	n := 0
	for _, l := range lines {
		if len(l.segs) != len(first.segs) || (n > 0 && l.y >= lines[n-1].y) {
			break
		}
		aligned := true
		for k, sg := range l.segs {
			if math.Abs(sg.x-first.segs[k].x) > pdfColumnSlack || cleanLine(sg.text.String()) == "" {
				aligned = false
				break
			}
		}
		if !aligned {
			break
		}
		n++
	}
	if n < pdfTableMinLines {
		return 0
	}
	for _, l := range lines[:n] {
		if !isListMarker(cleanLine(l.segs[0].text.String())) {
			return n
		}
	}
	return 0 // a list: markers ("-", "•", "1.") set at one x, items at another
}

// isListMarker reports whether a cell is only a list marker: a few
// characters without a letter.
func isListMarker(s string) bool {
	return utf8.RuneCountInString(s) <= 3 && !strings.ContainsFunc(s, unicode.IsLetter)
}

// pdfTable returns the paragraphs of a table's lines. When the first line
// reads as a header (every cell short, with a letter and no digit), each
// further line is a paragraph that carries the headers (headedRow);
// otherwise the lines are one paragraph of rows with cells separated by
// " | ", as in other document types.
func pdfTable(lines []*pdfLine) []string {
	rows := make([][]string, len(lines))
	for i, l := range lines {
		for _, sg := range l.segs {
			rows[i] = append(rows[i], cleanLine(sg.text.String()))
		}
	}
	if pdfHeaderRow(rows[0]) {
		var paras []string
		for _, r := range rows[1:] {
			paras = append(paras, headedRow(rows[0], r))
		}
		return paras
	}
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(joinCells(r))
	}
	return []string{b.String()}
}

func pdfHeaderRow(cells []string) bool {
	for _, c := range cells {
		if utf8.RuneCountInString(c) > pdfMaxHeaderCell || !strings.ContainsFunc(c, unicode.IsLetter) || strings.ContainsFunc(c, unicode.IsDigit) {
			return false
		}
	}
	return true
}
