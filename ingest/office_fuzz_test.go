package ingest

import (
	"testing"

	"github.com/quarry-kb/quarry/internal/officegen"
)

// fuzzBinary runs a parser of a binary format directly (ParseFile would
// turn a panic into an error and hide it from the fuzzer); pages tells
// whether its sections carry page numbers.
func fuzzBinary(f *testing.F, name string, parse func([]byte) (Parsed, error), pages bool, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parse(data)
		if err != nil {
			return
		}
		p.Type = TypeOf(name)
		if p, err = finish(p, name); err != nil {
			return
		}
		checkParsed(t, p, pages)
	})
}

func FuzzParseDOCX(f *testing.F) {
	good := testDocx()
	fuzzBinary(f, "f.docx", parseDOCX, false, good, good[:len(good)/3],
		officegen.DOCX(officegen.Doc{Blocks: []officegen.Block{{Table: [][]string{{"", "h"}, {"a"}}}, {List: []string{""}}}}))
}

func FuzzParsePPTX(f *testing.F) {
	fuzzBinary(f, "f.pptx", parsePPTX, true,
		officegen.PPTX("T", []officegen.Slide{{Title: "A", Bullets: []string{"x"}, Notes: "n", Table: [][]string{{"a", "b"}, {"1", "2"}}}, {}}),
		[]byte("PK\x03\x04"))
}

func FuzzParseCSV(f *testing.F) {
	fuzzBinary(f, "f.csv", parseCSV, false,
		[]byte("\ufeffQuestion,Answer\nq?,\"a\nb\"\n"), []byte("a;b;c\n1;2\n\"unterminated"), []byte("问题,答案\n\xce\xca,\xb4\xf0\n"),
		[]byte("\xff\xfeq\x00,\x00a\x00"), []byte("x\ty\n"))
}
