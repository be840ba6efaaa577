package ingest

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

func newChunker(t testing.TB, cfg ChunkConfig) *Chunker {
	t.Helper()
	c, err := NewChunker(cfg)
	if err != nil {
		t.Fatalf("NewChunker(%+v): %v", cfg, err)
	}
	return c
}

var testDoc = quarry.Document{ID: "0123456789abcdef", Path: "kb/doc.md", Title: "Doc", Lang: "en"}

// sentences returns n distinct English sentences of about 12 tokens.
func sentences(n int, tag string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Sentence %s%d explains how the device handles returns and refunds.", tag, i)
	}
	return out
}

func TestNewChunkerConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ChunkConfig
		want    ChunkConfig
		wantErr bool
	}{
		{"zero means defaults", ChunkConfig{}, ChunkConfig{Size: DefaultChunkSize, Overlap: DefaultChunkOverlap, Fold: DefaultChunkSize}, false},
		{"overlap default scales down", ChunkConfig{Size: 64}, ChunkConfig{Size: 64, Overlap: 16, Fold: 64}, false},
		{"negative overlap means none", ChunkConfig{Size: 100, Overlap: -1}, ChunkConfig{Size: 100, Overlap: 0, Fold: 100}, false},
		{"negative fold means none", ChunkConfig{Size: 100, Fold: -1}, ChunkConfig{Size: 100, Overlap: 25, Fold: 0}, false},
		{"fold is capped at the size", ChunkConfig{Size: 100, Fold: 300}, ChunkConfig{Size: 100, Overlap: 25, Fold: 100}, false},
		{"too small", ChunkConfig{Size: 4}, ChunkConfig{}, true},
		{"too large", ChunkConfig{Size: 100000}, ChunkConfig{}, true},
		{"overlap too large", ChunkConfig{Size: 100, Overlap: 50}, ChunkConfig{}, true},
		{"negative size", ChunkConfig{Size: -5}, ChunkConfig{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewChunker(tt.cfg)
			if tt.wantErr {
				if quarry.ErrorCode(err) != quarry.CodeInvalid {
					t.Fatalf("err = %v, want an invalid error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Config() != tt.want {
				t.Errorf("config = %+v, want %+v", c.Config(), tt.want)
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"tiktoken is great!", 6},
		{"<|endoftext|>", 7}, // special tokens are plain text here
	}
	for _, tt := range tests {
		if got := CountTokens(tt.in); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if n := CountTokens("你好，世界"); n < 3 {
		t.Errorf("CountTokens(chinese) = %d, want several tokens", n)
	}
}

func TestChunkFields(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 64, Overlap: -1})
	p := Parsed{Sections: []Section{
		{Heading: nil, Text: "Preamble text."},
		{Heading: []string{"Guide", "Install"}, Text: strings.Join(sentences(12, "a"), " ")},
		{Heading: []string{"Guide", "中文"}, Page: 3, Text: "这是中文内容。"},
		{Heading: []string{"Empty"}, Text: "   \n\n  "},
	}}
	chunks := c.Chunk(testDoc, p)
	if len(chunks) < 4 {
		t.Fatalf("got %d chunks, want at least 4", len(chunks))
	}
	for i, ch := range chunks {
		if ch.Ordinal != i || ch.ID != fmt.Sprintf("%s#%d", testDoc.ID, i) {
			t.Errorf("chunk %d: ordinal %d id %q", i, ch.Ordinal, ch.ID)
		}
		if ch.DocID != testDoc.ID || ch.Path != testDoc.Path || ch.Title != testDoc.Title {
			t.Errorf("chunk %d: doc fields %q %q %q", i, ch.DocID, ch.Path, ch.Title)
		}
		if ch.Tokens != CountTokens(ch.Text) || ch.Tokens > 64 {
			t.Errorf("chunk %d: tokens %d, text has %d", i, ch.Tokens, CountTokens(ch.Text))
		}
		if strings.Contains(ch.Text, "Guide") || strings.Contains(ch.Text, "Doc") {
			t.Errorf("chunk %d text repeats the title or heading: %q", i, ch.Text)
		}
	}
	first, last := chunks[0], chunks[len(chunks)-1]
	if first.Heading != "" || first.Text != "Preamble text." || first.Lang != "en" {
		t.Errorf("first chunk = %+v", first)
	}
	if last.Heading != "Guide > 中文" || last.Page != 3 || last.Lang != "zh" || last.Text != "这是中文内容。" {
		t.Errorf("last chunk = %+v", last)
	}
	for _, ch := range chunks[1 : len(chunks)-1] {
		if ch.Heading != "Guide > Install" {
			t.Errorf("middle chunk heading = %q", ch.Heading)
		}
	}
}

func TestChunkNeverSpansSections(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 256})
	p := Parsed{Sections: []Section{
		{Heading: []string{"A"}, Text: "Alpha one. Alpha two."},
		{Heading: []string{"B"}, Text: "Beta one."},
		{Page: 2, Text: "Page two."},
	}}
	got := c.Chunk(testDoc, p)
	want := []string{"Alpha one. Alpha two.", "Beta one.", "Page two."}
	if len(got) != len(want) {
		t.Fatalf("got %d chunks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Text != want[i] {
			t.Errorf("chunk %d = %q, want %q", i, got[i].Text, want[i])
		}
	}
}

