package ingest

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/quarry-kb/quarry"
)

// Chunk size defaults and limits, in cl100k_base tokens.
const (
	// DefaultChunkSize was chosen on SciFact's train split (BENCHMARKS.md):
	// 512 beat 256 by +0.007 nDCG@10 (hybrid), and the sample help centre
	// ranked the same with either (its sections are mostly shorter).
	DefaultChunkSize    = 512
	DefaultChunkOverlap = 32
	MinChunkSize        = 8
	MaxChunkSize        = 8192
)

// ChunkConfig sets chunk sizes in tokens. The zero value means the
// defaults: 512-token chunks overlapping by 32 tokens.
type ChunkConfig struct {
	Size    int // maximum tokens per chunk; 0 means 512
	Overlap int // tokens of trailing whole sentences repeated at the start of the next chunk; 0 means 32, negative means none
	// Fold is the most tokens a heading's run of subsections may hold to
	// be folded into one section, and so one chunk, under that heading
	// (see foldSections); 0 means Size (whatever fits in one chunk),
	// negative means never fold. It is capped at Size.
	Fold int
}

func (c ChunkConfig) withDefaults() ChunkConfig {
	if c.Size == 0 {
		c.Size = DefaultChunkSize
	}
	switch {
	case c.Overlap == 0:
		c.Overlap = min(DefaultChunkOverlap, c.Size/4)
	case c.Overlap < 0:
		c.Overlap = 0
	}
	switch {
	case c.Fold == 0:
		c.Fold = c.Size
	case c.Fold < 0:
		c.Fold = 0
	default:
		c.Fold = min(c.Fold, c.Size)
	}
	return c
}

// Validate reports a configuration that cannot be used.
func (c ChunkConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Size < MinChunkSize || c.Size > MaxChunkSize:
		return quarry.Errorf(quarry.CodeInvalid, "chunk size %d tokens is out of range [%d, %d]", c.Size, MinChunkSize, MaxChunkSize)
	case c.Overlap >= c.Size/2:
		return quarry.Errorf(quarry.CodeInvalid, "chunk overlap %d tokens must be less than half the chunk size %d", c.Overlap, c.Size)
	}
	return nil
}

// Chunker cuts parsed documents into token-sized chunks. It is safe for
// concurrent use.
//
// Chunks never span a section (a heading or a PDF page). Inside a
// section a chunk ends, by preference, at a paragraph end, else at a
// sentence end, and only for a sentence longer than a whole chunk at a
// token boundary (moved back to a space or at least a character
// boundary). Each chunk after the first of a section starts with the
// trailing whole sentences of the one before, up to Overlap tokens.
type Chunker struct {
	cfg ChunkConfig
	tok *Tokenizer
}

// NewChunker returns a chunker for cfg (zero fields take defaults).
func NewChunker(cfg ChunkConfig) (*Chunker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tok, err := LoadTokenizer()
	if err != nil {
		return nil, err
	}
	return &Chunker{cfg: cfg.withDefaults(), tok: tok}, nil
}

// Config returns the configuration in use, defaults filled in.
func (c *Chunker) Config() ChunkConfig { return c.cfg }

// CountTokens returns the number of cl100k_base tokens in s.
func (c *Chunker) CountTokens(s string) int { return c.tok.Count(s) }

// Chunk cuts a parsed document into chunks. doc supplies the ids, path,
// title and language every chunk records; ordinals run from 0 across the
// whole document.
func (c *Chunker) Chunk(doc quarry.Document, p Parsed) []quarry.Chunk {
	var out []quarry.Chunk
	for _, sec := range c.foldSections(p.Sections, c.cfg.Fold) {
		text := normalize(sec.Text)
		if text == "" {
			continue
		}
		heading := joinHeading(sec.Heading)
		for _, cs := range c.split(text) {
			t := text[cs.start:cs.end]
			lang, ok := detectLang(t)
			if !ok {
				lang = doc.Lang
			}
			out = append(out, quarry.Chunk{
				ID:      ChunkID(doc.ID, len(out)),
				DocID:   doc.ID,
				Path:    doc.Path,
				Title:   doc.Title,
				Heading: heading,
				Page:    sec.Page,
				Ordinal: len(out),
				Text:    t,
				Tokens:  cs.tokens,
				Lang:    lang,
			})
		}
	}
	return out
}

// ChunkID returns the id of a document's chunk: DocID + "#" + ordinal.
func ChunkID(docID string, ordinal int) string {
	return docID + "#" + strconv.Itoa(ordinal)
}

func joinHeading(h []string) string {
	parts := make([]string, 0, len(h))
	for _, s := range h {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " > ")
}

// detectLang is DetectLang that also reports whether s had any letters
// to judge by.
func detectLang(s string) (string, bool) {
	if strings.IndexFunc(s, unicode.IsLetter) < 0 {
		return "", false
	}
	return DetectLang(s), true
}

