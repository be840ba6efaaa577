// Package charngram is Quarry's default offline embedder: sparse TF
// vectors over hashed character n-grams, with no model weights to
// download. Stored with Space.IDF in a vector store (index/memvec or
// Qdrant with Modifier.Idf), a search scores passages by a TF-IDF dot
// product, which catches what word-level BM25 misses: inflections
// ("refundable" ~ "refund"), typos, compounds and partial words. On
// SciFact, fusing such a leg with BM25 was the largest offline gain
// measured (see shared/eval/FINDINGS.md).
//
// # The vectors (quarry-charngram-v1)
//
//  1. Text is normalised to Unicode NFKC (full-width forms become ASCII)
//     and lower-cased.
//  2. It is split into words: maximal runs of letters, digits and marks.
//     Runs of Chinese or Japanese characters (Han, kana) form words of
//     their own, since those scripts do not separate words by spaces.
//     Everything else only separates words.
//  3. An ordinary word is padded with a space on each side, so that
//     n-grams know the word's edges, and contributes every character
//     n-gram for n in [MinN, MaxN] (default 3..4); a padded word shorter
//     than MinN contributes itself. A CJK run contributes its character
//     unigrams and bigrams: longer n-grams of Han characters are too
//     sparse to match.
//  4. Each n-gram's UTF-8 bytes are hashed with 32-bit FNV-1a, folded to
//     Bits bits (the high bits XORed onto the low ones, as the FNV
//     authors advise) to give an index below Dim = 1 << Bits (default
//     2^18).
//  5. Each index is weighted by sublinear term frequency 1 + ln(tf), and
//     the vector is L2-normalised. Queries are weighted the same way; the
//     store multiplies in the IDF at query time.
//
// Every setting that changes the vectors is part of Space().Embedder, so
// a store built with other settings refuses them (quarry.ErrConflict).
package charngram

import (
	"context"
	"fmt"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Name is the embedder's name; Space().Embedder adds the settings.
const Name = "quarry-charngram-v1"

// Config sets the n-gram ranges and the hash space. The zero value means
// the defaults, which are the settings measured on SciFact.
type Config struct {
	// Bits sets the number of hash buckets, 1 << Bits. 0 means 18; 10 to
	// 30 are allowed.
	Bits int
	// MinN and MaxN bound the n-gram lengths, in characters, for words of
	// alphabetic scripts. 0 means 3 and 4.
	MinN, MaxN int
}

// Embedder embeds text as sparse character n-gram vectors. It holds no
// mutable state and is safe for concurrent use.
type Embedder struct {
	bits       uint
	mask       uint32
	minN, maxN int
	space      index.Space
}

// New returns an embedder for cfg.
func New(cfg Config) (*Embedder, error) {
	if cfg.Bits == 0 {
		cfg.Bits = 18
	}
	if cfg.MinN == 0 {
		cfg.MinN = 3
	}
	if cfg.MaxN == 0 {
		cfg.MaxN = max(4, cfg.MinN)
	}
	switch {
	case cfg.Bits < 10 || cfg.Bits > 30:
		return nil, quarry.Errorf(quarry.CodeInvalid, "charngram: Bits is %d, want 10 to 30", cfg.Bits)
	case cfg.MinN < 1 || cfg.MaxN < cfg.MinN || cfg.MaxN > 8:
		return nil, quarry.Errorf(quarry.CodeInvalid, "charngram: n-gram range %d..%d, want 1 <= MinN <= MaxN <= 8", cfg.MinN, cfg.MaxN)
	}
	e := &Embedder{
		bits: uint(cfg.Bits),
		mask: 1<<cfg.Bits - 1,
		minN: cfg.MinN,
		maxN: cfg.MaxN,
	}
	e.space = index.Space{
		Embedder: fmt.Sprintf("%s/b%d-n%d-%d-cjk1-2", Name, cfg.Bits, cfg.MinN, cfg.MaxN),
		Dim:      1 << cfg.Bits,
		Sparse:   true,
		IDF:      true,
	}
	return e, nil
}

// Space describes the vectors: sparse, IDF-weighted by the store.
func (e *Embedder) Space() index.Space { return e.space }

// EmbedPassages embeds passages, one vector per text. Empty texts get
// empty (but valid) vectors.
func (e *Embedder) EmbedPassages(ctx context.Context, texts []string) ([]index.Vector, error) {
	out := make([]index.Vector, len(texts))
	var buf []uint32
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctxErr(ctx); err != nil {
				return nil, err
			}
		}
		out[i], buf = e.embed(t, buf)
	}
	return out, nil
}

