package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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

// parsePDF extracts the sections of a PDF: one per page, cut further at
// headings recognised by their type style (see pdfStyle). The title is
// the document information dictionary's Title, else the first line of
// text.
//
// It reads in two passes: the lines of every page first, since body size
// and heading levels are properties of the whole document, then the
// paragraphs, tables and headings of each page.
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
	var firstErr error
	pageLines := make([][]*pdfLine, len(pages))
	ok := make([]bool, len(pages))
	for i, page := range pages {
		lines, err := pdfPageLines(page)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("page %d: %w", i+1, err)
			}
			continue // one bad page does not lose the others
		}
		pageLines[i], ok[i] = lines, true
	}
	st := newPDFStyle(pageLines)
	pageBlocks := make([][]pdfBlock, len(pages))
	firstLine := ""
	for i, lines := range pageLines {
		if !ok[i] {
			continue
		}
		var first string
		pageBlocks[i], first = st.blocks(lines)
		if firstLine == "" {
			firstLine = first
		}
	}
	for i, blocks := range pageBlocks {
		if ok[i] && len(blocks) == 0 {
			p.ocrPages = append(p.ocrPages, i+1) // no text layer: a scan?
		}
	}
	levels := pdfLevels(pageBlocks)
	var b sectionBuilder
	for i, blocks := range pageBlocks {
		if !ok[i] {
			continue
		}
		b.setPage(i + 1)
		for _, bl := range blocks {
			if bl.heading {
				b.setHeading(levels[bl.style], bl.text)
				continue
			}
			b.write(bl.text)
			b.endParagraph()
		}
	}
	p.Sections = b.sections()
	if len(p.Sections) == 0 && pdfEncrypted(r) {
		// The library opens some encrypted files (RC4 with an empty user
		// password) but cannot read their streams: say so, rather than
		// "corrupt" or "no extractable text".
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "encrypted PDF (its content could not be decrypted)")
	}
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

// pdfEncrypted reports whether the file has an /Encrypt dictionary.
func pdfEncrypted(r *pdf.Reader) (enc bool) {
	defer func() {
		if recover() != nil {
			enc = false
		}
	}()
	return r.Trailer().Key("Encrypt").Kind() != pdf.Null
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
	y, size float64 // size is the largest font size on the line
	text    strings.Builder
	segs    []*pdfSeg // runs of text separated by a gap wider than the font size

	// Type style, for heading detection.
	sizeChars map[float64]int // characters (not spaces) per font size rounded by pdfSizeStep
	boldChars int             // characters set in a bold face
	chars     int
}

// pdfSeg is a run of text on a line that starts at x: a table cell, when
// the segments of consecutive lines start at the same places.
type pdfSeg struct {
	x    float64
	text strings.Builder
}

// pdfStyleKey is a line's type style: the (rounded) font size that
// carries most of its characters, and whether all of them are bold.
type pdfStyleKey struct {
	size float64
	bold bool
}

// style returns the line's type style.
func (l *pdfLine) style() pdfStyleKey {
	var k pdfStyleKey
	n := 0
	for sz, c := range l.sizeChars {
		if c > n || c == n && sz < k.size {
			k.size, n = sz, c
		}
	}
	k.bold = l.chars > 0 && l.boldChars == l.chars
	return k
}

// pdfPageLines returns the lines of a page. Glyphs arrive in content
// stream order, which is reading order for almost every producer; a
// vertical move starts a new line, a horizontal gap wider than a fraction
// of the font size is a space, and a gap wider than the font size starts
// a new segment (a possible table cell).
func pdfPageLines(page pdf.Page) (lines []*pdfLine, err error) {
	defer func() {
		if x := recover(); x != nil {
			lines, err = nil, fmt.Errorf("%v", x)
		}
	}()
	var cur *pdfLine
	var prevEnd float64
	lastFont, lastBold := "", false
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
		if strings.TrimSpace(t.S) != "" {
			if t.Font != lastFont {
				lastFont, lastBold = t.Font, isBoldFont(t.Font)
			}
			if cur.sizeChars == nil {
				cur.sizeChars = make(map[float64]int, 1)
			}
			cur.sizeChars[roundSize(size)]++
			cur.chars++
			if lastBold {
				cur.boldChars++
			}
		}
	}
	return lines, nil
}

