package ingest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFoldSections(t *testing.T) {
	h := func(s ...string) []string { return s }
	long := strings.Join(sentences(20, "l"), " ") // about 240 tokens
	tests := []struct {
		name   string
		budget int
		in     []Section
		want   []Section
	}{
		{
			name:   "a procedure's steps fold under its heading",
			budget: 512,
			in: []Section{
				{Heading: h("Slack"), Text: "Intro."},
				{Heading: h("Slack", "Get a webhook"), Text: "Follow these steps."},
				{Heading: h("Slack", "Get a webhook", "Create an app"), Text: "Create an app."},
				{Heading: h("Slack", "Get a webhook", "Activate webhooks"), Text: "Switch Activate Incoming Webhooks on."},
				{Heading: h("Slack", "Reference"), Text: "See the docs."},
			},
			want: []Section{
				{Heading: h("Slack"), Text: "Intro."},
				{Heading: h("Slack", "Get a webhook"), Text: "Follow these steps.\n\nCreate an app\n\nCreate an app.\n\nActivate webhooks\n\nSwitch Activate Incoming Webhooks on."},
				{Heading: h("Slack", "Reference"), Text: "See the docs."},
			},
		},
		{
			name:   "the page's outermost heading is never folded",
			budget: 512,
			in: []Section{
				{Heading: h("Page"), Text: "Intro."},
				{Heading: h("Page", "A"), Text: "Alpha."},
				{Heading: h("Page", "B"), Text: "Beta."},
			},
			want: []Section{
				{Heading: h("Page"), Text: "Intro."},
				{Heading: h("Page", "A"), Text: "Alpha."},
				{Heading: h("Page", "B"), Text: "Beta."},
			},
		},
		{
			name:   "a heading without text of its own still folds its subsections",
			budget: 512,
			in: []Section{
				{Heading: h("Page", "Setup", "One"), Text: "First."},
				{Heading: h("Page", "Setup", "Two"), Text: "Second."},
				{Heading: h("Page", "Setup", "Two", "Detail"), Text: "Third."},
			},
			want: []Section{
				{Heading: h("Page", "Setup"), Text: "One\n\nFirst.\n\nTwo\n\nSecond.\n\nDetail\n\nThird."},
			},
		},
		{
			name:   "over budget: only the short inner run folds",
			budget: 200,
			in: []Section{
				{Heading: h("Page", "Big"), Text: long},
				{Heading: h("Page", "Big", "X"), Text: "Ex."},
				{Heading: h("Page", "Big", "X", "Y"), Text: "Why."},
			},
			want: []Section{
				{Heading: h("Page", "Big"), Text: long},
				{Heading: h("Page", "Big", "X"), Text: "Ex.\n\nY\n\nWhy."},
			},
		},
		{
			name:   "a skipped level is never a run's heading",
			budget: 512,
			in: []Section{
				{Heading: h("", "Q: one?"), Text: "A: yes."},
				{Heading: h("", "Q: two?"), Text: "A: no."},
			},
			want: []Section{
				{Heading: h("", "Q: one?"), Text: "A: yes."},
				{Heading: h("", "Q: two?"), Text: "A: no."},
			},
		},
		{
			name:   "FAQ entries are not folded together",
			budget: 512,
			in: []Section{
				{Heading: h("Help", "FAQ", "How do I log in?"), Text: "Use admin."},
				{Heading: h("Help", "FAQ", "Q: Can I reset it"), Text: "Yes."},
				{Heading: h("Help", "FAQ", "Q: Can I reset it", "Steps"), Text: "Click reset."},
			},
			want: []Section{
				{Heading: h("Help", "FAQ", "How do I log in?"), Text: "Use admin."},
				{Heading: h("Help", "FAQ", "Q: Can I reset it"), Text: "Yes.\n\nSteps\n\nClick reset."},
			},
		},
		{
			name:   "runs never cross a page",
			budget: 512,
			in: []Section{
				{Heading: h("Doc", "Part"), Page: 1, Text: "One."},
				{Heading: h("Doc", "Part", "Sub"), Page: 2, Text: "Two."},
			},
			want: []Section{
				{Heading: h("Doc", "Part"), Page: 1, Text: "One."},
				{Heading: h("Doc", "Part", "Sub"), Page: 2, Text: "Two."},
			},
		},
		{
			name:   "budget 0 folds nothing",
			budget: 0,
			in: []Section{
				{Heading: h("Doc", "Part"), Text: "One."},
				{Heading: h("Doc", "Part", "Sub"), Text: "Two."},
			},
			want: []Section{
				{Heading: h("Doc", "Part"), Text: "One."},
				{Heading: h("Doc", "Part", "Sub"), Text: "Two."},
			},
		},
	}
	c := newChunker(t, ChunkConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.foldSections(tt.in, tt.budget)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestChunkFoldsProcedure checks the folding end to end: a procedure
// written as one subsection per step is one chunk under the
// procedure's heading, unless folding is turned off.
func TestChunkFoldsProcedure(t *testing.T) {
	p := Parsed{Sections: []Section{
		{Heading: []string{"Slack"}, Text: "Use Slack for alerts."},
		{Heading: []string{"Slack", "How to Get Webhook"}, Text: "Create a webhook."},
		{Heading: []string{"Slack", "How to Get Webhook", "Create a new Slack APP"}, Text: "Create a new APP."},
		{Heading: []string{"Slack", "How to Get Webhook", "Activate Incoming Webhooks Setting"}, Text: "Switch Activate Incoming Webhooks to ON."},
	}}
	for _, tt := range []struct {
		fold int
		want []string // headings of the chunks
	}{
		{0, []string{"Slack", "Slack > How to Get Webhook"}},
		{-1, []string{"Slack", "Slack > How to Get Webhook", "Slack > How to Get Webhook > Create a new Slack APP",
			"Slack > How to Get Webhook > Activate Incoming Webhooks Setting"}},
	} {
		chunks := newChunker(t, ChunkConfig{Fold: tt.fold}).Chunk(testDoc, p)
		var got []string
		for _, ch := range chunks {
			got = append(got, ch.Heading)
			if ch.Tokens != CountTokens(ch.Text) {
				t.Errorf("fold %d: chunk %q: tokens %d, text has %d", tt.fold, ch.Heading, ch.Tokens, CountTokens(ch.Text))
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("fold %d: chunk headings %q, want %q", tt.fold, got, tt.want)
		}
		if tt.fold == 0 && !strings.Contains(chunks[1].Text, "Switch Activate Incoming Webhooks to ON.") {
			t.Errorf("folded chunk lost a step: %q", chunks[1].Text)
		}
	}
}

// FuzzFoldSections folds sections built from Markdown-like lines ("#"
// lines are headings, a form feed starts a page) and checks that no
// text is lost or reordered and that every folded section sits under
// the headings of the sections it took.
func FuzzFoldSections(f *testing.F) {
	f.Add("# Slack\nintro\n## How\nsteps\n### One\nfirst\n### Two\nsecond\n## Ref\nsee", 512)
	f.Add("## Q: one?\nyes\n## Q: two?\nno", 64)
	f.Add("# A\n### skipped\nx\n\f### B\ny\n#### C\nz", 8)
	f.Add("# 页面\n## 步骤\n### 一\n第一步。\n### 二\n第二步？", 30)
	f.Fuzz(func(t *testing.T, src string, budget int) {
		var secs []Section
		var heading []string
		page := 0
		for _, line := range strings.Split(src, "\n") {
			if strings.HasPrefix(line, "\f") {
				page++
				line = line[1:]
			}
			level := len(line) - len(strings.TrimLeft(line, "#"))
			if level >= 1 && level <= 6 && strings.HasPrefix(line[level:], " ") {
				h := append([]string(nil), heading[:min(len(heading), level-1)]...)
				for len(h) < level-1 {
					h = append(h, "")
				}
				heading = append(h, strings.TrimSpace(line[level:]))
				continue
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			secs = append(secs, Section{Heading: append([]string(nil), heading...), Page: page, Text: strings.TrimSpace(line)})
		}
		c := newChunker(t, ChunkConfig{})
		out := c.foldSections(secs, budget%2048)
		if len(out) > len(secs) {
			t.Fatalf("%d sections became %d", len(secs), len(out))
		}
		// Every input text is found, in order, in the output sections
		// whose heading is a prefix of its own.
		j, at := 0, 0
		for _, s := range secs {
			for j < len(out) {
				o := out[j]
				if o.Page == s.Page && len(o.Heading) <= len(s.Heading) && slices.Equal(o.Heading, s.Heading[:len(o.Heading)]) {
					if k := strings.Index(o.Text[at:], s.Text); k >= 0 {
						at += k + len(s.Text)
						break
					}
				}
				j, at = j+1, 0
			}
			if j == len(out) {
				t.Fatalf("text %q (heading %q) lost or out of order in %+v", s.Text, s.Heading, out)
			}
		}
	})
}
