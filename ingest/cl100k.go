package ingest

import (
	"math"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"
)

// A hand-written cl100k_base encoder. tiktoken-go splits text into
// pieces with cl100k's pre-tokenising regular expression,
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// run by a backtracking engine (regexp2) over the text converted to
// runes, then byte-pair encodes each piece. The regular expression was
// a quarter of all ingest CPU. pieces below walks the same alternatives
// by hand, in one pass over the string, and bytePairEncode is
// tiktoken-go's merge loop without its allocations: the tokens are the
// same, id for id (TestCL100KMatchesTiktoken, FuzzCL100K), so chunk
// boundaries and token counts do not move.
//
// Character classes are those regexp2 uses: \s is unicode.IsSpace, \p{L}
// and \p{N} Go's unicode tables, (?i) compares unicode.ToLower of the
// input character. tiktoken-go decodes the text to runes first, so each
// byte that is not valid UTF-8 is encoded as U+FFFD; so is it here.

// cl100k holds the byte-pair ranks.
type cl100k struct {
	ranks   map[string]int
	decoder []string // token bytes by rank
}

func newCL100K(ranks map[string]int) *cl100k {
	n := 0
	for _, r := range ranks {
		n = max(n, r+1)
	}
	dec := make([]string, n)
	for s, r := range ranks {
		dec[r] = s
	}
	return &cl100k{ranks: ranks, decoder: dec}
}

// encode appends the tokens of s to dst.
func (e *cl100k) encode(dst []int, s string) []int {
	if !utf8.ValidString(s) {
		s = replaceInvalid(s)
	}
	parts := partsPool.Get().(*[]part)
	for start := 0; start < len(s); {
		end := nextPiece(s, start)
		piece := s[start:end]
		start = end
		if id, ok := e.ranks[piece]; ok {
			dst = append(dst, id)
			continue
		}
		dst = e.bytePairEncode(dst, piece, parts)
	}
	partsPool.Put(parts)
	return dst
}

// count returns the number of tokens of s.
func (e *cl100k) count(s string) int {
	if !utf8.ValidString(s) {
		s = replaceInvalid(s)
	}
	parts := partsPool.Get().(*[]part)
	n := 0
	for start := 0; start < len(s); {
		end := nextPiece(s, start)
		piece := s[start:end]
		start = end
		if _, ok := e.ranks[piece]; ok {
			n++
			continue
		}
		n += len(e.merge(piece, parts)) - 1
	}
	partsPool.Put(parts)
	return n
}

// decode returns the bytes of token id ("" for an unknown id).
func (e *cl100k) decode(id int) string {
	if id < 0 || id >= len(e.decoder) {
		return ""
	}
	return e.decoder[id]
}

// replaceInvalid replaces every byte of s that is not part of a valid
// UTF-8 sequence with U+FFFD, as converting s to []rune does.
func replaceInvalid(s string) string {
	out := make([]byte, 0, len(s)+8)
	for _, r := range s {
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

// part is a boundary of tiktoken-go's merge loop: where a part starts in
// the piece and the rank of merging it with the next part.
type part struct{ start, rank int }

var partsPool = sync.Pool{New: func() any { p := make([]part, 0, 64); return &p }}

// merge is tiktoken-go's bytePairMerge: it returns the part boundaries
// of piece after merging (len(piece)+1 boundaries at first, one fewer
// per merge), reusing *buf.
func (e *cl100k) merge(piece string, buf *[]part) []part {
	parts := (*buf)[:0]
	for i := range len(piece) + 1 {
		parts = append(parts, part{i, math.MaxInt})
	}
	rank := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			if r, ok := e.ranks[piece[parts[i].start:parts[i+skip+2].start]]; ok {
				return r
			}
		}
		return -1
	}
	for i := 0; i < len(parts)-2; i++ {
		if r := rank(i, 0); r >= 0 {
			parts[i].rank = r
		}
	}
	for len(parts) > 1 {
		minRank, at := math.MaxInt, -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i].rank < minRank {
				minRank, at = parts[i].rank, i
			}
		}
		if minRank == math.MaxInt {
			break
		}
		if r := rank(at, 1); r >= 0 {
			parts[at].rank = r
		} else {
			parts[at].rank = math.MaxInt
		}
		if at > 0 {
			if r := rank(at-1, 1); r >= 0 {
				parts[at-1].rank = r
			} else {
				parts[at-1].rank = math.MaxInt
			}
		}
		parts = slices.Delete(parts, at+1, at+2)
	}
	*buf = parts
	return parts
}

