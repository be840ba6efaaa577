package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/quarry-kb/quarry"
)

// FAQPrefix starts the heading of a chunk made from one question and
// answer pair of a FAQ sheet: "Q: question / similar question ...". The
// chunk's text is the answer, whole.
const FAQPrefix = quarry.FAQHeadingPrefix

// Column names that make a sheet a FAQ: a question and an answer
// column; a column of similar questions (paraphrases) is optional.
// Names are compared lower-cased, without spaces, "_" or "-".
var (
	faqQuestionCols = []string{"question", "questions", "q", "faqquestion", "standardquestion", "问题", "标准问", "标准问题", "问", "常见问题", "提问"}
	faqAnswerCols   = []string{"answer", "answers", "a", "faqanswer", "standardanswer", "reply", "答案", "标准答案", "回答", "答", "答复"}
	faqSimilarCols  = []string{"similarquestions", "similarquestion", "similar", "alternativequestions", "paraphrases", "相似问题", "相似问", "相似问法", "扩展问", "扩展问题", "相似问句"}
)

// sheetSections turns the rows of one sheet (or CSV file) into sections
// under heading: a FAQ sheet gives one section per pair, any other one
// a section of records, each row a sentence that carries the header
// names (see writeTable). The first row with text is the header.
func sheetSections(heading []string, rows [][]string) []Section {
	rows = dropEmptyRows(rows)
	if len(rows) == 0 {
		return nil
	}
	header := rows[0]
	if q, a, sim, ok := faqColumns(header); ok {
		return faqSections(heading, rows[1:], q, a, sim)
	}
	var b sectionBuilder
	b.heading = heading
	if len(rows) == 1 {
		writeTable(&b, nil, rows)
	} else {
		writeTable(&b, header, rows[1:])
	}
	return b.sections()
}

func dropEmptyRows(rows [][]string) [][]string {
	out := rows[:0:0]
	for _, r := range rows {
		if anyText(r) {
			out = append(out, r)
		}
	}
	return out
}

func normColName(s string) string {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\ufeff")))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '\t', '(', ')', '（', '）', ':', '：':
			return -1
		}
		return r
	}, s)
}

// faqColumns finds the question, answer and similar-questions columns
// of a header (sim is -1 when there is none).
func faqColumns(header []string) (q, a, sim int, ok bool) {
	q, a, sim = -1, -1, -1
	for i, h := range header {
		n := normColName(h)
		switch {
		case q < 0 && containsStr(faqQuestionCols, n):
			q = i
		case a < 0 && containsStr(faqAnswerCols, n):
			a = i
		case sim < 0 && containsStr(faqSimilarCols, n):
			sim = i
		}
	}
	return q, a, sim, q >= 0 && a >= 0
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// faqSections makes one section per question and answer pair: the
// heading is FAQPrefix, the question and its paraphrases joined with
// " / ", so that a customer's wording meets one of them; the text is
// the answer, whole. Rows without a question or an answer are dropped.
func faqSections(heading []string, rows [][]string, q, a, sim int) []Section {
	cell := func(r []string, i int) string {
		if i < 0 || i >= len(r) {
			return ""
		}
		return strings.TrimSpace(r[i])
	}
	var out []Section
	for _, r := range rows {
		question, answer := cleanLine(cell(r, q)), cell(r, a)
		if question == "" || !hasText(answer) {
			continue
		}
		qs := []string{question}
		for s := range strings.FieldsFuncSeq(cell(r, sim), func(r rune) bool {
			return r == '\n' || r == ';' || r == '；' || r == '|'
		}) {
			if s = cleanLine(s); s != "" && !containsStr(qs, s) {
				qs = append(qs, s)
			}
		}
		h := append(append([]string(nil), heading...), FAQPrefix+strings.Join(qs, " / "))
		out = append(out, Section{Heading: h, Text: answer})
	}
	return out
}

// parseXLSX reads an Excel workbook: each sheet a section under the
// sheet's name, as sheetSections makes it. Cell values are read as
// Excel displays them (number formats applied); formulas are read as
// their cached results; charts, images and comments are not read.
func parseXLSX(data []byte) (Parsed, error) {
	z, err := openOOXML(data, "Excel") // the zip limits, before excelize unzips anything
	if err != nil {
		return Parsed{}, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    maxZipTotalSize,
		UnzipXMLSizeLimit: maxZipEntrySize,
	})
	if err != nil {
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt Excel file (%v)", err)
	}
	defer f.Close()
	p := Parsed{Title: z.coreTitle()}
	sheets := f.GetSheetList()
	for _, name := range sheets {
		rows, err := f.GetRows(name)
		if err != nil {
			return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt Excel file (sheet %q: %v)", name, err)
		}
		p.Sections = append(p.Sections, sheetSections([]string{name}, rows)...)
	}
	return p, nil
}

// parseCSV reads a CSV (or TSV) file as one sheet. The encoding is
// sniffed: UTF-8 with or without a BOM, UTF-16 with a BOM, else
// GB18030 (which GBK is a subset of; Chinese Excel saves CSV in it).
// The delimiter is the one of , ; tab | that splits the first lines most
// evenly.
func parseCSV(data []byte) (Parsed, error) {
	text, err := decodeCSVText(data)
	if err != nil {
		return Parsed{}, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = sniffDelimiter(text)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var rows [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt CSV file (%v)", err)
		}
		rows = append(rows, rec)
	}
	return Parsed{Sections: sheetSections(nil, rows)}, nil
}

func decodeCSVText(data []byte) (string, error) {
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) || utf8.Valid(data) ||
		len(data)%2 == 0 && (bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF})) {
		return decodeText(data)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", quarry.Errorf(quarry.CodeInvalid, "binary content in a CSV file (NUL byte)")
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || bytes.Count(out, []byte("\uFFFD")) > len(out)/100 {
		return "", quarry.Errorf(quarry.CodeInvalid, "CSV file is neither UTF-8 nor GB18030/GBK text")
	}
	return string(out), nil
}

func sniffDelimiter(text string) rune {
	var lines []string
	for l := range strings.Lines(text) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
		if len(lines) == 10 {
			break
		}
	}
	best, bestScore := ',', 0
	for _, d := range []rune{',', ';', '\t', '|'} {
		first, score := -1, 0
		for _, l := range lines {
			n := countOutsideQuotes(l, d)
			if first < 0 {
				first = n
			}
			if n == first && n > 0 {
				score += n + 1
			}
		}
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}
