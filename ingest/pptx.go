package ingest

import (
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// parsePPTX reads a PowerPoint deck: one section per slide, in the
// order of the presentation, under the slide's title (or "Slide N"),
// with Page the slide number; the text of its shapes in reading order
// of the file, tables as rows that carry their headers, and the
// speaker notes last. Slide masters, layouts and hidden-slide flags are
// not read (a hidden slide is ingested).
func parsePPTX(data []byte) (Parsed, error) {
	const kind = "PowerPoint"
	z, err := openOOXML(data, kind)
	if err != nil {
		return Parsed{}, err
	}
	slides := pptxSlides(z)
	if len(slides) == 0 {
		return Parsed{}, xmlErr(kind, "ppt/presentation.xml", fmt.Errorf("no slides"))
	}
	var b sectionBuilder
	p := Parsed{Title: z.coreTitle()}
	for i, sp := range slides {
		shapes, err := readPPTXShapes(z, sp)
		if err != nil {
			return Parsed{}, xmlErr(kind, sp, err)
		}
		title := ""
		for _, s := range shapes {
			if s.title && title == "" {
				title = strings.Join(s.paras, " ")
			}
		}
		if p.Title == "" && i == 0 {
			p.Title = title
		}
		b.flushSection()
		b.page = i + 1
		if title == "" {
			title = "Slide " + strconv.Itoa(i+1)
		}
		b.heading = []string{title}
		for _, s := range shapes {
			if s.title {
				continue
			}
			writePPTXShape(&b, s)
		}
		for _, rel := range z.rels(sp) {
			if !strings.Contains(rel, "notesSlide") {
				continue
			}
			notes, err := readPPTXShapes(z, rel)
			if err != nil {
				return Parsed{}, xmlErr(kind, rel, err)
			}
			first := true
			for _, s := range notes {
				if s.ph != "body" && s.ph != "" {
					continue // slide image, number, header, footer, date
				}
				if first && len(s.paras) > 0 {
					s.paras[0] = "Speaker notes: " + s.paras[0]
					first = false
				}
				writePPTXShape(&b, s)
			}
		}
	}
	p.Sections = b.sections()
	return p, nil
}

func writePPTXShape(b *sectionBuilder, s pptxShape) {
	if s.table != nil {
		var header []string
		rows := s.table
		if len(rows) > 1 && !slicesHasEmpty(rows[0]) {
			header, rows = rows[0], rows[1:]
		}
		writeTable(b, header, rows)
		return
	}
	b.endParagraph()
	for _, para := range s.paras {
		b.write(para)
		b.lineBreak()
	}
	b.endParagraph()
}

// pptxSlides lists the slide parts in presentation order: the order of
// sldIdLst, else the slide file numbers.
func pptxSlides(z *ooxml) []string {
	const pres = "ppt/presentation.xml"
	rels := z.rels(pres)
	var out []string
	if data, err := z.readPart(pres); err == nil {
		var doc struct {
			IDs []struct {
				RID string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
			} `xml:"sldIdLst>sldId"`
		}
		if xml.Unmarshal(data, &doc) == nil {
			for _, id := range doc.IDs {
				if t, ok := rels[id.RID]; ok && z.has(t) {
					out = append(out, t)
				}
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for name := range z.parts {
		if dir, base := path.Split(name); dir == "ppt/slides/" && strings.HasPrefix(base, "slide") && strings.HasSuffix(base, ".xml") {
			out = append(out, name)
		}
	}
	num := func(s string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path.Base(s), "slide"), ".xml"))
		return n
	}
	slices.SortFunc(out, func(a, b string) int { return num(a) - num(b) })
	return out
}

// pptxShape is the text of one shape: its paragraphs, or a table.
type pptxShape struct {
	ph    string // placeholder type ("title", "body", "sldNum", ...); "" for none
	title bool
	paras []string
	table [][]string
}

// readPPTXShapes reads the shapes of a slide or notes part.
func readPPTXShapes(z *ooxml, part string) ([]pptxShape, error) {
	d, c, err := z.decoder(part)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []pptxShape
	var cur *pptxShape
	var para strings.Builder
	var row []string
	var cell strings.Builder
	inPara, inCell := false, false
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxOOXMLXMLDepth {
				return nil, errTooDeep
			}
			switch t.Name.Local {
			case "sp", "graphicFrame":
				if cur == nil {
					out = append(out, pptxShape{})
					cur = &out[len(out)-1]
				}
			case "ph":
				if cur != nil {
					cur.ph = attrVal(t, "type")
					if cur.ph == "" && attrVal(t, "idx") != "" {
						cur.ph = "body"
					}
					cur.title = cur.ph == "title" || cur.ph == "ctrTitle"
				}
			case "tr":
				row = nil
			case "tc":
				inCell = true
				cell.Reset()
			case "p":
				inPara = true
				para.Reset()
			case "t":
				var s string
				if err := d.DecodeElement(&s, &t); err != nil {
					return nil, err
				}
				depth--
				if inPara {
					para.WriteString(s)
				}
			case "br":
				if inPara {
					para.WriteByte(' ')
				}
			case "Fallback":
				if err := d.Skip(); err != nil {
					return nil, err
				}
				depth--
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "p":
				inPara = false
				s := strings.TrimSpace(para.String())
				switch {
				case s == "" || cur == nil:
				case inCell:
					if cell.Len() > 0 {
						cell.WriteByte(' ')
					}
					cell.WriteString(s)
				default:
					cur.paras = append(cur.paras, s)
				}
			case "tc":
				inCell = false
				row = append(row, cell.String())
			case "tr":
				if cur != nil {
					cur.table = append(cur.table, row)
				}
			case "sp", "graphicFrame":
				cur = nil
			}
		}
	}
}
