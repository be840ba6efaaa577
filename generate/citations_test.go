package generate

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

func TestFindCiteMarkers(t *testing.T) {
	tests := []struct {
		in   string
		want string // "start-end:nums" for each marker
	}{
		{"five days [1].", "[10-13:[1]]"},
		{"a [1][2] b", "[2-5:[1] 5-8:[2]]"},
		{"a [1, 2]", "[2-8:[1 2]]"},
		{"a [1,2,3]", "[2-9:[1 2 3]]"},
		{"a [ 2 ]", "[2-7:[2]]"},
		{"a [1-3]", "[2-7:[1 2 3]]"},
		{"a [1–3, 5]", "[2-12:[1 2 3 5]]"},
		{"费用5元【1】。", "[10-17:[1]]"},
		{"见［2］", "[3-10:[2]]"},
		{"见[1，2、3]", "[3-14:[1 2 3]]"},
		{"[１]", "[0-5:[1]]"},
		{"the [note] and [a1]", "[]"},
		{"in [2023] we", "[]"},
		{"[0] [] [,] [1-] [-1] [3-1] [1-40] [1", "[]"},
		{"[1 -- 2] [1,-2]", "[]"},
		{"[[1]]", "[1-4:[1]]"},
		{"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]", "[]"}, // longer than a marker may be
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got []string
			for _, m := range findCiteMarkers(tt.in) {
				got = append(got, fmt.Sprintf("%d-%d:%v", m.Start, m.End, m.Nums))
			}
			if s := fmt.Sprint(got); s != tt.want {
				t.Errorf("markers = %s, want %s", s, tt.want)
			}
		})
	}
}

func TestRewriteCiteMarkers(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
		order    string
		bad      string
	}{
		{"valid kept", "Refunds take 5 days [1].", 3, "Refunds take 5 days [1].", "[1]", "[]"},
		{"renumbered by first use", "A is so [3]. B is so [1][3]. C [2].", 3, "A is so [1]. B is so [2][1]. C [3].", "[3 1 2]", "[]"},
		{"group split and deduplicated", "A [2, 2, 1].", 2, "A [1][2].", "[2 1]", "[]"},
		{"full-width brackets", "运费5元【2】。", 2, "运费5元[1]。", "[2]", "[]"},
		{"bad marker before a period", "The fee is $5 [7].", 3, "The fee is $5.", "[]", "[7]"},
		{"bad marker between words", "The fee [7] is $5.", 3, "The fee is $5.", "[]", "[7]"},
		{"bad marker glued to words", "fee[7]is", 3, "feeis", "[]", "[7]"},
		{"bad marker at the end", "The fee is $5 [9]", 3, "The fee is $5", "[]", "[9]"},
		{"bad marker at line start", "[7] The fee is $5.\n[8]  Next.", 3, "The fee is $5.\nNext.", "[]", "[7 8]"},
		{"bad marker before a newline", "The fee is $5 [7]\nNext [1].", 3, "The fee is $5\nNext [1].", "[1]", "[7]"},
		{"bad number in a group", "A [1, 7].", 3, "A [1].", "[1]", "[7]"},
		{"bad marker next to a good one", "A [7] [1]. B [1] [7].", 3, "A [1]. B [1].", "[1]", "[7 7]"},
		{"bad Chinese marker", "运费5元【7】。", 3, "运费5元。", "[]", "[7]"},
		{"no passages", "A [1].", 0, "A.", "[]", "[1]"},
		{"not markers", "In [2023] see [note].", 1, "In [2023] see [note].", "[]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, order, bad := rewriteCiteMarkers(tt.in, tt.n)
			if got != tt.want || fmt.Sprint(order) != tt.order || fmt.Sprint(bad) != tt.bad {
				t.Errorf("rewrite(%q) = %q, %v, %v; want %q, %s, %s", tt.in, got, order, bad, tt.want, tt.order, tt.bad)
			}
			if strings.Contains(got, "  ") && !strings.Contains(tt.in, "  ") {
				t.Errorf("double space left: %q", got)
			}
		})
	}
}

// citePassages are three passages for citation tests.
var citePassages = []quarry.Passage{
	{Chunk: quarry.Chunk{ID: "refunds#0", DocID: "refunds", Path: "billing/refunds.md", Title: "Refunds", Heading: "Timing",
		Text: "We issue refunds to the original payment method. Refunds take 5 business days to appear. Contact support if it takes longer."}},
	{Chunk: quarry.Chunk{ID: "shipping#2", DocID: "shipping", Path: "shipping/canada.md", Title: "Shipping to Canada", Page: 2,
		Text: "Express shipping to Canada takes 2 days. Standard shipping takes 7 days."}},
	{Chunk: quarry.Chunk{ID: "zh#0", DocID: "zh", Path: "zh/退款.md", Title: "退款政策",
		Text: "我们会把款项退回原支付方式。退款会在5个工作日内到账。如有问题请联系客服。"}},
}

