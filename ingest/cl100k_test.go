package ingest

import (
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/corpora/synth"
)

// tiktoken-go's own encoder, the reference cl100k.go must agree with.
var (
	refOnce sync.Once
	ref     *tiktoken.Tiktoken
	refErr  error
)

func reference(t testing.TB) *tiktoken.Tiktoken {
	t.Helper()
	refOnce.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		ref, refErr = tiktoken.GetEncoding(Encoding)
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return ref
}

// checkSame fails unless cl100k.go encodes s to tiktoken-go's tokens and
// counts them alike.
func checkSame(t testing.TB, s string) {
	t.Helper()
	tok, err := LoadTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t).EncodeOrdinary(s)
	if got := tok.enc.encode(nil, s); !slices.Equal(got, want) {
		t.Fatalf("encode(%q)\n got %v\nwant %v", s, got, want)
	}
	if got := tok.enc.count(s); got != len(want) {
		t.Fatalf("count(%q) = %d, want %d", s, got, len(want))
	}
}

// cl100kCases are the corners of the pre-tokenising pattern.
var cl100kCases = []string{
	"", "a", " ", "  ", "\n", "\r\n", " \n ", "a  b", "a \n b", "a\t\tb", "a \t", "end   ",
	"don't", "DON'T", "we're", "WE'RE", "they've", "I'm", "you'll", "YOU'LL", "he'd", "'s", "'", "''", "'x", "'l", "'lx",
	"'ſ", "'İ", "'K",
	"hello world", "Hello, World!", " !!!", "!!!\n\n", " ?\r\n", "a.b", "$100", "1234567", "12 345", "x1y2", "٣٤٥٦", "²³⁴", "ⅫⅪ",
	"\u00a0word", "\u3000字", "\u2028x", "\v\fx", "\u0085y", "e\u0301", "\u0301e", "naïve café", "über-straße",
	"你好，世界", "退款政策是什么？", "日本語のテキスト", "한국어 텍스트", "Ελληνικά", "русский текст",
	"emoji 😀👍🏽 here", "tab\tsep\tvalues", "line1\nline2\r\nline3\rline4", "   leading", "trailing\n\n\n",
	"<|endoftext|>", "x\xffy", "\xc3", "a\xe4\xb8b", "\xff\xfe\xfd",
	"func (t *Tokenizer) Count(s string) int {\n\treturn 0\n}\n",
	"https://example.com/path?q=1&r=2#frag", "C:\\Users\\me\\file.txt", "snake_case_name", "CamelCaseName",
	strings.Repeat("a", 500), strings.Repeat("ab ", 300), strings.Repeat("中", 300), strings.Repeat("!", 400),
}

func TestCL100KMatchesTiktoken(t *testing.T) {
	for _, s := range cl100kCases {
		checkSame(t, s)
	}
}

// TestCL100KCorpora compares every text of the sample help centre and a
// synthetic corpus, whole and line by line.
func TestCL100KCorpora(t *testing.T) {
	for name, fsys := range map[string]fs.FS{
		"helpcenter": corpora.HelpCenter(),
		"synth":      synth.New(synth.Config{Docs: 300}),
	} {
		n := 0
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".txt") || strings.HasSuffix(p, ".html")) {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			checkSame(t, string(b))
			for line := range strings.SplitSeq(string(b), "\n") {
				checkSame(t, line)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n < 20 {
			t.Errorf("%s: only %d files compared", name, n)
		}
	}
}

// cl100kAlphabet mixes every class the pattern tells apart.
var cl100kAlphabet = []string{
	"a", "Z", "s", "t", "e", "l", "L", "r", "V", "d", "m", "é", "ß", "ſ", "İ", "K", "中", "文", "ア", "한", "ω",
	"0", "7", "٣", "２", "²", "Ⅻ", "½",
	" ", " ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\v", "\f", "\u0085",
	"'", "'", "\"", ".", ",", "!", "?", "-", "_", "/", "(", "😀", "\u0301", "\u200d", "，", "。",
	"\xff", "\xc3", "\xe4\xb8",
}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(cl100kAlphabet[r.IntN(len(cl100kAlphabet))])
	}
	return b.String()
}

func TestCL100KRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		checkSame(t, randomText(r, r.IntN(24)))
	}
}

func FuzzCL100K(f *testing.F) {
	for _, s := range cl100kCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2000 { // tiktoken-go's merge is quadratic in a piece
			s = s[:2000]
		}
		checkSame(t, s)
	})
}

// BenchmarkCL100K: counting the tokens of a synthetic document of
// about 100 words, cl100k.go against tiktoken-go.
func BenchmarkCL100K(b *testing.B) {
	c := synth.New(synth.Config{Docs: 64})
	var docs []string
	_ = fs.WalkDir(c, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(c, p)
			docs = append(docs, string(data))
		}
		return err
	})
	tok, err := LoadTokenizer()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cl100k", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tok.Count(docs[i%len(docs)])
		}
	})
	b.Run("tiktoken-go", func(b *testing.B) {
		enc := reference(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			enc.EncodeOrdinary(docs[i%len(docs)])
		}
	})
}
