package ingest

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"testing"

	"github.com/quarry-kb/quarry/internal/officegen"
)

// Ingest speed per format: parse (and, for OCR, recognise) generated
// files of a known size and report pages, slides or rows per second.
// Run: go test ./ingest -run '^$' -bench 'Parse(DOCX|PPTX|XLSX|CSV)|OCR' -benchtime 3x

// benchDocx is a Word document of about n pages (a page: a heading,
// three paragraphs, a five-item list and a four-row table).
func benchDocx(pages int) []byte {
	var blocks []officegen.Block
	for i := range pages {
		blocks = append(blocks,
			officegen.Block{Heading: fmt.Sprintf("Section %d", i), Level: 1 + i%3},
			officegen.Block{Para: "The Kestrel Hub H2 connects Zigbee and Thread devices to your home network and keeps automations running when the internet is down.", Footnote: "Thread 1.3."},
			officegen.Block{Para: "Place the hub in the middle of your home, away from metal cabinets and microwave ovens, and at least one metre from your Wi-Fi router."},
			officegen.Block{Para: "If the light blinks amber, the hub lost its connection; it retries every 30 seconds and reconnects without your help in most cases."},
			officegen.Block{List: []string{"Open the app.", "Tap Add device.", "Scan the code.", "Name the hub.", "Choose a room."}},
			officegen.Block{Table: [][]string{{"Model", "Radio", "Range"}, {"Hub H2", "Zigbee, Thread", "30 m"}, {"Hub H1", "Zigbee", "20 m"}, {"Bridge B1", "Wi-Fi", "15 m"}}, HeaderRow: true},
		)
	}
	return officegen.DOCX(officegen.Doc{Title: "Bench", Blocks: blocks})
}

func benchRows(n int) [][]string {
	rows := [][]string{{"Question", "Similar questions", "Answer"}}
	for i := range n {
		rows = append(rows, []string{
			fmt.Sprintf("How do I reset device number %d?", i),
			fmt.Sprintf("Reset device %d\nFactory reset for device %d", i, i),
			"Hold the reset button for 15 seconds until the light turns white. The device restarts and keeps its Wi-Fi settings.",
		})
	}
	return rows
}

func benchParse(b *testing.B, name string, data []byte, unit string, units int) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseFile(name, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(units)*float64(b.N)/b.Elapsed().Seconds(), unit+"/s")
}

func BenchmarkParseDOCX(b *testing.B) {
	benchParse(b, "bench.docx", benchDocx(200), "pages", 200)
}

func BenchmarkParsePPTX(b *testing.B) {
	var slides []officegen.Slide
	for i := range 200 {
		slides = append(slides, officegen.Slide{
			Title:   fmt.Sprintf("Slide %d", i),
			Bullets: []string{"Kestrel pays for the fixtures.", "The partner pays for installation.", "Claims are due within 60 days."},
			Table:   [][]string{{"Kit", "Price"}, {"Starter", "$149"}, {"Spring", "$349"}},
			Notes:   "Partner orders for the spring display kit close on March 14.",
		})
	}
	benchParse(b, "bench.pptx", officegen.PPTX("Bench", slides), "slides", 200)
}

func BenchmarkParseXLSX(b *testing.B) {
	data, err := officegen.XLSX("Bench", []officegen.Sheet{{Name: "FAQ", Rows: benchRows(5000)}})
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, "bench.xlsx", data, "rows", 5000)
}

func BenchmarkParseCSV(b *testing.B) {
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(benchRows(5000)); err != nil {
		b.Fatal(err)
	}
	benchParse(b, "bench.csv", buf.Bytes(), "rows", 5000)
}

// BenchmarkOCR recognises one rendered English page (an image, and the
// same page as a scanned PDF); it needs tesseract, pdftoppm and fonts.
func BenchmarkOCR(b *testing.B) {
	t := &testing.T{}
	e := ocr()
	if e.tesseract == "" || e.pdftoppm == "" {
		b.Skip("OCR tools missing: " + e.reason)
	}
	lines := []string{"Kestrel Doorbell Pro", "Hold the reset button for 15 seconds.", "The light turns white when it is done.",
		"Refunds reach the original payment method within 5 business days."}
	img := renderPage(t, latinFont, lines)
	b.Run("png", func(b *testing.B) { benchParse(b, "scan.png", img, "pages", 1) })
	b.Run("scanned-pdf", func(b *testing.B) { benchParse(b, "scan.pdf", scannedPDF(t, img), "pages", 1) })
}
