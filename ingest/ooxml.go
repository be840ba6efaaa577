package ingest

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/quarry-kb/quarry"
)

// Limits on the zip container of an Office Open XML file (.docx, .pptx,
// .xlsx). A real document stays far below them; a zip bomb does not.
const (
	maxZipEntries    = 10000    // files in the archive
	maxZipEntrySize  = 64 << 20 // uncompressed bytes of one part
	maxZipTotalSize  = 256 << 20
	maxZipRatio      = 200 // uncompressed / compressed bytes, for a part over zipRatioFloor
	zipRatioFloor    = 1 << 20
	maxOOXMLXMLDepth = 256
)

// ooxml is an opened OOXML package whose parts are read under the
// limits above.
type ooxml struct {
	zr    *zip.Reader
	parts map[string]*zip.File
	read  int64 // uncompressed bytes read so far
}

// openOOXML opens an OOXML zip and checks its directory against the
// limits; kind ("Word", "PowerPoint", "Excel") names the format in
// errors. The declared sizes are checked here, the real ones as parts
// are read (a zip may lie about them).
func openOOXML(data []byte, kind string) (*ooxml, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "corrupt %s file (not a zip archive: %v)", kind, err)
	}
	if len(zr.File) > maxZipEntries {
		return nil, quarry.Errorf(quarry.CodeInvalid, "refused %s file: %d zip entries (the limit is %d)", kind, len(zr.File), maxZipEntries)
	}
	z := &ooxml{zr: zr, parts: make(map[string]*zip.File, len(zr.File))}
	var total uint64
	for _, f := range zr.File {
		if err := checkZipEntry(f); err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "refused %s file (zip bomb?): %v", kind, err)
		}
		total += f.UncompressedSize64
		if total > maxZipTotalSize {
			return nil, quarry.Errorf(quarry.CodeInvalid, "refused %s file (zip bomb?): more than %s uncompressed", kind, byteSize(maxZipTotalSize))
		}
		z.parts[strings.TrimPrefix(f.Name, "/")] = f
	}
	if _, ok := z.parts["[Content_Types].xml"]; !ok {
		return nil, quarry.Errorf(quarry.CodeInvalid, "corrupt %s file (no [Content_Types].xml: not an Office document)", kind)
	}
	return z, nil
}

func checkZipEntry(f *zip.File) error {
	switch {
	case f.UncompressedSize64 > maxZipEntrySize:
		return fmt.Errorf("part %s is %s uncompressed (the limit is %s)", f.Name, byteSize(int64(min(f.UncompressedSize64, 1<<62))), byteSize(maxZipEntrySize))
	case f.UncompressedSize64 > zipRatioFloor && f.UncompressedSize64 > uint64(maxZipRatio)*max(f.CompressedSize64, 1):
		return fmt.Errorf("part %s compresses %d:1 (the limit is %d:1)", f.Name, f.UncompressedSize64/max(f.CompressedSize64, 1), maxZipRatio)
	}
	return nil
}

// has reports whether the package holds a part.
func (z *ooxml) has(name string) bool { _, ok := z.parts[name]; return ok }

// open returns a reader of a part that fails once the part passes its
// declared size or the limits; a missing part is fs.ErrNotExist-like
// errMissingPart.
func (z *ooxml) open(name string) (io.ReadCloser, error) {
	f, ok := z.parts[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, errMissingPart)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	limit := min(int64(f.UncompressedSize64), maxZipEntrySize, maxZipTotalSize-z.read)
	return &limitedPart{rc: rc, name: name, left: limit, z: z}, nil
}

var errMissingPart = errors.New("missing part")

type limitedPart struct {
	rc   io.ReadCloser
	name string
	left int64
	z    *ooxml
}

func (p *limitedPart) Read(b []byte) (int, error) {
	if p.left <= 0 {
		// One more byte tells a part that is exactly its size from one
		// that lied about it.
		var one [1]byte
		if n, _ := p.rc.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("part %s is larger than declared or than the limits (zip bomb?)", p.name)
		}
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.rc.Read(b)
	p.left -= int64(n)
	p.z.read += int64(n)
	return n, err
}

func (p *limitedPart) Close() error { return p.rc.Close() }

// readPart reads a whole part.
func (z *ooxml) readPart(name string) ([]byte, error) {
	rc, err := z.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// decoder returns an XML token decoder of a part.
func (z *ooxml) decoder(name string) (*xml.Decoder, io.Closer, error) {
	rc, err := z.open(name)
	if err != nil {
		return nil, nil, err
	}
	d := xml.NewDecoder(rc)
	d.Strict = false
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return in, nil
		}
		return nil, fmt.Errorf("unsupported XML encoding %q", label)
	}
	return d, rc, nil
}

// rels reads the relationships of a part: id → target path inside the
// package (resolved against the part's folder).
func (z *ooxml) rels(part string) map[string]string {
	dir, base := path.Split(part)
	relsName := dir + "_rels/" + base + ".rels"
	out := map[string]string{}
	data, err := z.readPart(relsName)
	if err != nil {
		return out
	}
	var doc struct {
		Rels []struct {
			ID         string `xml:"Id,attr"`
			Target     string `xml:"Target,attr"`
			TargetMode string `xml:"TargetMode,attr"`
		} `xml:"Relationship"`
	}
	if xml.Unmarshal(data, &doc) != nil {
		return out
	}
	for _, r := range doc.Rels {
		if r.TargetMode == "External" {
			continue
		}
		t := r.Target
		if strings.HasPrefix(t, "/") {
			t = strings.TrimPrefix(t, "/")
		} else {
			t = path.Clean(path.Join(dir, t))
		}
		out[r.ID] = t
	}
	return out
}

// corePartTitle returns the dc:title of docProps/core.xml, if any.
func (z *ooxml) coreTitle() string {
	data, err := z.readPart("docProps/core.xml")
	if err != nil {
		return ""
	}
	var core struct {
		Title string `xml:"title"`
	}
	if xml.Unmarshal(data, &core) != nil {
		return ""
	}
	return strings.TrimSpace(core.Title)
}

// xmlErr turns an error met while reading a part into a skip reason.
func xmlErr(kind, part string, err error) error {
	var qe *quarry.Error
	if errors.As(err, &qe) {
		return err
	}
	return quarry.Errorf(quarry.CodeInvalid, "corrupt %s file (%s: %v)", kind, part, err)
}

// attrVal returns the value of the attribute with a local name.
func attrVal(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