func citePrompt(lang string) Prompt {
	shown := make([]string, len(citePassages))
	for i, p := range citePassages {
		shown[i] = p.Text
	}
	return Prompt{Passages: citePassages, Shown: shown, Lang: lang}
}

func TestCheckAnswer(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		lang      string
		text      string
		answered  bool
		grounded  bool
		citations string // "N:chunk=snippet" per citation
		note      string // a note that must be there ("" for none)
	}{
		{name: "grounded", raw: "Refunds take 5 business days [1].",
			text: "Refunds take 5 business days [1].", answered: true, grounded: true,
			citations: "[1:refunds#0=Refunds take 5 business days to appear.]"},
		{name: "renumbered, snippets per claim", raw: "Express shipping takes 2 days [2]. Refunds take 5 business days [1].",
			text: "Express shipping takes 2 days [1]. Refunds take 5 business days [2].", answered: true, grounded: true,
			citations: "[1:shipping#2=Express shipping to Canada takes 2 days. 2:refunds#0=Refunds take 5 business days to appear.]"},
		{name: "bad marker removed", raw: "Refunds take 5 business days [1]. There is a $3 fee [7].",
			text: "Refunds take 5 business days [1]. There is a $3 fee.", answered: true, grounded: false,
			citations: "[1:refunds#0=Refunds take 5 business days to appear.]", note: "point to no passage: [7]"},
		{name: "uncited", raw: "Refunds take about a week.",
			text: "Refunds take about a week.", answered: true, grounded: false,
			citations: "[]", note: "cites none of the passages"},
		{name: "only bad markers", raw: "Refunds take about a week [4].",
			text: "Refunds take about a week.", answered: true, grounded: false, citations: "[]", note: "cites none"},
		{name: "one sentence uncited", raw: "Refunds take 5 business days [1]. You also get a gift card.\n\nStandard shipping takes 7 days [2].",
			text: "Refunds take 5 business days [1]. You also get a gift card.\n\nStandard shipping takes 7 days [2].", answered: true, grounded: false,
			citations: "[1:refunds#0=Refunds take 5 business days to appear. 2:shipping#2=Standard shipping takes 7 days.]", note: "1 sentence(s)"},
		{name: "citation at the end of a paragraph covers it", raw: "Refunds go to the original payment method. They take 5 business days [1].",
			text: "Refunds go to the original payment method. They take 5 business days [1].", answered: true, grounded: true,
			citations: "[1:refunds#0=Refunds take 5 business days to appear.]"},
		{name: "marker after the period", raw: "Standard shipping takes 7 days. [2]",
			text: "Standard shipping takes 7 days. [1]", answered: true, grounded: true,
			citations: "[1:shipping#2=Standard shipping takes 7 days.]"},
		{name: "lead-in needs no citation", raw: "Here is what the documents say:\n- Express shipping takes 2 days [2].",
			text: "Here is what the documents say:\n- Express shipping takes 2 days [1].", answered: true, grounded: true,
			citations: "[1:shipping#2=Express shipping to Canada takes 2 days.]"},
		{name: "chinese", raw: "退款会在5个工作日内到账【3】。", lang: LangChinese,
			text: "退款会在5个工作日内到账[1]。", answered: true, grounded: true,
			citations: "[1:zh#0=退款会在5个工作日内到账。]"},
		{name: "sentinel", raw: "I don't know.", text: DontKnow(LangEnglish), grounded: true, citations: "[]"},
		{name: "sentinel variant", raw: "  i do not know ", text: DontKnow(LangEnglish), grounded: true, citations: "[]"},
		{name: "curly apostrophe", raw: "I don’t know.", text: DontKnow(LangEnglish), grounded: true, citations: "[]"},
		{name: "sentinel with an excuse", raw: "I don't know. The passages do not mention fees.", text: DontKnow(LangEnglish), grounded: true, citations: "[]"},
		{name: "sentinel for a Chinese question", raw: "I don't know.", lang: LangChinese, text: DontKnow(LangChinese), grounded: true, citations: "[]"},
		{name: "chinese sentinel", raw: "我不知道。", lang: LangChinese, text: DontKnow(LangChinese), grounded: true, citations: "[]"},
		{name: "empty", raw: "  ", text: DontKnow(LangEnglish), grounded: true, citations: "[]"},
		{name: "starts like the sentinel but answers", raw: "I don't know the exact hour, but refunds take 5 business days [1].",
			text: "I don't know the exact hour, but refunds take 5 business days [1].", answered: true, grounded: true,
			citations: "[1:refunds#0=Refunds take 5 business days to appear.]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := tt.lang
			if lang == "" {
				lang = LangEnglish
			}
			a := CheckAnswer(tt.raw, citePrompt(lang))
			if a.Text != tt.text || a.Answered != tt.answered || a.Grounded != tt.grounded || a.Lang != lang {
				t.Errorf("answer = %q answered=%v grounded=%v lang=%s; want %q %v %v %s", a.Text, a.Answered, a.Grounded, a.Lang, tt.text, tt.answered, tt.grounded, lang)
			}
			var cs []string
			for _, c := range a.Citations {
				cs = append(cs, fmt.Sprintf("%d:%s=%s", c.N, c.ChunkID, c.Snippet))
			}
			if got := fmt.Sprint(cs); got != tt.citations {
				t.Errorf("citations = %s\nwant        %s", got, tt.citations)
			}
			if a.Citations == nil {
				t.Error("citations nil, want empty")
			}
			notes := strings.Join(a.Notes, "; ")
			if (tt.note == "") != (notes == "") || !strings.Contains(notes, tt.note) {
				t.Errorf("notes = %q, want %q", notes, tt.note)
			}
			checkCitationsMatchText(t, a, citePassages)
		})
	}
}

