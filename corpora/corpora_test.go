package corpora

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/ledongthuc/pdf"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora/internal/officedoc"
	"github.com/quarry-kb/quarry/corpora/internal/pdfgen"
	"github.com/quarry-kb/quarry/ingest"
)

// doc is one help centre document with its text as an ingester would
// see it: raw for Markdown and text, tags stripped for HTML, extracted
// with ledongthuc/pdf for PDF (one string per page). A scan (a .png, or
// a .pdf of page images, rendered from officesrc/) has the lines of its
// source as its text; TestScansOCR checks what OCR reads of it.
type doc struct {
	Path  string
	Ext   string
	Raw   []byte
	Pages []string // PDF only
	Text  string
	Scan  bool
}

// scanSource returns the source of a scan in officesrc/, if p is one.
func scanSource(p string) (officedoc.Scan, bool, error) {
	if !officedoc.IsScan(p) {
		return officedoc.Scan{}, false, nil
	}
	raw, err := os.ReadFile(filepath.Join("officesrc", filepath.FromSlash(p)+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return officedoc.Scan{}, false, nil
	}
	var s officedoc.Scan
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	return s, err == nil, err
}

var (
	scriptRE = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
)

func htmlText(raw []byte) string {
	s := scriptRE.ReplaceAllString(string(raw), " ")
	s = tagRE.ReplaceAllString(s, " ")
	return html.UnescapeString(s)
}

func pdfPages(raw []byte) ([]string, error) {
	r, err := pdf.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, err
	}
	var pages []string
	for i := 1; i <= r.NumPage(); i++ {
		s, err := r.Page(i).GetPlainText(nil)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i, err)
		}
		pages = append(pages, s)
	}
	return pages, nil
}

func loadDocs(t testing.TB) map[string]*doc {
	t.Helper()
	docs := map[string]*doc{}
	err := fs.WalkDir(HelpCenter(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(HelpCenter(), p)
		if err != nil {
			return err
		}
		d := &doc{Path: p, Ext: path.Ext(p), Raw: raw}
		scan, isScan, err := scanSource(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if isScan {
			d.Scan = true
			for _, page := range scan.Pages {
				d.Pages = append(d.Pages, strings.Join(page, "\n"))
			}
			d.Text = strings.Join(d.Pages, "\n")
			docs[p] = d
			return nil
		}
		switch d.Ext {
		case ".md", ".txt":
			d.Text = string(raw)
		case ".html":
			d.Text = htmlText(raw)
		case ".pdf":
			d.Pages, err = pdfPages(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			d.Text = strings.Join(d.Pages, "\n")
		case ".docx", ".pptx", ".xlsx", ".csv":
			// Read as the ingester reads them: headings (slide titles,
			// sheet names, FAQ questions) and section text.
			parsed, err := ingest.ParseFile(p, raw)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			var parts []string
			for _, s := range parsed.Sections {
				parts = append(parts, strings.Join(s.Heading, "\n"), s.Text)
			}
			d.Text = parsed.Title + "\n" + strings.Join(parts, "\n")
		default:
			return fmt.Errorf("%s: unexpected file type", p)
		}
		docs[p] = d
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// collapse is the plain whitespace normalisation that other packages use
// (eval.AnswerHit): case-sensitive, runs of white space become one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func hanCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			n++
		}
	}
	return n
}

// docLang says "zh" for documents whose letters are mostly Han characters.
func docLang(text string) string {
	han, latin := 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.IsLetter(r):
			latin++
		}
	}
	if han > latin {
		return "zh"
	}
	return "en"
}