func TestChunkBreaksAtParagraphEnd(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 64, Overlap: -1})
	p1 := strings.Join(sentences(3, "p"), " ") // ~40 tokens
	p2 := strings.Join(sentences(3, "q"), " ")
	chunks := c.Chunk(testDoc, Parsed{Sections: []Section{{Text: p1 + "\n\n" + p2}}})
	if len(chunks) != 2 || chunks[0].Text != p1 || chunks[1].Text != p2 {
		t.Fatalf("want one chunk per paragraph, got %q", texts(chunks))
	}
}

func TestChunkBreaksAtSentenceEnd(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 50, Overlap: -1})
	ss := sentences(20, "s")
	chunks := c.Chunk(testDoc, Parsed{Sections: []Section{{Text: strings.Join(ss, " ")}}})
	if len(chunks) < 5 {
		t.Fatalf("got %d chunks, want at least 5", len(chunks))
	}
	var joined []string
	for _, ch := range chunks {
		if !strings.HasSuffix(ch.Text, ".") || !strings.HasPrefix(ch.Text, "Sentence ") {
			t.Errorf("chunk does not hold whole sentences: %q", ch.Text)
		}
		joined = append(joined, ch.Text)
	}
	if strings.Join(joined, " ") != strings.Join(ss, " ") {
		t.Errorf("chunks without overlap do not add up to the text")
	}
}

func TestChunkOverlap(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 60, Overlap: 16})
	ss := sentences(12, "o")
	chunks := c.Chunk(testDoc, Parsed{Sections: []Section{{Text: strings.Join(ss, " ")}}})
	if len(chunks) < 3 {
		t.Fatalf("got %d chunks", len(chunks))
	}
	for i := 1; i < len(chunks); i++ {
		prev := SplitSentences(chunks[i-1].Text)
		cur := SplitSentences(chunks[i].Text)
		if cur[0] != prev[len(prev)-1] {
			t.Errorf("chunk %d starts with %q, want the last sentence of chunk %d %q", i, cur[0], i-1, prev[len(prev)-1])
		}
		if len(cur) < 2 {
			t.Errorf("chunk %d holds only overlap", i)
		}
	}
}

func TestChunkChinese(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 40, Overlap: -1})
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "第%d条规定退货需要在三十天内完成。", i)
	}
	chunks := c.Chunk(quarry.Document{ID: "zh", Lang: "zh"}, Parsed{Sections: []Section{{Text: b.String()}}})
	if len(chunks) < 5 {
		t.Fatalf("got %d chunks", len(chunks))
	}
	var all strings.Builder
	for _, ch := range chunks {
		if !strings.HasSuffix(ch.Text, "。") || ch.Tokens > 40 || ch.Lang != "zh" {
			t.Errorf("chunk %q: %d tokens, lang %s", ch.Text, ch.Tokens, ch.Lang)
		}
		all.WriteString(ch.Text)
	}
	if all.String() != b.String() {
		t.Errorf("chunks do not add up to the text")
	}
}

