package ingest

import (
	"slices"
	"strings"
)

// foldSections merges each heading's run of short subsections into one
// section under that heading, when the whole run fits in budget tokens.
//
// Help pages often write a procedure as a heading with one tiny
// subsection per step ("How to get a webhook" > "Create an app",
// "Activate incoming webhooks", "Copy the address"). Chunked one
// subsection at a time, each step is a scrap that shares few words with
// a question about the whole procedure, and the step a question needs
// loses to its siblings; folded, the procedure is one chunk, ranked and
// quoted as a whole. Each folded subsection keeps its heading as a line
// of its own before its text.
//
// Runs whose subheadings ask questions are FAQ entries, not steps, and
// are never folded together.
//
// The run under a heading starts at the first section under it and ends
// before the first section that is not; the shallowest heading (from
// depth foldMinDepth) whose run has more than one section and fits is
// chosen, so a short chapter becomes one chunk and a long one folds only
// its short parts. Runs never cross
// a PDF page, and a skipped heading level ("" in the path) is never a
// run's heading. counts[i] caches the token count of secs[i].Text (-1:
// not yet counted).
func (c *Chunker) foldSections(secs []Section, budget int) []Section {
	if budget <= 0 || len(secs) < 2 {
		return secs
	}
	counts := make([]int, len(secs))
	for i := range counts {
		counts[i] = -1
	}
	count := func(i int) int {
		if counts[i] < 0 {
			counts[i] = c.tok.Count(secs[i].Text)
		}
		return counts[i]
	}
	out := make([]Section, 0, len(secs))
	for i := 0; i < len(secs); {
		j, level := c.foldRun(secs, i, budget, count)
		if j-i < 2 {
			out = append(out, secs[i])
			i++
			continue
		}
		out = append(out, foldRun(secs[i:j], level))
		i = j
	}
	return out
}

// foldMinDepth is the shallowest heading a run is folded under: 2, never
// the page's outermost heading (usually its title). Folding whole short
// pages as well (depth 1) ranked the right passage first as often but
// cost answers: on the DolphinScheduler guide 22 of 35 right became 19
// at a 512-token budget (BENCHMARKS.md).
const foldMinDepth = 2

// foldRun returns the end (exclusive) of the run folded from secs[i] and
// the depth of its heading; end i+1 means no fold.
func (c *Chunker) foldRun(secs []Section, i, budget int, count func(int) int) (int, int) {
	h := secs[i].Heading
	for level := foldMinDepth; level <= len(h); level++ {
		p := h[:level]
		if p[level-1] == "" {
			continue
		}
		if i > 0 && underHeading(secs[i-1], p, secs[i].Page) {
			continue // secs[i] is not the first section under p
		}
		j := i + 1
		for j < len(secs) && underHeading(secs[j], p, secs[i].Page) {
			j++
		}
		if j-i < 2 {
			return i + 1, 0 // deeper headings hold no more sections
		}
		if hasQuestion(secs[i:j], level) {
			continue // FAQ entries are units of their own; a deeper run may fold
		}
		// Every subheading line costs about as many tokens as its words;
		// the text is counted exactly, stopping once over budget.
		sum := 0
		for k := i; k < j && sum <= budget; k++ {
			sum += count(k)
			for _, s := range secs[k].Heading[level:] {
				sum += len(strings.Fields(s)) + 1
			}
		}
		if sum <= budget {
			return j, level
		}
	}
	return i + 1, 0
}

// hasQuestion reports whether a heading below depth level in run is a
// question ("How do I …?", "Q: …"): the entries of a FAQ each answer
// something else, so they are not folded together like the steps of a
// procedure.
func hasQuestion(run []Section, level int) bool {
	for _, s := range run {
		for _, h := range s.Heading[level:] {
			if IsQuestionLine(h) {
				return true
			}
		}
	}
	return false
}

// IsQuestionLine reports whether a line of text or a heading asks a
// question: it ends with a question mark or starts with a FAQ marker
// such as "Q:" or "问：" (emphasis and heading marks aside). Ingest keeps
// FAQ entries apart by it; the offline answerer never quotes such a line
// as an answer.
func IsQuestionLine(s string) bool {
	t := strings.TrimRight(strings.TrimSpace(s), "*_ ")
	if strings.HasSuffix(t, "?") || strings.HasSuffix(t, "？") {
		return true
	}
	t = strings.TrimLeft(t, "*_# ")
	for _, p := range []string{"Q:", "Q :", "Q.", "Q：", "问：", "问:", "问题：", "Question:"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// underHeading reports whether s sits under the heading path p on page.
func underHeading(s Section, p []string, page int) bool {
	return s.Page == page && len(s.Heading) >= len(p) && slices.Equal(s.Heading[:len(p)], p)
}

// foldRun joins a run of sections into one under their common heading
// of depth level: each section's headings below it that differ from the
// section before become lines of their own.
func foldRun(run []Section, level int) Section {
	var b strings.Builder
	var prev []string
	for _, s := range run {
		rel := s.Heading[level:]
		for d, title := range rel {
			title = strings.TrimSpace(title)
			if title == "" || (d < len(prev) && prev[d] == rel[d] && slices.Equal(prev[:d], rel[:d])) {
				continue
			}
			para(&b, title)
		}
		prev = rel
		para(&b, strings.TrimSpace(s.Text))
	}
	return Section{Heading: slices.Clone(run[0].Heading[:level]), Page: run[0].Page, Text: b.String()}
}

// para appends a paragraph, separated from what is before by a blank line.
func para(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString(s)
}