func TestHelpCenterInventory(t *testing.T) {
	docs := loadDocs(t)
	if len(docs) < 44 {
		t.Errorf("help centre has %d documents, want at least 44", len(docs))
	}
	byExt := map[string]int{}
	byLang := map[string]int{}
	byTopic := map[string]map[string]int{}
	for p, d := range docs {
		byExt[d.Ext]++
		lang := docLang(d.Text)
		byLang[lang]++
		dir := path.Dir(p)
		if dir == "." || strings.Contains(dir, "/") {
			t.Errorf("%s: documents live one level down, in a topic folder", p)
		}
		if byTopic[dir] == nil {
			byTopic[dir] = map[string]int{}
		}
		byTopic[dir][lang]++
		if d.Ext == ".pdf" && lang != "en" {
			t.Errorf("%s: PDFs are English only", p)
		}
		if want := strings.HasPrefix(path.Base(p), "cn-"); want != (lang == "zh") {
			t.Errorf("%s: language %s, but the cn- prefix marks exactly the Chinese documents", p, lang)
		}
	}
	for _, ext := range []string{".md", ".html", ".txt", ".pdf"} {
		if byExt[ext] < 5 {
			t.Errorf("%d %s documents, want at least 5", byExt[ext], ext)
		}
	}
	zhShare := float64(byLang["zh"]) / float64(len(docs))
	if zhShare < 0.25 || zhShare > 0.42 {
		t.Errorf("Chinese documents are %.0f%% of the corpus (%v), want about a third", 100*zhShare, byLang)
	}
	for _, topic := range []string{"shipping", "returns", "warranty", "billing", "account", "devices", "privacy", "app", "business", "stores"} {
		if byTopic[topic]["en"] == 0 || byTopic[topic]["zh"] == 0 {
			t.Errorf("topic %s has %v documents, want both English and Chinese", topic, byTopic[topic])
		}
	}
	t.Logf("%d documents: %v, %v", len(docs), byExt, byLang)
}

func TestDocumentLengths(t *testing.T) {
	for p, d := range loadDocs(t) {
		if officeTable(d.Ext) || d.Scan {
			continue // sheets, slide decks and scanned notices are short by nature
		}
		if docLang(d.Text) == "zh" {
			if n := hanCount(d.Text); n < 400 || n > 2000 {
				t.Errorf("%s: %d Chinese characters, want 400 to 2000", p, n)
			}
			continue
		}
		if n := len(strings.Fields(d.Text)); n < 150 || n > 1600 {
			t.Errorf("%s: %d words, want 150 to 1600", p, n)
		}
	}
}

func TestMarkdownStructure(t *testing.T) {
	deep := 0
	for p, d := range loadDocs(t) {
		if d.Ext != ".md" {
			continue
		}
		lines := strings.Split(string(d.Raw), "\n")
		if !strings.HasPrefix(lines[0], "# ") {
			t.Errorf("%s: first line is %q, want a level-1 heading", p, lines[0])
		}
		h1, h2, h3 := 0, 0, 0
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "# "):
				h1++
			case strings.HasPrefix(l, "## "):
				h2++
			case strings.HasPrefix(l, "### "):
				h3++
			}
		}
		if h1 != 1 || h2 < 2 {
			t.Errorf("%s: %d level-1 and %d level-2 headings, want 1 and at least 2", p, h1, h2)
		}
		if h3 > 0 {
			deep++
		}
	}
	if deep < 10 {
		t.Errorf("%d Markdown documents use level-3 headings, want at least 10", deep)
	}
}

func TestHTMLStructure(t *testing.T) {
	tables := 0
	for p, d := range loadDocs(t) {
		if d.Ext != ".html" {
			continue
		}
		raw := strings.ToLower(string(d.Raw))
		for _, tag := range []string{"<!doctype html>", "<title>", "<h1>", "<h2>", "<nav", "<script", "<p>", "</html>"} {
			if !strings.Contains(raw, tag) {
				t.Errorf("%s: no %s", p, tag)
			}
		}
		if strings.Contains(raw, "<table") {
			tables++
		}
		if strings.Count(raw, "<h1") != 1 {
			t.Errorf("%s: want exactly one <h1>", p)
		}
	}
	if tables < 8 {
		t.Errorf("%d HTML documents have a table, want at least 8", tables)
	}
}

