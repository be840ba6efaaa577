package ingest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig of JPEG
	_ "image/png"  // and of PNG
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

// OCR runs Tesseract (Debian: tesseract-ocr, tesseract-ocr-eng,
// tesseract-ocr-chi-sim) as a child process on images and on PDF pages
// without a text layer (rendered by pdftoppm, Debian: poppler-utils).
// It is on when the tesseract binary is on PATH, unless QUARRY_OCR=off;
// without it such files are skipped with a reason that says so.
const (
	ocrPageTimeout = 60 * time.Second
	ocrMemLimitKB  = 1 << 20 // 1 GiB of address space for one tesseract or pdftoppm run
	ocrMaxPages    = 100     // scanned pages OCRed per PDF
	ocrDPI         = 200
	ocrMinPixels   = 320 * 200 // smaller images are icons, not pages
	ocrMaxPixels   = 100 << 20
)

// OCRHeading is the heading of the text OCR found on an image; a PDF
// page's is "Page N (OCR)".
const OCRHeading = "Scanned text " + quarry.OCRHeadingSuffix

type ocrEngine struct {
	tesseract string // path, "" when OCR is off
	pdftoppm  string // path, "" when scanned PDF pages cannot be rendered
	langs     string // "eng+chi_sim"
	reason    string // why OCR is off
}

var (
	ocrOnce sync.Once
	ocrEng  ocrEngine
)

// ocr returns the OCR engine, looked up once per process.
func ocr() ocrEngine {
	ocrOnce.Do(func() { ocrEng = findOCR() })
	return ocrEng
}

func findOCR() ocrEngine {
	if v := strings.ToLower(os.Getenv("QUARRY_OCR")); v == "off" || v == "0" || v == "false" {
		return ocrEngine{reason: "OCR is off (QUARRY_OCR=off)"}
	}
	t, err := exec.LookPath("tesseract")
	if err != nil {
		return ocrEngine{reason: "OCR is off: tesseract not found (install tesseract-ocr, tesseract-ocr-eng, tesseract-ocr-chi-sim)"}
	}
	e := ocrEngine{tesseract: t, langs: "eng"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, t, "--list-langs").CombinedOutput(); err == nil {
		var have []string
		for _, l := range strings.Fields(string(out)) {
			if l == "eng" || l == "chi_sim" {
				have = append(have, l)
			}
		}
		slices.Sort(have) // chi_sim before eng is fine: both are tried
		if len(have) > 0 {
			e.langs = strings.Join(have, "+")
		}
	}
	if p, err := exec.LookPath("pdftoppm"); err == nil {
		e.pdftoppm = p
	}
	return e
}

// OCRStatus tells whether OCR is on, and if not why.
func OCRStatus() (on bool, detail string) {
	e := ocr()
	if e.tesseract == "" {
		return false, e.reason
	}
	return true, fmt.Sprintf("tesseract (%s) at %s", e.langs, e.tesseract)
}

// OCRLanguages returns the Tesseract languages OCR reads, as passed to
// tesseract -l ("chi_sim+eng"), or "" when OCR is off.
func OCRLanguages() string {
	if e := ocr(); e.tesseract != "" {
		return e.langs
	}
	return ""
}

func ocrHint() string {
	e := ocr()
	switch {
	case e.tesseract == "":
		return "; " + e.reason
	case e.pdftoppm == "":
		return "; OCR of PDF pages needs pdftoppm (install poppler-utils)"
	}
	return ""
}

