// Package hostile builds files that attack a document parser, for tests:
// PDFs that loop, bomb or lie about their structure, and junk. Each is
// small on disk; what it does to a parser is in its comment.
package hostile

import (
	"bytes"
	"compress/flate"
	"fmt"
	"hash/adler32"
	"strings"
)

// PDF writes objects 1..n (1 is the catalog) with a correct xref table.
func PDF(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// onePage is a one-page PDF around a content stream object.
func onePage(stream string) []byte {
	return PDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		stream,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	)
}

// TextPDF is a sound one-page PDF showing lines of text.
func TextPDF(lines ...string) []byte {
	var c strings.Builder
	c.WriteString("BT /F1 12 Tf 14 TL 72 720 Td\n")
	for _, l := range lines {
		fmt.Fprintf(&c, "(%s) Tj T*\n", strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(l))
	}
	c.WriteString("ET")
	return onePage(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
}

// UnterminatedHex is a PDF whose content stream ends inside a hex string
// ("<4142"): ledongthuc/pdf's lexer loops on it forever, without reading
// or allocating.
func UnterminatedHex() []byte {
	content := "BT /F1 12 Tf 72 700 Td (x) Tj <4142"
	return onePage(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
}

// Bomb is a PDF whose Flate-compressed content stream inflates to about
// n bytes of text-showing operators: small on disk, it makes a parser
// that keeps every glyph allocate gigabytes (n = 256 MiB: a file of
// about 300 KB). The stream is one compressed block repeated, so that
// building it costs little.
func Bomb(n int) []byte {
	prefix := []byte("BT /F1 12 Tf 72 700 Td\n")
	op := []byte(strings.Repeat("(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) Tj ", 1<<10))
	suffix := []byte("\nET")
	block := func(b []byte) []byte { // a self-contained, non-final deflate block run
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		fw.Write(b)
		fw.Flush()
		return buf.Bytes()
	}
	sum := adler32.New()
	var z bytes.Buffer
	z.Write([]byte{0x78, 0xDA})
	z.Write(block(prefix))
	sum.Write(prefix)
	opBlock := block(op)
	for written := 0; written < n; written += len(op) {
		z.Write(opBlock)
		sum.Write(op)
	}
	z.Write(block(suffix))
	sum.Write(suffix)
	z.Write([]byte{0x03, 0x00}) // an empty final block
	z.Write(sum.Sum(nil))
	return onePage(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.String()))
}

// HugePageCount is a PDF whose page tree claims a billion pages and
// lists one kid 5,000 times.
func HugePageCount() []byte {
	kids := strings.Repeat("3 0 R ", 5_000)
	return PDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids ["+kids+"] /Count 1000000000 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
		"<< /Length 0 >>\nstream\n\nendstream",
	)
}

// Truncated is the first half of a sound PDF.
func Truncated() []byte {
	good := TextPDF("This PDF was cut in half.", "The rest is missing.")
	return good[:len(good)/2]
}

// Junk is bytes that are no PDF at all, behind a PDF header.
func Junk() []byte {
	b := []byte("%PDF-1.7\n")
	x := uint32(2463534242)
	for range 64 << 10 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b = append(b, byte(x))
	}
	return b
}

// Encrypted is a PDF with an /Encrypt dictionary that no password opens
// (standard security handler, revision 3, junk keys).
func Encrypted() []byte {
	content := "BT /F1 12 Tf 72 700 Td (secret) Tj ET"
	var b bytes.Buffer
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Filter /Standard /V 2 /R 3 /Length 128 /P -4 /O <" + strings.Repeat("11", 32) + "> /U <" + strings.Repeat("22", 32) + "> >>",
	}
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Encrypt 5 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n",
		len(objs)+1, strings.Repeat("ab", 16), strings.Repeat("ab", 16), xref)
	return b.Bytes()
}
