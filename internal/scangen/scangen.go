// Package scangen draws lines of text as a scanner sees a printed page
// (black on white, a PNG) and wraps page images in a PDF without a text
// layer, reproducibly, byte for byte: for the OCR tests of the ingester
// and for the sample corpus's scans (corpora/internal/officedoc).
package scangen

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Fonts from Debian packages (scripts/test-deps.sh installs them).
const (
	LatinFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"           // fonts-dejavu-core
	HanFont   = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf" // fonts-droid-fallback
)

// fixedTime is the creation and modification date of every PDF.
var fixedTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// PNG draws lines in the font at fontPath (a TrueType or OpenType file),
// 36 pixels high, on a white page 1400 pixels wide.
func PNG(fontPath string, lines []string) ([]byte, error) {
	raw, err := os.ReadFile(fontPath)
	if err != nil {
		return nil, fmt.Errorf("scangen: %w", err)
	}
	f, err := opentype.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("scangen: %s: %w", fontPath, err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 36, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("scangen: %s: %w", fontPath, err)
	}
	defer face.Close()
	img := image.NewGray(image.Rect(0, 0, 1400, 120+len(lines)*64))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
	for i, l := range lines {
		d.Dot = fixed.P(60, 90+i*64)
		d.DrawString(l)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("scangen: %w", err)
	}
	return b.Bytes(), nil
}

// PDF puts each PNG on an A4 page of its own, with no text layer.
func PDF(pages ...[]byte) ([]byte, error) {
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetCreationDate(fixedTime)
	doc.SetModificationDate(fixedTime)
	for i, img := range pages {
		doc.AddPage()
		name := fmt.Sprintf("scan%d", i)
		opt := fpdf.ImageOptions{ImageType: "PNG"}
		doc.RegisterImageOptionsReader(name, opt, bytes.NewReader(img))
		doc.ImageOptions(name, 10, 10, 190, 0, false, opt, 0, "")
	}
	var b bytes.Buffer
	if err := doc.Output(&b); err != nil {
		return nil, fmt.Errorf("scangen: %w", err)
	}
	return b.Bytes(), nil
}