// checkCitationsMatchText checks the invariants of a checked answer:
// markers in the text are exactly 1..len(citations), every citation
// carries its passage's metadata and a verbatim snippet.
func checkCitationsMatchText(t *testing.T, a quarry.Answer, passages []quarry.Passage) {
	t.Helper()
	seen := map[int]bool{}
	for _, m := range findCiteMarkers(a.Text) {
		for _, n := range m.Nums {
			if n < 1 || n > len(a.Citations) {
				t.Errorf("marker [%d] in the text with %d citations", n, len(a.Citations))
			}
			seen[n] = true
		}
	}
	for i, c := range a.Citations {
		if c.N != i+1 || !seen[c.N] {
			t.Errorf("citation %d has N=%d (in text: %v)", i, c.N, seen[c.N])
		}
		var psg *quarry.Passage
		for j := range passages {
			if passages[j].ID == c.ChunkID {
				psg = &passages[j]
			}
		}
		if psg == nil {
			t.Errorf("citation %d cites unknown chunk %s", c.N, c.ChunkID)
			continue
		}
		if c.DocID != psg.DocID || c.Path != psg.Path || c.Title != psg.Title || c.Heading != psg.Heading || c.Page != psg.Page {
			t.Errorf("citation %d metadata %+v differs from the passage's", c.N, c)
		}
		if c.Snippet == "" || !strings.Contains(psg.Text, c.Snippet) {
			t.Errorf("snippet %q is not a substring of the chunk", c.Snippet)
		}
	}
}

func TestCheckAnswerSnippetFromShownText(t *testing.T) {
	// A passage cut to fit the prompt is quoted from what the model saw.
	p := citePrompt(LangEnglish)
	p.Shown = append([]string(nil), p.Shown...)
	p.Shown[0] = "We issue refunds to the original payment method."
	a := CheckAnswer("Refunds take 5 business days [1].", p)
	if len(a.Citations) != 1 || a.Citations[0].Snippet != "We issue refunds to the original payment method." {
		t.Errorf("citations = %+v", a.Citations)
	}
}

func TestClipSnippet(t *testing.T) {
	long := strings.Repeat("word ", 200)
	s := clipSnippet(long)
	if len(s) > maxSnippetBytes || !strings.HasPrefix(long, s) || strings.HasSuffix(s, " ") {
		t.Errorf("clipSnippet = %d bytes", len(s))
	}
	zh := strings.Repeat("退款", 200)
	if s := clipSnippet(zh); !utf8.ValidString(s) || !strings.HasPrefix(zh, s) || len(s) > maxSnippetBytes {
		t.Errorf("clipSnippet cut a character: %q", s[len(s)-3:])
	}
}

// streamAll feeds raw to a markerStream in pieces of the given sizes
// (cycled, at rune boundaries) and returns what it sent.
func streamAll(raw string, n int, sizes []int) string {
	m := &markerStream{n: n}
	var sent strings.Builder
	for i, k := 0, 0; i < len(raw); k++ {
		size := max(sizes[k%len(sizes)], 1)
		j := min(i+size, len(raw))
		for j < len(raw) && !utf8.RuneStart(raw[j]) {
			j++
		}
		sent.WriteString(m.write(raw[i:j]))
		i = j
	}
	return sent.String()
}

