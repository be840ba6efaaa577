// Package officedoc renders the JSON sources of the help centre's
// Word, PowerPoint, Excel and CSV documents and of its scans (a .png
// image, a .pdf of page images without a text layer; see cmd mkoffice).
package officedoc

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/quarry-kb/quarry/internal/officegen"
	"github.com/quarry-kb/quarry/internal/scangen"
)

// Scan is the source of a scanned document: its pages, each a list of
// lines drawn in the Font ("latin" or "han"); a .png has one page.
type Scan struct {
	Font  string
	Pages [][]string
}

// ScanFont returns the font file a scan source names.
func ScanFont(name string) (string, error) {
	switch name {
	case "latin":
		return scangen.LatinFont, nil
	case "han":
		return scangen.HanFont, nil
	}
	return "", fmt.Errorf("unknown font %q (latin or han)", name)
}

// IsScan reports whether a document name is that of a scan.
func IsScan(name string) bool {
	switch filepath.Ext(name) {
	case ".png", ".pdf":
		return true
	}
	return false
}

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
	case ".png", ".pdf":
		var scan Scan
		if err := dec(&scan); err != nil {
			return nil, err
		}
		fontPath, err := ScanFont(scan.Font)
		if err != nil {
			return nil, err
		}
		if len(scan.Pages) == 0 || filepath.Ext(name) == ".png" && len(scan.Pages) != 1 {
			return nil, fmt.Errorf("%d pages (a .png has one, a .pdf at least one)", len(scan.Pages))
		}
		var pages [][]byte
		for _, lines := range scan.Pages {
			img, err := scangen.PNG(fontPath, lines)
			if err != nil {
				return nil, err
			}
			pages = append(pages, img)
		}
		if filepath.Ext(name) == ".png" {
			return pages[0], nil
		}
		return scangen.PDF(pages...)
	}
	return nil, fmt.Errorf("unknown document type %s", filepath.Ext(name))
}