// pdfFacts are sentences that must be extracted, word spacing intact, from
// a given page of each PDF.
var pdfFacts = []struct {
	path     string
	pages    int
	page     int
	sentence string
}{
	{"warranty/limited-warranty-certificate.pdf", 3, 1, "free from defects in materials and workmanship under normal use for 2 years from the date it was delivered to the original buyer"},
	{"warranty/limited-warranty-certificate.pdf", 3, 2, "The Cam Outdoor C3 is rated IP65 and is covered for normal exposure to rain and snow."},
	{"warranty/limited-warranty-certificate.pdf", 3, 3, "If we do not receive the defective device within 14 days, the hold is charged."},
	{"billing/price-list-2025.pdf", 2, 1, "Certified Refurbished devices are sold at 20% below the regular price while stock lasts"},
	{"billing/price-list-2025.pdf", 2, 2, "Orders to Canada pay a flat rate of $14.99."},
	{"devices/thermostat-t2-user-manual.pdf", 4, 1, "The Thermostat T2 does not work with line-voltage systems"},
	{"devices/thermostat-t2-user-manual.pdf", 4, 2, "Installation takes about 30 minutes and needs a Phillips screwdriver."},
	{"devices/thermostat-t2-user-manual.pdf", 4, 3, "The default Eco temperatures are 62 F for heating and 80 F for cooling"},
	{"devices/thermostat-t2-user-manual.pdf", 4, 4, "Not enough power (C-wire missing)"},
	{"devices/smart-lock-l1-user-guide.pdf", 3, 1, "Installation takes about 20 minutes with a Phillips screwdriver."},
	{"devices/smart-lock-l1-user-guide.pdf", 3, 2, "The lock stores up to 50 access codes of 4 to 8 digits."},
	{"devices/smart-lock-l1-user-guide.pdf", 3, 3, "Connect a USB-C power bank to the emergency power port under the keypad."},
	{"privacy/privacy-policy.pdf", 4, 1, "We do not sell your personal information"},
	{"privacy/privacy-policy.pdf", 4, 2, "Video is encrypted in transit with TLS 1.3 and at rest with AES-256."},
	{"privacy/privacy-policy.pdf", 4, 3, "Your data export is ready within 48 hours, and the download link is valid for 7 days."},
	{"privacy/privacy-policy.pdf", 4, 4, "stored in data centres in the United States, in Oregon and Virginia."},
	{"business/kestrel-for-business-overview.pdf", 2, 1, "Two-step verification is required for every administrator of a Kestrel for Business organisation."},
	{"business/kestrel-for-business-overview.pdf", 2, 2, "You can try Business Pro free for 45 days on up to 3 sites."},
}

func TestPDFsExtract(t *testing.T) {
	docs := loadDocs(t)
	for _, f := range pdfFacts {
		t.Run(f.path, func(t *testing.T) {
			d := docs[f.path]
			if d == nil {
				t.Fatalf("no such PDF")
			}
			if len(d.Pages) != f.pages {
				t.Fatalf("%d pages, want %d", len(d.Pages), f.pages)
			}
			for i, text := range d.Pages {
				has := strings.Contains(collapse(text), f.sentence)
				if want := i+1 == f.page; has != want {
					t.Errorf("page %d contains %q: %v, want %v\npage text:\n%s", i+1, f.sentence, has, want, text)
				}
			}
		})
	}
	pdfs := 0
	for _, d := range docs {
		if d.Ext == ".pdf" && !d.Scan {
			pdfs++
			if len(d.Pages) < 2 || len(d.Pages) > 4 {
				t.Errorf("%s: %d pages, want 2 to 4", d.Path, len(d.Pages))
			}
		}
	}
	if pdfs < 5 {
		t.Errorf("%d PDFs, want at least 5", pdfs)
	}
}

// TestPDFsMatchSources checks every block of every PDF source against the
// extracted text of the page the source puts it on: nothing is lost, no
// words are merged, nothing moves to another page.
func TestPDFsMatchSources(t *testing.T) {
	docs := loadDocs(t)
	srcs, err := filepath.Glob("pdfsrc/*/*.txt")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no PDF sources: %v", err)
	}
	for _, src := range srcs {
		rel := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(src), "pdfsrc/"), ".txt") + ".pdf"
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			pd, err := pdfgen.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			d := docs[rel]
			if d == nil {
				t.Fatalf("source %s has no PDF in the help centre; run go generate", src)
			}
			page := 0
			for _, b := range pd.Blocks {
				var want []string
				switch b.Kind {
				case pdfgen.PageBreak:
					page++
					continue
				case pdfgen.Table:
					for _, row := range b.Rows {
						want = append(want, row...)
					}
				default:
					want = []string{b.Text}
				}
				if page >= len(d.Pages) {
					t.Fatalf("source line %d is on page %d, the PDF has %d pages", b.Line, page+1, len(d.Pages))
				}
				got := collapse(d.Pages[page])
				for _, w := range want {
					if !strings.Contains(got, collapse(w)) {
						t.Errorf("page %d: source line %d text %q not found in the extracted text", page+1, b.Line, w)
					}
				}
			}
			if page+1 != len(d.Pages) {
				t.Errorf("source has %d pages, PDF has %d", page+1, len(d.Pages))
			}
			if !strings.Contains(collapse(d.Pages[0]), pd.Title) {
				t.Errorf("page 1 does not show the title %q", pd.Title)
			}
		})
	}
}