func TestChunkSplitsOverlongSentence(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"english words", strings.Repeat("supercalifragilistic expialidocious words without a stop ", 60)},
		{"chinese characters", strings.Repeat("这是一个没有任何标点符号的非常长的句子", 40)},
		{"one long token run", strings.Repeat("x", 3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChunker(t, ChunkConfig{Size: 32, Overlap: -1})
			chunks := c.Chunk(testDoc, Parsed{Sections: []Section{{Text: tt.text}}})
			if len(chunks) < 2 {
				t.Fatalf("got %d chunks", len(chunks))
			}
			var all strings.Builder
			for _, ch := range chunks {
				if ch.Tokens > 32 || ch.Tokens != CountTokens(ch.Text) {
					t.Errorf("chunk has %d tokens (text %d): %q", ch.Tokens, CountTokens(ch.Text), ch.Text)
				}
				if !utf8.ValidString(ch.Text) {
					t.Errorf("chunk cut a character in half: %q", ch.Text)
				}
				all.WriteString(ch.Text)
			}
			squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if squash(all.String()) != squash(tt.text) {
				t.Errorf("pieces do not add up to the sentence")
			}
			if strings.HasPrefix(tt.name, "english") {
				for _, ch := range chunks {
					if !strings.HasPrefix(tt.text, strings.Fields(ch.Text)[0]) && !strings.Contains(tt.text, " "+strings.Fields(ch.Text)[0]+" ") {
						t.Errorf("chunk starts inside a word: %q", ch.Text)
					}
				}
			}
		})
	}
}

func TestMergeTail(t *testing.T) {
	c := newChunker(t, ChunkConfig{Size: 64, Overlap: -1})
	text := "Alpha beta gamma. Tail."
	us := c.units(text)
	if len(us) != 2 {
		t.Fatalf("units = %+v", us)
	}
	// As if the estimate had forced a break before the last sentence.
	in := []chunkSpan{{0, us[0].end, 5, 0}, {us[1].start, us[1].end, 2, 1}}
	out := c.mergeTail(text, us, in)
	if len(out) != 1 || text[out[0].start:out[0].end] != text || out[0].tokens != CountTokens(text) {
		t.Errorf("mergeTail = %+v, want one chunk of the whole text", out)
	}
	// A tail that is not tiny stays.
	c2 := newChunker(t, ChunkConfig{Size: 8, Overlap: -1})
	if out := c2.mergeTail(text, us, in); len(out) != 2 {
		t.Errorf("mergeTail merged over the size: %+v", out)
	}
}

func texts(cs []quarry.Chunk) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Text
	}
	return out
}

