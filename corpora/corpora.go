// Package corpora carries Quarry's sample knowledge base, compiled into
// the binary: the help centre of Kestrel Home, a fictional smart-home
// company (and of Kestrel Home China, 凯翎智家), written for this project
// in English and Chinese, as Markdown, HTML, plain text, PDF, Word,
// PowerPoint, Excel, CSV and scanned pages (read by OCR). It also
// carries a question file that drives the demo, the end-to-end test and
// the ranking regression test: answerable questions with the documents
// and a short verbatim phrase that a correct answer contains, and
// questions the help centre cannot answer.
//
// The PDFs are generated from text sources in pdfsrc/ by
// internal/mkpdf, the Office files and scans from JSON sources in
// officesrc/ by internal/mkoffice (run `go generate ./corpora`); see
// README.md.
package corpora

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode"

	"github.com/quarry-kb/quarry"
)

//go:generate go run ./internal/mkpdf
//go:generate go run ./internal/mkoffice

//go:embed helpcenter
var helpCenterFS embed.FS

//go:embed helpcenter-questions.jsonl
var questionsJSONL []byte

// HelpCenter returns the help centre documents, rooted at the help centre
// folder: paths look like "returns/us-return-policy.md", the same
// relative paths that Question.ExpectedDocs uses.
func HelpCenter() fs.FS {
	sub, err := fs.Sub(helpCenterFS, "helpcenter")
	if err != nil {
		panic(err) // unreachable: "helpcenter" is a valid, embedded path
	}
	return sub
}

// Question is one entry of the help centre's question file.
type Question struct {
	ID       string `json:"id"`
	Question string `json:"question"`
	Lang     string `json:"lang"` // "en" or "zh"
	// Answerable is false for questions the help centre does not cover; a
	// grounded answerer should say it does not know.
	Answerable bool `json:"answerable"`
	// ExpectedDocs are the documents that answer the question, as paths
	// relative to HelpCenter(). Empty when the question is unanswerable.
	ExpectedDocs []string `json:"expected_docs"`
	// ExpectedAnswer is a short phrase that occurs verbatim (after
	// whitespace normalisation) in at least one expected document, and
	// that a correct answer must contain; see ContainsAnswer. Empty when
	// the question is unanswerable.
	ExpectedAnswer string `json:"expected_answer"`
}

// Questions parses the help centre's question file and checks that every
// expected document exists in HelpCenter().
func Questions() ([]Question, error) {
	qs, err := ParseQuestions(bytes.NewReader(questionsJSONL))
	if err != nil {
		return nil, fmt.Errorf("helpcenter-questions.jsonl: %w", err)
	}
	hc := HelpCenter()
	for _, q := range qs {
		for _, d := range q.ExpectedDocs {
			if _, err := fs.Stat(hc, d); err != nil {
				return nil, quarry.Errorf(quarry.CodeInvalid, "helpcenter-questions.jsonl: question %s: expected doc %q: %w", q.ID, d, err)
			}
		}
	}
	return qs, nil
}

// ParseQuestions reads questions in JSON Lines form, one object per line;
// blank lines are skipped. It rejects unknown fields, missing or duplicate
// ids, languages other than "en" and "zh", answerable questions without
// expected documents or answer, and unanswerable questions that have them.
// Errors carry quarry.CodeInvalid and the line number.
func ParseQuestions(r io.Reader) ([]Question, error) {
	var qs []Question
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var q Question
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "line %d: %w", line, err)
		}
		if dec.More() {
			return nil, quarry.Errorf(quarry.CodeInvalid, "line %d: more than one JSON value", line)
		}
		if err := q.validate(); err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "line %d: %w", line, err)
		}
		if prev, ok := seen[q.ID]; ok {
			return nil, quarry.Errorf(quarry.CodeInvalid, "line %d: id %q already used on line %d", line, q.ID, prev)
		}
		seen[q.ID] = line
		qs = append(qs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "line %d: %w", line+1, err)
	}
	return qs, nil
}

func (q Question) validate() error {
	switch {
	case strings.TrimSpace(q.ID) == "":
		return fmt.Errorf("missing id")
	case strings.TrimSpace(q.Question) == "":
		return fmt.Errorf("question %s: empty question", q.ID)
	case q.Lang != "en" && q.Lang != "zh":
		return fmt.Errorf("question %s: lang %q is not \"en\" or \"zh\"", q.ID, q.Lang)
	case q.Answerable && len(q.ExpectedDocs) == 0:
		return fmt.Errorf("question %s: answerable but no expected_docs", q.ID)
	case q.Answerable && strings.TrimSpace(q.ExpectedAnswer) == "":
		return fmt.Errorf("question %s: answerable but no expected_answer", q.ID)
	case !q.Answerable && (len(q.ExpectedDocs) > 0 || q.ExpectedAnswer != ""):
		return fmt.Errorf("question %s: unanswerable but has expected_docs or expected_answer", q.ID)
	}
	for _, d := range q.ExpectedDocs {
		if !fs.ValidPath(d) || d == "." {
			return fmt.Errorf("question %s: expected doc %q is not a relative slash-separated path", q.ID, d)
		}
	}
	return nil
}

// NormalizeText prepares text for answer matching: it lower-cases it,
// turns every run of white space into one space, and drops white space
// next to a Han character, so that "补贴 200 元" and "补贴200元" compare
// equal while English words stay apart.
func NormalizeText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	var last rune // last rune written, 0 at the start
	for _, r := range strings.ToLower(s) {
		if unicode.IsSpace(r) {
			pendingSpace = last != 0
			continue
		}
		if pendingSpace && !unicode.Is(unicode.Han, r) && !unicode.Is(unicode.Han, last) {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteRune(r)
		last = r
	}
	return b.String()
}

// ContainsAnswer reports whether text contains the expected answer phrase,
// comparing with NormalizeText. An empty answer is never contained.
func ContainsAnswer(text, answer string) bool {
	a := NormalizeText(answer)
	return a != "" && strings.Contains(NormalizeText(text), a)
}