// EmbedQuery embeds a query the same way as a passage.
func (e *Embedder) EmbedQuery(ctx context.Context, text string) (index.Vector, error) {
	if err := ctxErr(ctx); err != nil {
		return index.Vector{}, err
	}
	v, _ := e.embed(text, nil)
	return v, nil
}

func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	code := quarry.CodeCanceled
	if err == context.DeadlineExceeded {
		code = quarry.CodeTimeout
	}
	return quarry.Errorf(code, "charngram: embed: %w", err)
}

// embed computes one vector, reusing buf for the n-gram hashes.
func (e *Embedder) embed(text string, buf []uint32) (index.Vector, []uint32) {
	grams := e.grams(text, buf[:0])
	slices.Sort(grams)
	n := 0
	for i := range grams {
		if i == 0 || grams[i] != grams[i-1] {
			n++
		}
	}
	v := index.Vector{Indices: make([]uint32, 0, n), Values: make([]float32, 0, n)}
	var sum float64
	for i := 0; i < len(grams); {
		j := i + 1
		for j < len(grams) && grams[j] == grams[i] {
			j++
		}
		w := 1 + math.Log(float64(j-i))
		v.Indices = append(v.Indices, grams[i])
		v.Values = append(v.Values, float32(w))
		sum += w * w
		i = j
	}
	if sum > 0 {
		inv := 1 / math.Sqrt(sum)
		for i, w := range v.Values {
			v.Values[i] = float32(float64(w) * inv)
		}
	}
	return v, grams
}

// Word classes while scanning.
const (
	other = iota
	alpha // letters, digits and marks of space-separated scripts
	cjk   // Han and kana
)

func class(r rune) int {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z' {
			return alpha
		}
		return other
	}
	switch {
	case r >= 0x3040 && r <= 0x30ff, unicode.Is(unicode.Han, r):
		return cjk
	case unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r):
		return alpha
	}
	return other
}

// grams appends the bucket of every n-gram of text to out.
func (e *Embedder) grams(text string, out []uint32) []uint32 {
	text = norm.NFKC.String(text)
	word := make([]rune, 0, 32)
	cls := other
	flush := func() {
		switch cls {
		case alpha:
			word = append(word, ' ')
			out = e.wordGrams(word, out)
		case cjk:
			out = e.cjkGrams(word, out)
		}
		word = word[:0]
	}
	for _, r := range text {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		} else if r >= utf8.RuneSelf {
			r = unicode.ToLower(r)
		}
		c := class(r)
		if c != cls {
			flush()
			cls = c
			if c == alpha {
				word = append(word, ' ')
			}
		}
		if c != other {
			word = append(word, r)
		}
	}
	flush()
	return out
}

// wordGrams adds the n-grams of a padded word.
func (e *Embedder) wordGrams(w []rune, out []uint32) []uint32 {
	if len(w) < e.minN {
		h := uint32(fnvOffset)
		for _, r := range w {
			h = fnvRune(h, r)
		}
		return append(out, e.fold(h))
	}
	for i := 0; i+e.minN <= len(w); i++ {
		h := uint32(fnvOffset)
		for k := 0; k < e.maxN && i+k < len(w); k++ {
			h = fnvRune(h, w[i+k])
			if k+1 >= e.minN {
				out = append(out, e.fold(h))
			}
		}
	}
	return out
}

// cjkGrams adds the unigrams and bigrams of a CJK run.
func (e *Embedder) cjkGrams(run []rune, out []uint32) []uint32 {
	for i, r := range run {
		h := fnvRune(fnvOffset, r)
		out = append(out, e.fold(h))
		if i+1 < len(run) {
			out = append(out, e.fold(fnvRune(h, run[i+1])))
		}
	}
	return out
}

// 32-bit FNV-1a.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// fnvRune continues an FNV-1a hash over the UTF-8 bytes of r.
func fnvRune(h uint32, r rune) uint32 {
	if r < utf8.RuneSelf {
		return (h ^ uint32(r)) * fnvPrime
	}
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	for _, c := range b[:n] {
		h = (h ^ uint32(c)) * fnvPrime
	}
	return h
}

// fold reduces a 32-bit hash to the embedder's bits.
func (e *Embedder) fold(h uint32) uint32 {
	return (h>>e.bits ^ h) & e.mask
}