// bytePairEncode appends the tokens of a piece that is not a token
// itself.
func (e *cl100k) bytePairEncode(dst []int, piece string, buf *[]part) []int {
	if len(piece) == 1 {
		return append(dst, e.ranks[piece])
	}
	parts := e.merge(piece, buf)
	for i := 0; i+1 < len(parts); i++ {
		dst = append(dst, e.ranks[piece[parts[i].start:parts[i+1].start]])
	}
	return dst
}

// Character classes of the pattern.
func isL(r rune) bool     { return unicode.IsLetter(r) }
func isN(r rune) bool     { return unicode.IsNumber(r) }
func isS(r rune) bool     { return unicode.IsSpace(r) }
func isCRLF(r rune) bool  { return r == '\r' || r == '\n' }
func isPunct(r rune) bool { return !isS(r) && !isL(r) && !isN(r) } // [^\s\p{L}\p{N}]

// nextPiece returns the end of the piece of s that starts at start
// (start < len(s), s valid UTF-8): the end of the first alternative of
// the pattern that matches there.
func nextPiece(s string, start int) int {
	r, n := utf8.DecodeRuneInString(s[start:])
	at := func(i int) (rune, int) {
		if i >= len(s) {
			return -1, 0
		}
		return utf8.DecodeRuneInString(s[i:])
	}

	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		r1, n1 := at(start + n)
		var want rune // the second letter of 're, 've, 'll
		switch unicode.ToLower(r1) {
		case 's', 't', 'm', 'd':
			return start + n + n1
		case 'r', 'v':
			want = 'e'
		case 'l':
			want = 'l'
		}
		if want != 0 {
			if r2, n2 := at(start + n + n1); n2 > 0 && unicode.ToLower(r2) == want {
				return start + n + n1 + n2
			}
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	letters := func(i int) int { // end of the run of letters at i
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isL(r) {
				break
			}
			i += n
		}
		return i
	}
	if isL(r) {
		return letters(start + n)
	}
	if !isCRLF(r) && !isN(r) {
		if r1, n1 := at(start + n); n1 > 0 && isL(r1) {
			return letters(start + n + n1)
		}
	}
	// \p{N}{1,3}
	if isN(r) {
		end := start + n
		for k := 1; k < 3; k++ {
			r1, n1 := at(end)
			if n1 == 0 || !isN(r1) {
				break
			}
			end += n1
		}
		return end
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	p := start
	if r == ' ' {
		p += n
	}
	if r1, n1 := at(p); n1 > 0 && isPunct(r1) {
		p += n1
		for {
			r1, n1 := at(p)
			if n1 == 0 || !isPunct(r1) {
				break
			}
			p += n1
		}
		for p < len(s) && (s[p] == '\r' || s[p] == '\n') {
			p++
		}
		return p
	}
	// Only whitespace is left (every other character matched above).
	// Find the run of whitespace and the end of its last CR or LF.
	end, lastNL := start, -1
	for end < len(s) {
		r1, n1 := utf8.DecodeRuneInString(s[end:])
		if !isS(r1) {
			break
		}
		end += n1
		if isCRLF(r1) {
			lastNL = end
		}
	}
	switch {
	case lastNL > 0: // \s*[\r\n]+
		return lastNL
	case end == len(s): // \s+(?!\S) at the end of the text
		return end
	case end-start > n: // \s+(?!\S): all but the last whitespace character
		_, last := utf8.DecodeLastRuneInString(s[:end])
		return end - last
	default: // \s+: one whitespace character before a non-space
		return end
	}
}