// FuzzChunk checks the chunker's invariants on arbitrary text: no panic;
// every chunk is a trimmed, non-empty slice of the normalised text, the
// chunks are in order and together cover all of it; token counts are
// exact and within the size.
func FuzzChunk(f *testing.F) {
	f.Add("Hello world. This is a test.\n\nSecond paragraph! Yes?", 16, 4)
	f.Add("这是第一句。这是第二句！这是第三句？最后；还有", 8, 2)
	f.Add(strings.Repeat("word ", 200), 10, 3)
	f.Add(strings.Repeat("长", 500), 9, 0)
	f.Add("a\n\n\n\nb\r\n\tc  d . . . ! ? 。。。", 8, -1)
	f.Add("\xff\xfe bad utf8 \x00 nul", 12, 2)
	f.Add("e.g. Mr. J. Smith. \"Quoted.\" (Bracket.) Done", 8, 3)
	f.Fuzz(func(t *testing.T, text string, size, overlap int) {
		size = MinChunkSize + abs(size)%120
		overlap = overlap % (size/2 + 1)
		if overlap >= size/2 {
			overlap = size/2 - 1
		}
		c, err := NewChunker(ChunkConfig{Size: size, Overlap: overlap})
		if err != nil {
			t.Skip(err)
		}
		norm := normalize(text)
		spans := c.split(norm)
		chunks := c.Chunk(testDoc, Parsed{Sections: []Section{{Text: text}}})
		if len(chunks) != len(spans) {
			t.Fatalf("Chunk made %d chunks, split %d", len(chunks), len(spans))
		}
		end := 0
		for i, sp := range spans {
			ch := chunks[i]
			if sp.start >= sp.end || sp.end > len(norm) {
				t.Fatalf("chunk %d: bad span %+v of %d bytes", i, sp, len(norm))
			}
			if ch.Text != norm[sp.start:sp.end] || ch.Text != strings.TrimSpace(ch.Text) || ch.Text == "" {
				t.Fatalf("chunk %d text %q is not the trimmed span %q", i, ch.Text, norm[sp.start:sp.end])
			}
			if i > 0 && sp.start <= spans[i-1].start {
				t.Fatalf("chunk %d starts at %d, not after chunk %d at %d", i, sp.start, i-1, spans[i-1].start)
			}
			if sp.start > end && strings.TrimSpace(norm[end:sp.start]) != "" {
				t.Fatalf("text %q between chunks %d and %d is lost", norm[end:sp.start], i-1, i)
			}
			end = max(end, sp.end)
			if ch.Tokens != CountTokens(ch.Text) {
				t.Fatalf("chunk %d: Tokens %d, text has %d", i, ch.Tokens, CountTokens(ch.Text))
			}
			if ch.Tokens > size {
				t.Fatalf("chunk %d: %d tokens over size %d: %q", i, ch.Tokens, size, ch.Text)
			}
			if !utf8.ValidString(ch.Text) {
				t.Fatalf("chunk %d is not valid UTF-8", i)
			}
		}
		if strings.TrimSpace(norm[end:]) != "" {
			t.Fatalf("tail %q is lost", norm[end:])
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func benchText() string {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "## Section %d\n\n", i)
		for _, s := range sentences(15, fmt.Sprint(i)) {
			b.WriteString(s + " ")
		}
		b.WriteString("\n\n")
		for j := range 10 {
			fmt.Fprintf(&b, "第%d节第%d句说明退货与退款的流程。", i, j)
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

func BenchmarkChunk(b *testing.B) {
	c := newChunker(b, ChunkConfig{})
	p, err := ParseFile("bench.md", []byte(benchText()))
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, s := range p.Sections {
		size += len(s.Text)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		c.Chunk(testDoc, p)
	}
}

func BenchmarkCountTokens(b *testing.B) {
	text := strings.Join(sentences(20, "b"), " ")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		CountTokens(text)
	}
}

// BenchmarkChunkLongRun chunks 10,000 Han characters without punctuation
// or spaces: the case that is quadratic without the run cutting in
// Tokenizer.encode.
func BenchmarkChunkLongRun(b *testing.B) {
	c := newChunker(b, ChunkConfig{})
	p := Parsed{Sections: []Section{{Text: strings.Repeat("长", 10000)}}}
	b.ReportAllocs()
	for b.Loop() {
		c.Chunk(testDoc, p)
	}
}

func TestTokenizerTruncate(t *testing.T) {
	tok, err := LoadTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		n    int
	}{
		{"english", strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20), 25},
		{"chinese", strings.Repeat("退款在五个工作日内到账", 20), 10},
		{"short text is kept", "hello world", 10},
		{"zero", "hello", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tok.Truncate(tt.in, tt.n)
			if !strings.HasPrefix(tt.in, got) || !utf8.ValidString(got) {
				t.Fatalf("Truncate = %q, not a valid prefix", got)
			}
			if n := tok.Count(got); n > tt.n {
				t.Errorf("Truncate kept %d tokens, limit %d", n, tt.n)
			}
			if tok.Count(tt.in) > tt.n && tt.n > 0 && tok.Count(got) < tt.n/2 {
				t.Errorf("Truncate kept only %d of %d tokens: %q", tok.Count(got), tt.n, got)
			}
			if tok.Count(tt.in) <= tt.n && got != tt.in {
				t.Errorf("Truncate shortened a text that fits: %q", got)
			}
		})
	}
}