func TestPDFsReproducible(t *testing.T) {
	dir := t.TempDir()
	written, err := pdfgen.Generate("pdfsrc", dir)
	if err != nil {
		t.Fatal(err)
	}
	var committed []string
	for p, d := range loadDocs(t) {
		if d.Ext == ".pdf" && !d.Scan {
			committed = append(committed, p)
		}
	}
	sort.Strings(committed)
	if strings.Join(written, ",") != strings.Join(committed, ",") {
		t.Fatalf("sources give %v, help centre has %v", written, committed)
	}
	for _, p := range written {
		fresh, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		old, err := fs.ReadFile(HelpCenter(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, old) {
			t.Errorf("%s differs from a fresh rendering of its source; run go generate ./corpora and commit", p)
		}
	}
}

func officeTable(ext string) bool { return ext == ".xlsx" || ext == ".csv" || ext == ".pptx" }

// TestOfficeReproducible: every Word, PowerPoint, Excel and CSV document
// is its source in officesrc/ rendered again, byte for byte, and every
// source has its document.
func TestOfficeReproducible(t *testing.T) {
	sources := map[string]bool{}
	err := filepath.WalkDir("officesrc", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimSuffix(strings.TrimPrefix(p, "officesrc"+string(filepath.Separator)), ".json"))
		sources[rel] = true
		if officedoc.IsScan(rel) && !haveScanFonts(t) {
			return nil
		}
		fresh, err := officedoc.Render(path.Base(rel), raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		old, err := fs.ReadFile(HelpCenter(), rel)
		if err != nil {
			return err
		}
		if !bytes.Equal(fresh, old) {
			t.Errorf("%s differs from a fresh rendering of its source; run go generate ./corpora and commit", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, d := range loadDocs(t) {
		switch {
		case d.Scan, d.Ext == ".docx", d.Ext == ".pptx", d.Ext == ".xlsx", d.Ext == ".csv":
			if !sources[p] {
				t.Errorf("%s has no source in officesrc/", p)
			}
		}
	}
	if len(sources) < 4 {
		t.Errorf("%d office sources, want one or more of each type", len(sources))
	}
}

// haveScanFonts reports whether the fonts scans are drawn with are
// installed (scripts/test-deps.sh installs them); without them a test
// logs that it leaves the scans out, and under CI=true fails.
func haveScanFonts(t *testing.T) bool {
	t.Helper()
	for _, name := range []string{"latin", "han"} {
		f, err := officedoc.ScanFont(name)
		if err == nil {
			_, err = os.Stat(f)
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("scan fonts missing (scripts/test-deps.sh installs them): %v", err)
			}
			t.Logf("scans left out: fonts missing (scripts/test-deps.sh installs them): %v", err)
			return false
		}
	}
	return true
}

// TestScansOCR: OCR (as ingest runs it) of every scan in the help centre
// reads the expected answer of each question that the scan answers, so
// that the scans' questions measure the answerer, not Tesseract.
func TestScansOCR(t *testing.T) {
	on, detail := ingest.OCRStatus()
	if langs := ingest.OCRLanguages(); !on || !strings.Contains(langs, "eng") || !strings.Contains(langs, "chi_sim") {
		msg := "the scans need OCR in English and Chinese (scripts/test-deps.sh installs tesseract, eng and chi_sim): " + detail
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	qs, err := Questions()
	if err != nil {
		t.Fatal(err)
	}
	scans := 0
	for p, d := range loadDocs(t) {
		if !d.Scan {
			continue
		}
		scans++
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			parsed, err := ingest.ParseFile(p, d.Raw)
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for _, s := range parsed.Sections {
				if !strings.HasSuffix(strings.Join(s.Heading, " "), quarry.OCRHeadingSuffix) {
					t.Errorf("section %q of a scan is not marked as OCR", s.Heading)
				}
				text.WriteString(s.Text + "\n")
			}
			n := 0
			for _, q := range qs {
				if !slices.Contains(q.ExpectedDocs, p) {
					continue
				}
				n++
				if !strings.Contains(collapse(text.String()), collapse(q.ExpectedAnswer)) {
					t.Errorf("%s: OCR does not read %q:\n%s", q.ID, q.ExpectedAnswer, text.String())
				}
			}
			if n == 0 {
				t.Error("no question is answered by this scan")
			}
		})
	}
	if scans < 2 {
		t.Errorf("%d scans in the help centre, want an image and a scanned PDF", scans)
	}
}

func TestQuestions(t *testing.T) {
	qs, err := Questions()
	if err != nil {
		t.Fatal(err)
	}
	docs := loadDocs(t)
	count := map[string]int{}
	usedDocs := map[string]bool{}
	for _, q := range qs {
		count[q.Lang]++
		if !q.Answerable {
			count["unanswerable"]++
			count["unanswerable-"+q.Lang]++
		}
		if got := docLang(q.Question); got != q.Lang {
			t.Errorf("%s: question looks %s, labelled %s", q.ID, got, q.Lang)
		}
		if !q.Answerable {
			continue
		}
		if q.Lang == "en" {
			if n := len(strings.Fields(q.ExpectedAnswer)); n > 6 {
				t.Errorf("%s: expected answer %q has %d words, want at most 6", q.ID, q.ExpectedAnswer, n)
			}
		} else if n := len([]rune(q.ExpectedAnswer)); n > 12 {
			t.Errorf("%s: expected answer %q has %d characters, want at most 12", q.ID, q.ExpectedAnswer, n)
		}
		if ContainsAnswer(q.Question, q.ExpectedAnswer) {
			t.Errorf("%s: the question gives its own answer %q away", q.ID, q.ExpectedAnswer)
		}
		found := false
		for _, p := range q.ExpectedDocs {
			usedDocs[p] = true
			d := docs[p]
			if d == nil {
				t.Errorf("%s: expected doc %s does not exist", q.ID, p)
				continue
			}
			// Strict: verbatim with case, after collapsing white space,
			// so simple matchers (eval.AnswerHit) find it too.
			if strings.Contains(collapse(d.Text), collapse(q.ExpectedAnswer)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: expected answer %q is in none of %v", q.ID, q.ExpectedAnswer, q.ExpectedDocs)
		}
	}
	if len(qs) < 70 || count["zh"] < 14 || count["unanswerable"] < 14 || count["unanswerable-zh"] < 3 {
		t.Errorf("%d questions, counts %v: want at least 70, 14 in Chinese, 14 unanswerable, 3 of them Chinese", len(qs), count)
	}
	for p := range docs {
		if !usedDocs[p] {
			t.Errorf("no question is answered by %s", p)
		}
	}
	t.Logf("%d questions: %v", len(qs), count)
}

// unanswerableTopics are terms at the heart of each unanswerable question
// that no document may mention; a document that covers one of them makes
// its question answerable.
var unanswerableTopics = map[string][]string{
	"en-na-01": {"weigh", "grams"},
	"en-na-02": {"night vision"},
	"en-na-03": {"CEO", "chief executive", "founder"},
	"en-na-04": {"job", "career", "hiring"},
	"en-na-05": {"inverter"},
	"en-na-06": {"fps", "frames per second"},
	"en-na-07": {"NAS", "Synology", "RTSP"},
	"en-na-08": {"color temperature", "kelvin"},
	"en-na-09": {"ticker", "stock exchange", "Nasdaq"},
	"en-na-10": {"insurance policies", "insurance plan"},
	"en-na-11": {"smoke detector", "smoke alarm"},
	"en-na-12": {"rent", "lease a device"},
	"en-na-13": {"restaurant"},
	"zh-na-01": {"重量", "净重"},
	"zh-na-02": {"招聘", "简历"},
	"zh-na-03": {"H.265", "编码"},
	"zh-na-04": {"门禁"},
	"zh-na-05": {"股票"},
	"zh-na-06": {"空调伴侣"},
}

func TestUnanswerableStayUnanswerable(t *testing.T) {
	qs, err := Questions()
	if err != nil {
		t.Fatal(err)
	}
	docs := loadDocs(t)
	for _, q := range qs {
		if q.Answerable {
			continue
		}
		terms, ok := unanswerableTopics[q.ID]
		if !ok {
			t.Errorf("%s: unanswerable question without an entry in unanswerableTopics", q.ID)
			continue
		}
		for _, term := range terms {
			re := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(term) + `\b`)
			if hanCount(term) > 0 {
				re = regexp.MustCompile(regexp.QuoteMeta(term))
			}
			for p, d := range docs {
				if re.MatchString(d.Text) {
					t.Errorf("%s (%q): %s mentions %q", q.ID, q.Question, p, term)
				}
			}
		}
	}
}

func TestParseQuestions(t *testing.T) {
	ok := `{"id":"a","question":"q?","lang":"en","answerable":true,"expected_docs":["x/y.md"],"expected_answer":"5 days"}`
	tests := []struct {
		name    string
		in      string
		n       int
		wantErr string
	}{
		{"one", ok, 1, ""},
		{"blank lines skipped", "\n" + ok + "\n\n", 1, ""},
		{"unanswerable", `{"id":"b","question":"q?","lang":"zh","answerable":false,"expected_docs":[],"expected_answer":""}`, 1, ""},
		{"empty input", "", 0, ""},
		{"malformed", `{"id":`, 0, "line 1"},
		{"unknown field", `{"id":"a","question":"q","lang":"en","answerable":false,"extra":1}`, 0, "unknown field"},
		{"two values", ok + ok, 0, "more than one"},
		{"missing id", `{"question":"q","lang":"en","answerable":false}`, 0, "missing id"},
		{"empty question", `{"id":"a","question":" ","lang":"en","answerable":false}`, 0, "empty question"},
		{"bad lang", `{"id":"a","question":"q","lang":"fr","answerable":false}`, 0, "lang"},
		{"answerable without docs", `{"id":"a","question":"q","lang":"en","answerable":true,"expected_answer":"x"}`, 0, "no expected_docs"},
		{"answerable without answer", `{"id":"a","question":"q","lang":"en","answerable":true,"expected_docs":["a.md"]}`, 0, "no expected_answer"},
		{"unanswerable with answer", `{"id":"a","question":"q","lang":"en","answerable":false,"expected_answer":"x"}`, 0, "unanswerable but"},
		{"absolute doc path", `{"id":"a","question":"q","lang":"en","answerable":true,"expected_docs":["/etc/passwd"],"expected_answer":"x"}`, 0, "relative"},
		{"dot-dot doc path", `{"id":"a","question":"q","lang":"en","answerable":true,"expected_docs":["../x.md"],"expected_answer":"x"}`, 0, "relative"},
		{"duplicate id", ok + "\n" + ok, 0, "line 2: id \"a\" already used on line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, err := ParseQuestions(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, quarry.ErrInvalid) {
					t.Errorf("err = %v, want code invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(qs) != tt.n {
				t.Errorf("got %d questions, want %d", len(qs), tt.n)
			}
		})
	}
}

func FuzzParseQuestions(f *testing.F) {
	f.Add([]byte(`{"id":"a","question":"q?","lang":"en","answerable":true,"expected_docs":["x/y.md"],"expected_answer":"5 days"}`))
	f.Add([]byte(`{"id":"b","question":"问?","lang":"zh","answerable":false,"expected_docs":[],"expected_answer":""}` + "\n\n{}"))
	f.Add([]byte("{\"id\":\"a\"}\n{\"id\":\"a\"}"))
	f.Add(questionsJSONL[:min(len(questionsJSONL), 2000)])
	f.Fuzz(func(t *testing.T, in []byte) {
		qs, err := ParseQuestions(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, quarry.ErrInvalid) {
				t.Fatalf("error without code invalid: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, q := range qs {
			if seen[q.ID] || q.ID == "" || (q.Lang != "en" && q.Lang != "zh") {
				t.Fatalf("invalid question accepted: %+v", q)
			}
			if q.Answerable != (len(q.ExpectedDocs) > 0) {
				t.Fatalf("answerable %v with %d docs accepted", q.Answerable, len(q.ExpectedDocs))
			}
			seen[q.ID] = true
		}
	})
}

func TestNormalizeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  Refunds\n are\tissued  ", "refunds are issued"},
		{"5 business\ndays", "5 business days"},
		{"补贴 200 元", "补贴200元"},
		{"凯翎智家 App 使用", "凯翎智家app使用"},
		{"每周六下午 15:00", "每周六下午15:00"},
		{"Wi-Fi 2.4 GHz", "wi-fi 2.4 ghz"},
	}
	for _, tt := range tests {
		if got := NormalizeText(tt.in); got != tt.want {
			t.Errorf("NormalizeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContainsAnswer(t *testing.T) {
	tests := []struct {
		text, answer string
		want         bool
	}{
		{"Refunds are issued within 5 business\n days.", "5 Business Days", true},
		{"退款将在3个工作日内原路退回", "3个工作日", true},
		{"退款将在 3 个工作日内原路退回", "3个工作日", true},
		{"within 5 business days", "15 business days", false},
		{"anything", "", false},
		{"anything", "   ", false},
		{"5businessdays", "5 business days", false},
	}
	for _, tt := range tests {
		if got := ContainsAnswer(tt.text, tt.answer); got != tt.want {
			t.Errorf("ContainsAnswer(%q, %q) = %v, want %v", tt.text, tt.answer, got, tt.want)
		}
	}
}