// parseImage OCRs a PNG or JPEG image into one section.
func parseImage(data []byte) (Parsed, error) {
	e := ocr()
	if e.tesseract == "" {
		return Parsed{}, quarry.Errorf(quarry.CodeUnsupported, "image not ingested: %s", e.reason)
	}
	if !isPNG(data) && !isJPEG(data) {
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt image (not a PNG or JPEG file)")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	switch {
	case err != nil:
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "corrupt image (%v)", err)
	case cfg.Width*cfg.Height < ocrMinPixels:
		// Icons, logos and buttons: no text worth a page of OCR.
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "image too small to OCR (%d×%d pixels)", cfg.Width, cfg.Height)
	case int64(cfg.Width)*int64(cfg.Height) > ocrMaxPixels:
		return Parsed{}, quarry.Errorf(quarry.CodeInvalid, "image too large to OCR (%d×%d pixels)", cfg.Width, cfg.Height)
	}
	text, err := e.recognize(context.Background(), data)
	if err != nil {
		return Parsed{}, err
	}
	return Parsed{Sections: []Section{{Heading: []string{OCRHeading}, Text: text}}}, nil
}

func isPNG(b []byte) bool  { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }
func isJPEG(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }

// ocrPDFPages OCRs the given 1-based pages of a PDF, in order; a page
// that fails is left out, and an error is returned only when none could
// be read.
func ocrPDFPages(data []byte, pages []int) ([]Section, error) {
	e := ocr()
	if e.tesseract == "" || e.pdftoppm == "" || len(pages) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "quarry-ocr-")
	if err != nil {
		return nil, fmt.Errorf("ocr: %w", err)
	}
	defer os.RemoveAll(dir)
	pdfPath := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(pdfPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("ocr: %w", err)
	}
	var out []Section
	var firstErr error
	for _, n := range pages[:min(len(pages), ocrMaxPages)] {
		text, err := e.pdfPage(pdfPath, dir, n)
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("page %d: %w", n, err))
			continue
		}
		out = append(out, Section{Heading: []string{"Page " + strconv.Itoa(n) + " " + quarry.OCRHeadingSuffix}, Page: n, Text: text})
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (e ocrEngine) pdfPage(pdfPath, dir string, page int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ocrPageTimeout)
	defer cancel()
	prefix := filepath.Join(dir, "p"+strconv.Itoa(page))
	p := strconv.Itoa(page)
	if _, err := e.run(ctx, nil, e.pdftoppm, "-r", strconv.Itoa(ocrDPI), "-gray", "-png", "-singlefile", "-f", p, "-l", p, pdfPath, prefix); err != nil {
		return "", fmt.Errorf("render page: %w", err)
	}
	img, err := os.ReadFile(prefix + ".png")
	if err != nil {
		return "", fmt.Errorf("render page: %w", err)
	}
	os.Remove(prefix + ".png")
	return e.recognize(ctx, img)
}

// recognize runs tesseract on an image, text to stdout.
func (e ocrEngine) recognize(ctx context.Context, img []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, ocrPageTimeout)
	defer cancel()
	out, err := e.run(ctx, img, e.tesseract, "stdin", "stdout", "-l", e.langs, "--psm", "3")
	if err != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, "OCR failed: %v", err)
	}
	return cleanOCR(string(out)), nil
}

// run runs a tool under the OCR limits: a timeout, an address-space
// limit (ulimit -v, which only lowers what the parse worker allows) and one thread.
func (e ocrEngine) run(ctx context.Context, stdin []byte, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `ulimit -v ` + strconv.Itoa(ocrMemLimitKB) + ` 2>/dev/null; exec "$0" "$@"`, bin}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s did not finish within %s", filepath.Base(bin), ocrPageTimeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(bin), err, msg)
	}
	return stdout.Bytes(), nil
}

// cleanOCR drops the spaces Tesseract puts between Chinese characters
// and the form feed at the end of its output.
func cleanOCR(s string) string {
	s = strings.ReplaceAll(s, "\f", "\n")
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if r == ' ' && i > 0 && i+1 < len(rs) && isCJKOrPunct(rs[i-1]) && isCJKOrPunct(rs[i+1]) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isCJKOrPunct(r rune) bool {
	return isCJK(r) || r >= utf8.RuneSelf && unicode.IsPunct(r)
}
