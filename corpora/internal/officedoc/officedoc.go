// Package officedoc renders the JSON sources of the help centre's
// Word, PowerPoint, Excel and CSV documents (see cmd mkoffice).
package officedoc

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/quarry-kb/quarry/internal/officegen"
)

// Render turns the JSON source of a document named name (with its
// extension) into the document's bytes.
func Render(name string, src []byte) ([]byte, error) {
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(src))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	switch filepath.Ext(name) {
	case ".docx":
		var doc officegen.Doc
		if err := dec(&doc); err != nil {
			return nil, err
		}
		return officegen.DOCX(doc), nil
	case ".pptx":
		var deck struct {
			Title  string
			Slides []officegen.Slide
		}
		if err := dec(&deck); err != nil {
			return nil, err
		}
		return officegen.PPTX(deck.Title, deck.Slides), nil
	case ".xlsx":
		var book struct {
			Title  string
			Sheets []officegen.Sheet
		}
		if err := dec(&book); err != nil {
			return nil, err
		}
		return officegen.XLSX(book.Title, book.Sheets)
	case ".csv":
		var table struct {
			Encoding string
			Rows     [][]string
		}
		if err := dec(&table); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.UseCRLF = true // as Excel writes it
		if err := w.WriteAll(table.Rows); err != nil {
			return nil, err
		}
		switch table.Encoding {
		case "", "utf-8":
			return b.Bytes(), nil
		case "gbk":
			return simplifiedchinese.GBK.NewEncoder().Bytes(b.Bytes())
		}
		return nil, fmt.Errorf("unknown encoding %q", table.Encoding)
	}
	return nil, fmt.Errorf("unknown document type %s", filepath.Ext(name))
}