// Heading detection. A line is heading-styled when its type is clearly
// larger than the body's (the size that carries the most characters in
// the document), or when it is all bold at body size or above while the
// body is not bold. Consecutive heading-styled lines of one style are
// one wrapped heading. A heading must be short, hold a letter and not
// end like a clause that continues; a bold heading at body size, the
// weakest signal, must also not end like a sentence, must start a block
// (not finish a sentence of the paragraph above, as the bold last words
// of a paragraph would) and must not run on into a lower-case line.
// Text at the same place on several pages in the same style (a running
// header or footer) is never a heading.
const (
	pdfSizeStep        = 0.5  // font sizes are compared rounded to this
	pdfHeadingRatio    = 1.12 // a heading's size over the body size, at least
	pdfMaxHeadingRunes = 120
	pdfMaxHeadingLines = 4
)

func roundSize(size float64) float64 { return math.Round(size/pdfSizeStep) * pdfSizeStep }

// isBoldFont reports whether a font name (a PostScript name such as
// "Helvetica-Bold" or "ABCDEF+NotoSans-SemiBold") names a bold face.
func isBoldFont(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"bold", "black", "heavy", "semibold", "demi"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// pdfStyle holds the document-wide facts that heading detection needs.
type pdfStyle struct {
	body     float64         // rounded body font size; 0 when there is no text
	bodyBold bool            // most body-size text is bold: bold marks nothing
	running  map[string]bool // runningKey of lines repeated at the top or bottom of pages
	// furniture are the running header and footer lines left out of the
	// text: those of pages that have a body besides their edge lines.
	// They repeat what the title and page number already say, and in a
	// short section they would outweigh its text in every search.
	furniture map[*pdfLine]bool
}

// newPDFStyle measures the body size over all pages' lines and finds the
// running headers and footers.
func newPDFStyle(pages [][]*pdfLine) *pdfStyle {
	chars := map[float64]int{}
	bold := map[float64]int{}
	seen := map[string]int{}
	for _, lines := range pages {
		for _, l := range lines {
			for sz, n := range l.sizeChars {
				chars[sz] += n
			}
			if k := l.style(); l.boldChars > 0 {
				bold[k.size] += l.boldChars
			}
		}
		// A page's first and last lines are where running headers and
		// footers sit; count each text once per page.
		page := map[string]bool{}
		edges, _ := pdfEdgeLines(lines)
		for _, l := range edges {
			page[runningKey(l)] = true
		}
		for k := range page {
			seen[k]++
		}
	}
	st := &pdfStyle{running: map[string]bool{}, furniture: map[*pdfLine]bool{}}
	n := 0
	for sz, c := range chars {
		if c > n || c == n && sz < st.body {
			st.body, n = sz, c
		}
	}
	st.bodyBold = bold[st.body]*2 > chars[st.body]
	for k, c := range seen {
		if c >= 2 {
			st.running[k] = true
		}
	}
	for _, lines := range pages {
		if edges, inner := pdfEdgeLines(lines); inner {
			for _, l := range edges {
				if st.running[runningKey(l)] {
					st.furniture[l] = true
				}
			}
		}
	}
	return st
}

// pdfEdgeLines returns the first two and last two lines with text of a
// page (a running header may sit above or below a rule or a logo line),
// and whether the page has lines with text besides them.
func pdfEdgeLines(lines []*pdfLine) (edges []*pdfLine, inner bool) {
	var text []*pdfLine
	for _, l := range lines {
		if l.chars > 0 {
			text = append(text, l)
		}
	}
	if len(text) <= 4 {
		return text, false
	}
	return append(text[:2:2], text[len(text)-2:]...), true
}

// runningKey identifies a line's text and style with digits left out, so
// that "Page 1 of 4" and "Page 2 of 4" match.
func runningKey(l *pdfLine) string {
	text := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, cleanLine(l.text.String()))
	k := l.style()
	return fmt.Sprintf("%g|%t|%s", k.size, k.bold, cleanLine(text))
}

// candidate reports whether a line is heading-styled, and its style.
func (st *pdfStyle) candidate(l *pdfLine) (pdfStyleKey, bool) {
	if l.chars == 0 || st.body == 0 {
		return pdfStyleKey{}, false
	}
	k := l.style()
	switch {
	case k.size >= st.body*pdfHeadingRatio:
		return k, true
	case k.bold && !st.bodyBold && k.size >= st.body:
		return k, true
	}
	return pdfStyleKey{}, false
}

// boldOnly reports whether a heading style is bold at body size (or only
// a little above it), the weakest heading signal.
func (st *pdfStyle) boldOnly(k pdfStyleKey) bool { return k.size < st.body*pdfHeadingRatio }