// unit is the smallest piece chunks are built from: a sentence (or a
// line), or a token-sized piece of a sentence too long for one chunk.
type unit struct {
	start, end int
	tokens     int
	sentEnd    bool // the unit ends a sentence
	paraEnd    bool // the unit ends a paragraph
}

// chunkSpan is one chunk of a normalised section text.
type chunkSpan struct {
	start, end int // text[start:end] is the chunk, already trimmed
	tokens     int // exact token count of the chunk text
	fresh      int // index into units of the first unit not repeated from the previous chunk
}

// units splits normalised text into paragraphs, sentences and, for
// sentences over the chunk size, token pieces.
func (c *Chunker) units(text string) []unit {
	var us []unit
	for p := 0; p < len(text); {
		e := strings.Index(text[p:], "\n\n")
		if e < 0 {
			e = len(text)
		} else {
			e += p
		}
		sents := sentenceSpans(text, p, e)
		for k, sp := range sents {
			s := text[sp.start:sp.end]
			n := c.tok.Count(s)
			last := k == len(sents)-1
			if n <= c.cfg.Size {
				us = append(us, unit{sp.start, sp.end, n, true, last})
				continue
			}
			from := 0
			cuts := append(c.tok.cuts(s, c.cfg.Size), len(s))
			for i, to := range cuts {
				piece := strings.TrimSpace(s[from:to])
				if piece != "" {
					off := sp.start + from + strings.Index(s[from:to], piece)
					end := i == len(cuts)-1
					us = append(us, unit{off, off + len(piece), c.tok.Count(piece), end, end && last})
				}
				from = to
			}
		}
		p = e + 2
	}
	return us
}

// split cuts one normalised section text into chunks.
func (c *Chunker) split(text string) []chunkSpan {
	us := c.units(text)
	size := c.cfg.Size
	var out []chunkSpan
	for i, fresh := 0, 0; fresh < len(us); {
		// Take units greedily while the estimate (the sum of the units'
		// tokens) fits.
		j, sum := i, 0
		for j < len(us) && sum+us[j].tokens <= size {
			sum += us[j].tokens
			j++
		}
		if j <= fresh { // a unit that cannot be split further (one huge character)
			j = fresh + 1
		}
		if j < len(us) {
			j = c.breakAt(us, i, fresh, j)
		}
		// The estimate is close but not exact (tokens can merge across
		// unit boundaries); give back units until the real count fits.
		tokens := c.tok.Count(text[us[i].start:us[j-1].end])
		for tokens > size && (j-1 > fresh || i < fresh) {
			if j-1 > fresh {
				j--
			} else { // give up overlap before new text
				i++
			}
			tokens = c.tok.Count(text[us[i].start:us[j-1].end])
		}
		out = append(out, chunkSpan{us[i].start, us[j-1].end, tokens, fresh})
		if j >= len(us) {
			break
		}
		i, fresh = c.overlapStart(us, i, j), j
	}
	return c.mergeTail(text, us, out)
}

// breakAt chooses where a full chunk us[i:j] ends (exclusive), given
// that us[j] did not fit: at the last paragraph end, else at the last
// sentence end, provided the chunk is then at least half full; else at j.
// The chunk always keeps at least one unit from fresh on.
func (c *Chunker) breakAt(us []unit, i, fresh, j int) int {
	half := c.cfg.Size / 2
	para, sent, acc := -1, -1, 0
	for k := i; k < j; k++ {
		acc += us[k].tokens
		if k < fresh || acc < half {
			continue
		}
		if us[k].paraEnd {
			para = k + 1
		}
		if us[k].sentEnd {
			sent = k + 1
		}
	}
	switch {
	case para > 0:
		return para
	case sent > 0:
		return sent
	}
	return j
}

// overlapStart returns the first unit of the chunk after us[i:j]: the
// start of the longest run of trailing whole sentences of us[i:j] that
// fits in the overlap and leaves room for us[j].
func (c *Chunker) overlapStart(us []unit, i, j int) int {
	best, acc := j, 0
	for k := j - 1; k > i; k-- {
		acc += us[k].tokens
		if acc > c.cfg.Overlap || acc+us[j].tokens > c.cfg.Size {
			break
		}
		if us[k-1].sentEnd { // us[k] starts a sentence
			best = k
		}
	}
	return best
}

// mergeTail folds a tiny last chunk into the one before it when both fit
// in one chunk, so a section does not end with a scrap.
func (c *Chunker) mergeTail(text string, us []unit, out []chunkSpan) []chunkSpan {
	if len(out) < 2 {
		return out
	}
	last, prev := out[len(out)-1], out[len(out)-2]
	fresh := 0
	for _, u := range us[last.fresh:] {
		fresh += u.tokens
	}
	if fresh > c.cfg.Size/8 {
		return out
	}
	n := c.tok.Count(text[prev.start:last.end])
	if n > c.cfg.Size {
		return out
	}
	prev.end, prev.tokens = last.end, n
	out[len(out)-2] = prev
	return out[:len(out)-1]
}
