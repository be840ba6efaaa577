package ingest

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/quarry-kb/quarry"
)

// Encoding is the tiktoken encoding chunk sizes are measured in.
const Encoding = "cl100k_base"

// Tokenizer counts and splits text in cl100k_base tokens. It is safe for
// concurrent use. The BPE ranks are compiled into the binary (from
// tiktoken-go-loader's offline assets), so nothing is downloaded; the
// encoder is cl100k.go's, which gives tiktoken-go's tokens faster.
type Tokenizer struct {
	enc *cl100k
}

// ranksFile is the name tiktoken-go's loaders know cl100k_base's ranks by.
const ranksFile = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"

var (
	tokOnce sync.Once
	tok     *Tokenizer
	tokErr  error
)

// LoadTokenizer returns the shared cl100k_base tokenizer, loading it on
// first use (about a hundred milliseconds: the ranks are parsed once per
// process).
func LoadTokenizer() (*Tokenizer, error) {
	tokOnce.Do(func() {
		// The offline loader reads the ranks compiled into the binary; the
		// network is never used.
		ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(ranksFile)
		if err != nil {
			tokErr = quarry.Errorf(quarry.CodeInternal, "load %s token ranks: %w", Encoding, err)
			return
		}
		tok = &Tokenizer{enc: newCL100K(ranks)}
	})
	return tok, tokErr
}

// CountTokens returns the number of cl100k_base tokens in s. Special
// tokens such as "<|endoftext|>" count as ordinary text. It panics only if
// the compiled-in token ranks cannot be loaded, which would be a broken
// build (see LoadTokenizer for the error-returning form).
func CountTokens(s string) int {
	t, err := LoadTokenizer()
	if err != nil {
		panic(err)
	}
	return t.Count(s)
}

// maxRun bounds the characters without whitespace that are byte-pair
// encoded as one piece. tiktoken's merge loop is quadratic in a piece's
// length, so a long unbroken run (10,000 Han characters without
// punctuation) would take seconds; cutting such runs every maxRun
// characters keeps encoding linear and changes no count for ordinary
// text, whose pieces are far shorter.
const maxRun = 200

// Count returns the number of tokens in s.
func (t *Tokenizer) Count(s string) int {
	if s == "" {
		return 0
	}
	if len(s) <= maxRun {
		return t.enc.count(s)
	}
	n := 0
	t.runs(s, func(piece string) { n += t.enc.count(piece) })
	return n
}

// encode is tiktoken's EncodeOrdinary with long runs cut (see maxRun).
func (t *Tokenizer) encode(s string) []int {
	if len(s) <= maxRun { // fewer bytes than maxRun: no long run possible
		return t.enc.encode(nil, s)
	}
	var out []int
	t.runs(s, func(piece string) { out = t.enc.encode(out, piece) })
	return out
}

// runs calls f with the consecutive pieces of s, cut inside every run
// of more than maxRun characters without whitespace.
func (t *Tokenizer) runs(s string, f func(string)) {
	seg, run := 0, 0
	for i, r := range s {
		if unicode.IsSpace(r) {
			run = 0
			continue
		}
		if run++; run > maxRun {
			f(s[seg:i])
			seg, run = i, 1
		}
	}
	f(s[seg:])
}

// Truncate returns s if it has at most n tokens, else a prefix of s
// with at most n tokens, ended after a word when a space is near the
// limit and always on a UTF-8 character boundary, trailing space trimmed.
func (t *Tokenizer) Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	cuts := t.cuts(s, n)
	if len(cuts) == 0 {
		return s
	}
	return strings.TrimRightFunc(s[:cuts[0]], unicode.IsSpace)
}

// cuts splits s into pieces of at most n tokens each and returns the byte
// offsets where the pieces end (the last one is len(s), omitted when s is
// a single piece). Offsets fall on UTF-8 boundaries, and on a space when
// one is near, so that pieces do not cut words or characters in half.
func (t *Tokenizer) cuts(s string, n int) []int {
	ids := t.encode(s)
	if len(ids) <= n {
		return nil
	}
	// Byte offset after each token: decoding token by token reproduces
	// the input bytes exactly, although a token may end inside a
	// multi-byte character.
	ends := make([]int, len(ids))
	off := 0
	for i, id := range ids {
		off += len(t.enc.decode(id))
		ends[i] = off
	}
	var out []int
	start, first := 0, 0 // byte offset and token index where the piece begins
	for len(ids)-first > n {
		cut := start
		for m := n; m > 0; m-- {
			cut = boundaryBefore(s, start, ends[first+m-1])
			// Re-encoding a piece can merge or split tokens at its edges;
			// make sure the piece really fits.
			if cut > start && t.Count(strings.TrimSpace(s[start:cut])) <= n {
				break
			}
		}
		if cut <= start { // one character longer than n tokens: keep it whole
			_, size := utf8.DecodeRuneInString(s[start:])
			cut = start + size
		}
		out = append(out, cut)
		for first < len(ends) && ends[first] <= cut {
			first++
		}
		start = cut
	}
	// The remainder was measured with the tokens of the whole string;
	// on its own it may encode to one token more.
	if len(out) > 0 && t.Count(strings.TrimSpace(s[start:])) > n {
		for _, c := range t.cuts(s[start:], n) {
			out = append(out, start+c)
		}
	}
	return out
}

// boundaryBefore returns the best place to end a piece in s[start:limit]:
// just after the last space in its final quarter (so the next piece
// starts with a word, as it will once trimmed), else the last UTF-8
// character boundary at or before limit.
func boundaryBefore(s string, start, limit int) int {
	if limit >= len(s) {
		return len(s)
	}
	for i := limit - 1; i > start+(limit-start)*3/4; i-- {
		if s[i] == ' ' || s[i] == '\n' {
			return i + 1
		}
	}
	for i := limit; i > start; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return start
}