// heading returns how many lines from lines[i] on form a heading, and
// its text, or 0. fresh tells whether lines[i] starts a block (after a
// paragraph gap, a heading or a table, or at the top of the page); prev
// is the text of the paragraph it would otherwise continue.
func (st *pdfStyle) heading(lines []*pdfLine, i int, fresh bool, prev string) (int, string) {
	k, ok := st.candidate(lines[i])
	if !ok || st.running[runningKey(lines[i])] {
		return 0, ""
	}
	var text strings.Builder
	joinLines(&text, cleanLine(lines[i].text.String()))
	j := i + 1
	for ; j < len(lines) && j-i < pdfMaxHeadingLines; j++ {
		m := lines[j]
		if mk, ok := st.candidate(m); !ok || mk != k || st.running[runningKey(m)] {
			break
		}
		if g := lines[j-1].y - m.y; g <= 0 || g > 2*max(m.size, lines[j-1].size) {
			break // a new column or a separate heading
		}
		if pdfTableLines(lines[j:]) > 0 {
			break
		}
		joinLines(&text, cleanLine(m.text.String()))
	}
	h := text.String()
	if utf8.RuneCountInString(h) > pdfMaxHeadingRunes || !strings.ContainsFunc(h, unicode.IsLetter) {
		return 0, ""
	}
	last := lastRune(h)
	if strings.ContainsRune(",;，；、", last) {
		return 0, ""
	}
	if st.boldOnly(k) {
		if strings.ContainsRune(".!:。！：", last) {
			return 0, "" // a bold sentence or lead-in, part of the body
		}
		if !fresh && prev != "" && !strings.ContainsRune(".!?:。！？：", lastRune(prev)) {
			return 0, "" // the bold end of the paragraph above
		}
		if j < len(lines) {
			if _, ok := st.candidate(lines[j]); !ok && unicode.IsLower(firstRune(cleanLine(lines[j].text.String()))) {
				return 0, "" // the bold start of a sentence that runs on
			}
		}
	}
	return j - i, h
}

// pdfBlock is a paragraph or a heading of a page.
type pdfBlock struct {
	text    string
	heading bool
	style   pdfStyleKey // a heading's style, which gives its level
}

// blocks returns the paragraphs, table rows and headings of a page, and
// its first line of text. A line gap clearly wider than the page's usual
// one starts a new paragraph; a heading ends the paragraph before it and
// is never joined to the one after it, whatever the gaps.
func (st *pdfStyle) blocks(lines []*pdfLine) (blocks []pdfBlock, firstLine string) {
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
	flush := func() {
		if para.Len() > 0 {
			blocks = append(blocks, pdfBlock{text: para.String()})
			para.Reset()
		}
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		text := cleanLine(l.text.String())
		if text == "" {
			continue
		}
		if firstLine == "" {
			firstLine = text
		}
		if st.furniture[l] {
			continue
		}
		if n := pdfTableLines(lines[i:]); n > 0 {
			flush()
			for _, row := range pdfTable(lines[i : i+n]) {
				blocks = append(blocks, pdfBlock{text: row})
			}
			i += n - 1
			continue
		}
		if i > 0 && para.Len() > 0 {
			g := lines[i-1].y - l.y
			if g < 0 || median > 0 && g > median*1.4 || g > 2*max(l.size, lines[i-1].size) {
				flush()
			}
		}
		if n, h := st.heading(lines, i, para.Len() == 0, para.String()); n > 0 {
			flush()
			blocks = append(blocks, pdfBlock{text: h, heading: true, style: lines[i].style()})
			i += n - 1
			continue
		}
		joinLines(&para, text)
	}
	flush()
	return blocks, firstLine
}

// pdfLevels numbers the heading styles used in a document: larger sizes
// first, bold before regular at one size, from level 1.
func pdfLevels(pages [][]pdfBlock) map[pdfStyleKey]int {
	var keys []pdfStyleKey
	for _, blocks := range pages {
		for _, b := range blocks {
			if b.heading && !slices.Contains(keys, b.style) {
				keys = append(keys, b.style)
			}
		}
	}
	slices.SortFunc(keys, func(a, b pdfStyleKey) int {
		if a.size != b.size {
			if a.size > b.size {
				return -1
			}
			return 1
		}
		switch {
		case a.bold == b.bold:
			return 0
		case a.bold:
			return -1
		}
		return 1
	})
	levels := make(map[pdfStyleKey]int, len(keys))
	for i, k := range keys {
		levels[k] = i + 1
	}
	return levels
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