func TestMarkerStream(t *testing.T) {
	tests := []struct {
		name, raw string
		n         int
		held      bool // nothing may be sent before the end
	}{
		{"plain", "Refunds take 5 business days [1]. Express is 2 days [2].", 3, false},
		{"bad marker", "Refunds take 5 days [7]. Fees [1, 9] apply [2].", 3, false},
		{"renumbered", "B [3]. A [1]. C【2】。", 3, false},
		{"spaces", "  Lead [1]   \n\n  [8] next   ", 3, false},
		{"sentinel", "I don't know.", 3, true},
		{"sentinel then text", "I don't know the hour, but refunds take 5 days [1].", 3, true},
		{"chinese", "退款会在5个工作日内到账【1】【9】。", 3, false},
	}
	for _, tt := range tests {
		for _, sizes := range [][]int{{1}, {2, 3}, {5}, {1000}} {
			t.Run(fmt.Sprint(tt.name, sizes), func(t *testing.T) {
				got := streamAll(tt.raw, tt.n, sizes)
				want, _, _ := rewriteCiteMarkers(tt.raw, tt.n)
				want = strings.TrimSpace(want)
				if !strings.HasPrefix(want, got) {
					t.Errorf("sent %q, not a prefix of the checked text %q", got, want)
				}
				if tt.held && got != "" {
					t.Errorf("sent %q of a possible I-don't-know", got)
				}
				if !tt.held && len(sizes) == 1 && sizes[0] == 1 && len(want)-len(got) > 8 {
					t.Errorf("held back too much: sent %q of %q", got, want)
				}
				for _, bad := range []string{"[7", "[9", "【9"} {
					if strings.Contains(got, bad) {
						t.Errorf("sent a bad marker: %q", got)
					}
				}
			})
		}
	}
}

// FuzzCiteMarkers checks the marker parser and the streaming rewrite:
// markers are well formed, in order, and what streams out early is
// always a prefix of the final checked text, however the text is cut.
func FuzzCiteMarkers(f *testing.F) {
	f.Add("Refunds take 5 days [1]. Fees [7] apply [1, 2].", uint8(3), uint8(3))
	f.Add("运费5元【2】【9】。", uint8(2), uint8(1))
	f.Add("[1-3] [3-1] [１，２] [[2]] [2023]", uint8(5), uint8(7))
	f.Add("  [9]  x [1]\n[8] y", uint8(1), uint8(2))
	f.Add("I don't know.", uint8(3), uint8(4))
	f.Fuzz(func(t *testing.T, text string, n, chunk uint8) {
		if !utf8.ValidString(text) {
			t.Skip()
		}
		prev := -1
		for _, m := range findCiteMarkers(text) {
			if m.Start <= prev || m.End <= m.Start || m.End > len(text) || m.End-m.Start > maxMarkerBytes {
				t.Fatalf("bad marker span %d-%d after %d", m.Start, m.End, prev)
			}
			prev = m.End - 1
			open, _ := utf8.DecodeRuneInString(text[m.Start:])
			closing, _ := utf8.DecodeLastRuneInString(text[:m.End])
			if !isMarkerOpen(open) || !isMarkerClose(closing) || len(m.Nums) == 0 {
				t.Fatalf("marker %q", text[m.Start:m.End])
			}
			for _, num := range m.Nums {
				if num < 1 || num > 999 {
					t.Fatalf("number %d in %q", num, text[m.Start:m.End])
				}
			}
		}
		out, order, _ := rewriteCiteMarkers(text, int(n%12))
		for _, m := range findCiteMarkers(out) {
			for _, num := range m.Nums {
				if num > len(order) {
					t.Fatalf("rewritten text %q cites [%d] with %d cited", out, num, len(order))
				}
			}
		}
		want := strings.TrimSpace(out)
		got := streamAll(text, int(n%12), []int{int(chunk%9) + 1, 1, 3})
		if !strings.HasPrefix(want, got) {
			t.Fatalf("streamed %q, final %q", got, want)
		}
	})
}

func BenchmarkCheckAnswer(b *testing.B) {
	raw := "Express shipping takes 2 days [2]. Refunds take 5 business days [1]. There is no fee [7]. 退款会在5个工作日内到账【3】。"
	p := citePrompt(LangEnglish)
	b.ReportAllocs()
	for b.Loop() {
		CheckAnswer(raw, p)
	}
}
