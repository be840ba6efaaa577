package ingest

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/scangen"
)

// Fonts from Debian packages that scripts/test-deps.sh installs.
const (
	latinFont = scangen.LatinFont // fonts-dejavu-core
	hanFont   = scangen.HanFont   // fonts-droid-fallback
)

// needOCR skips the test when OCR or the fonts are missing, or fails it
// under CI=true, where scripts/test-deps.sh should have installed them.
func needOCR(t *testing.T, pdf bool, fonts ...string) {
	t.Helper()
	var missing []string
	e := ocr()
	if e.tesseract == "" {
		missing = append(missing, e.reason)
	} else if !strings.Contains(e.langs, "eng") || !strings.Contains(e.langs, "chi_sim") {
		missing = append(missing, "tesseract languages eng and chi_sim (have "+e.langs+")")
	}
	if pdf && e.pdftoppm == "" {
		missing = append(missing, "pdftoppm (poppler-utils)")
	}
	for _, f := range fonts {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, "font "+f)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "OCR prerequisites missing (scripts/test-deps.sh installs them): " + strings.Join(missing, "; ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// renderPage draws lines of text, black on white, as a scanner would
// see a printed page, and returns it as a PNG.
func renderPage(t *testing.T, fontPath string, lines []string) []byte {
	t.Helper()
	img, err := scangen.PNG(fontPath, lines)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// scannedPDF wraps page images in a PDF without a text layer.
func scannedPDF(t *testing.T, pages ...[]byte) []byte {
	t.Helper()
	pdf, err := scangen.PDF(pages...)
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

func squash(s string) string { return strings.Join(strings.Fields(s), "") }

func TestOCR(t *testing.T) {
	en := []string{"Kestrel Doorbell Pro", "Hold the reset button for 15 seconds.", "The light turns white when it is done."}
	zh := []string{"凯翎智能门锁保修说明", "门锁锁体保修三年，电子部件保修一年。"}
	cases := []struct {
		name  string
		path  string
		font  string
		pdf   bool
		lines []string
		want  []string // phrases found (white space ignored)
	}{
		{"english image", "scan.png", latinFont, false, en, []string{"Hold the reset button for 15 seconds."}},
		{"chinese image", "scan.png", hanFont, false, zh, []string{"门锁锁体保修三年"}},
		{"english scanned pdf", "scan.pdf", latinFont, true, en, []string{"Hold the reset button for 15 seconds."}},
		{"chinese scanned pdf", "scan.pdf", hanFont, true, zh, []string{"电子部件保修一年"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			needOCR(t, c.pdf, c.font)
			data := renderPage(t, c.font, c.lines)
			if c.pdf {
				data = scannedPDF(t, data)
			}
			p, err := ParseFile(c.path, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Sections) != 1 {
				t.Fatalf("%d sections:\n%s", len(p.Sections), allText(p))
			}
			s := p.Sections[0]
			h := strings.Join(s.Heading, " > ")
			if !strings.HasSuffix(h, quarry.OCRHeadingSuffix) {
				t.Errorf("heading %q is not marked as OCR", h)
			}
			if c.pdf && s.Page != 1 {
				t.Errorf("page %d, want 1", s.Page)
			}
			for _, w := range c.want {
				if !strings.Contains(squash(s.Text), squash(w)) {
					t.Errorf("OCR text lacks %q:\n%s", w, s.Text)
				}
			}
		})
	}
}

func TestOCRRefusesIcons(t *testing.T) {
	needOCR(t, false)
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"icon.png": b.Bytes(), "broken.jpg": {0xFF, 0xD8, 0xFF, 0xE0, 1, 2}} {
		_, err := ParseFile(name, data)
		if err == nil || quarry.ErrorCode(err) != quarry.CodeInvalid {
			t.Errorf("%s: error %v, want a skip", name, err)
		}
	}
}

func TestOCROffReason(t *testing.T) {
	saved := ocr() // the lookup is done: the value below stays
	ocrEng = ocrEngine{reason: "OCR is off: tesseract not found (install tesseract-ocr)"}
	defer func() { ocrEng = saved }()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 800, 600))); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile("scan.png", b.Bytes())
	if err == nil || !strings.Contains(err.Error(), "tesseract not found") || quarry.ErrorCode(err) != quarry.CodeUnsupported {
		t.Errorf("error %v, want a skip that names the missing tesseract", err)
	}
}
