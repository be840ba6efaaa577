package generate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
)

// Citation markers. A marker is an opening bracket ([, 【 or the
// full-width ［), one or more passage numbers separated by commas (also
// ，、;), spaces or a dash for a range ("1-3"), and a closing bracket:
// [1], [1, 2], [1-3], 【1】, ［2］. Adjacent markers ([1][2]) are separate
// markers. Brackets holding anything else ("[note]", "[2023]" with its
// four digits) are text.
const (
	maxMarkerBytes  = 40 // longest marker, brackets included
	maxMarkerDigits = 3  // passage numbers have at most three digits
	maxMarkerRange  = 20 // a range spans at most this many numbers
)

// citeMarker is one citation marker found in a text.
type citeMarker struct {
	Start, End int   // byte offsets of the marker, brackets included
	Nums       []int // the passage numbers it cites, in order, ranges expanded
}

func isMarkerOpen(r rune) bool  { return r == '[' || r == '【' || r == '［' }
func isMarkerClose(r rune) bool { return r == ']' || r == '】' || r == '］' }
func isMarkerSep(r rune) bool {
	switch r {
	case ',', '，', '、', ';', '；', ' ', '-', '–', '—', '~', '～':
		return true
	}
	return false
}

// markerDigit returns the value of an ASCII or full-width digit.
func markerDigit(r rune) (int, bool) {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0'), true
	case r >= '０' && r <= '９':
		return int(r - '０'), true
	}
	return 0, false
}

// findCiteMarkers returns the citation markers in text, in order.
func findCiteMarkers(text string) []citeMarker {
	var out []citeMarker
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isMarkerOpen(r) {
			if m, ok := parseCiteMarker(text, i); ok {
				out = append(out, m)
				i = m.End
				continue
			}
		}
		i += size
	}
	return out
}

// parseCiteMarker parses a marker starting at text[start], which holds
// an opening bracket.
func parseCiteMarker(text string, start int) (citeMarker, bool) {
	_, size := utf8.DecodeRuneInString(text[start:])
	var (
		nums      []int
		cur, ndig int
		rangeFrom = -1 // the number before a dash, while a range is open
		dash      bool
	)
	endNumber := func() bool {
		if ndig == 0 {
			return true
		}
		if cur == 0 {
			return false
		}
		if dash {
			if rangeFrom < 0 || cur < rangeFrom || cur-rangeFrom > maxMarkerRange {
				return false
			}
			for n := rangeFrom + 1; n <= cur; n++ {
				nums = append(nums, n)
			}
			dash, rangeFrom = false, -1
		} else {
			nums = append(nums, cur)
			rangeFrom = cur
		}
		cur, ndig = 0, 0
		return true
	}
	for i := start + size; i < len(text) && i-start < maxMarkerBytes; {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if d, ok := markerDigit(r); ok {
			if ndig == maxMarkerDigits {
				return citeMarker{}, false
			}
			cur = cur*10 + d
			ndig++
			continue
		}
		if !endNumber() {
			return citeMarker{}, false
		}
		switch {
		case isMarkerClose(r):
			if dash || len(nums) == 0 || i-start > maxMarkerBytes {
				return citeMarker{}, false
			}
			return citeMarker{Start: start, End: i, Nums: nums}, true
		case r == '-' || r == '–' || r == '—' || r == '~' || r == '～':
			if dash || rangeFrom < 0 {
				return citeMarker{}, false
			}
			dash = true
		case isMarkerSep(r):
			if r != ' ' {
				rangeFrom = -1 // "1, -3" is not a range
			}
		default:
			return citeMarker{}, false
		}
	}
	return citeMarker{}, false
}

// rewriteCiteMarkers renumbers the markers of text for n passages:
// numbers are renumbered densely in order of first use (the first
// passage cited becomes [1]) and each marker is written as "[a][b]";
// numbers that point to no passage are dropped, and a marker left empty
// is removed together with the space before it when punctuation, a
// space or the end follows ("five days [7]." → "five days."), or with
// the spaces after it at the start of a line. order lists the cited
// passages (1-based) by new number; bad lists the dropped numbers.
//
// The result for a prefix of text that does not end inside or right
// after a marker, or in white space, is a prefix of the result for
// text: what streams out early never has to be taken back.
func rewriteCiteMarkers(text string, n int) (out string, order []int, bad []int) {
	markers := findCiteMarkers(text)
	if len(markers) == 0 {
		return text, nil, nil
	}
	newNum := map[int]int{}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, m := range markers {
		b.WriteString(text[last:m.Start])
		last = m.End
		var keep []int
		for _, num := range m.Nums {
			if num < 1 || num > n {
				bad = append(bad, num)
				continue
			}
			k, ok := newNum[num]
			if !ok {
				order = append(order, num)
				k = len(order)
				newNum[num] = k
			}
			if !citeHas(keep, k) {
				keep = append(keep, k)
			}
		}
		if len(keep) > 0 {
			for _, k := range keep {
				b.WriteByte('[')
				b.WriteString(strconv.Itoa(k))
				b.WriteByte(']')
			}
			continue
		}
		// The marker goes: tidy the white space it leaves.
		after, _ := utf8.DecodeRuneInString(text[m.End:])
		atEnd := m.End >= len(text)
		s := b.String()
		switch {
		case strings.HasSuffix(s, " ") || strings.HasSuffix(s, "\t"):
			if atEnd || unicode.IsSpace(after) || closesClause(after) {
				trimmed := strings.TrimRight(s, " \t")
				b.Reset()
				b.WriteString(trimmed)
			}
		case s == "" || strings.HasSuffix(s, "\n"):
			for last < len(text) && (text[last] == ' ' || text[last] == '\t') {
				last++
			}
		}
		if danglingMarkerOpen(b.String()) {
			// "[1[7]]" must not become the marker "[1]": keep the
			// pieces apart with an invisible zero-width space.
			b.WriteString("\u200b")
		}
	}
	b.WriteString(text[last:])
	return b.String(), order, bad
}

// danglingMarkerOpen reports whether s ends with what could be the
// start of a marker: an opening bracket followed only by numbers and
// separators.
func danglingMarkerOpen(s string) bool {
	for i := len(s); i > 0 && len(s)-i < maxMarkerBytes; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if isMarkerOpen(r) {
			return true
		}
		if _, ok := markerDigit(r); !ok && !isMarkerSep(r) {
			return false
		}
		i -= size
	}
	return false
}

func citeHas(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// closesClause reports whether r is punctuation that attaches to the
// word before it.
func closesClause(r rune) bool {
	return strings.ContainsRune(".,;:!?)]}。，；：！？、）】」』”’", r)
}

// stableCut returns how much of a streamed text can be rewritten and
// sent now: the whole of it but any trailing white space, complete
// markers at its end (what follows them decides the spacing) and a
// marker still being written.
func stableCut(text string) int {
	cut := len(text)
	// A marker that may still be open: an opening bracket followed only
	// by marker characters, close to the end.
	for i := len(text) - 1; i >= 0 && len(text)-i < maxMarkerBytes; i-- {
		if !utf8.RuneStart(text[i]) {
			continue
		}
		r, _ := utf8.DecodeRuneInString(text[i:])
		if isMarkerOpen(r) {
			cut = i
			break
		}
		if _, ok := markerDigit(r); !ok && !isMarkerSep(r) {
			break
		}
	}
	markers := findCiteMarkers(text[:cut])
	for {
		trimmed := strings.TrimRightFunc(text[:cut], unicode.IsSpace)
		cut = len(trimmed)
		if len(markers) == 0 || markers[len(markers)-1].End != cut {
			return cut
		}
		cut = markers[len(markers)-1].Start
		markers = markers[:len(markers)-1]
	}
}

// dontKnowVariants are replies taken as the model's "I don't know",
// lower case, without final punctuation.
var dontKnowVariants = []string{"i don't know", "i do not know", "i dont know", "我不知道", "不知道"}

// normalizeForSentinel lower-cases s, unifies apostrophes and drops
// leading white space.
func normalizeForSentinel(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	s = strings.NewReplacer("’", "'", "‘", "'", "`", "'").Replace(s)
	return strings.ToLower(s)
}

// sentinelPrefix reports whether text could still become, or already
// starts with, the "I don't know" sentinel: while it might, a stream
// must not show it.
func sentinelPrefix(text string) bool {
	t := normalizeForSentinel(text)
	for _, v := range dontKnowVariants {
		if strings.HasPrefix(v, t) || strings.HasPrefix(t, v) {
			return true
		}
	}
	return false
}

// isDontKnow reports whether a model's answer (markers already
// checked) is its "I don't know": the sentinel alone, or a reply that
// starts with it and cites nothing.
func isDontKnow(text string, cited bool) bool {
	t := strings.TrimRightFunc(normalizeForSentinel(text), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r)
	})
	if t == "" {
		return true
	}
	for _, v := range dontKnowVariants {
		if t == v || (!cited && strings.HasPrefix(t, v)) {
			return true
		}
	}
	return false
}

// maxSnippetBytes bounds a citation snippet.
const maxSnippetBytes = 400

// CheckAnswer checks a model's answer against the passages its prompt
// numbered (p.Passages, shown as p.Shown) and returns the Answer:
//
//   - markers pointing to no passage are removed, the others renumbered
//     densely in order of first use (see rewriteCiteMarkers);
//   - each cited passage becomes a Citation whose Snippet is the
//     sentence of the passage that best matches the claims citing it,
//     verbatim;
//   - the "I don't know" sentinel (or an empty answer) gives Answered
//     false with the polite DontKnow text in the question's language;
//   - an answer with claims that cite nothing is Grounded false, with a
//     note saying so.
func CheckAnswer(raw string, p Prompt) quarry.Answer {
	text, order, bad := rewriteCiteMarkers(raw, len(p.Passages))
	text = strings.TrimSpace(text)
	ans := quarry.Answer{Lang: p.Lang, Citations: []quarry.Citation{}, Passages: p.Passages}
	if ans.Lang == "" {
		ans.Lang = LangEnglish
	}
	if len(bad) > 0 {
		ans.Notes = append(ans.Notes, fmt.Sprintf("removed citation markers that point to no passage: %s", citeNums(bad)))
	}
	if isDontKnow(text, len(order) > 0) {
		ans.Text = DontKnow(ans.Lang)
		ans.Grounded = true // it claims nothing
		return ans
	}
	ans.Text = text
	ans.Answered = true

	claims := answerClaims(text)
	// The claims that cite each new number.
	cites := make([][]string, len(order)+1)
	uncited := 0
	for i, c := range claims {
		for _, k := range c.nums {
			if k >= 1 && k <= len(order) {
				cites[k] = append(cites[k], c.text)
			}
		}
		if len(c.nums) == 0 && c.substantive && !coveredLater(text, claims, i) {
			uncited++
		}
	}
	for k, num := range order {
		psg := p.Passages[num-1]
		shown := psg.Text
		if num-1 < len(p.Shown) {
			shown = p.Shown[num-1]
		}
		ans.Citations = append(ans.Citations, quarry.Citation{
			N:       k + 1,
			DocID:   psg.DocID,
			Path:    psg.Path,
			Title:   psg.Title,
			Heading: psg.Heading,
			Page:    psg.Page,
			ChunkID: psg.ID,
			Snippet: bestSnippet(shown, cites[k+1]),
		})
	}
	switch {
	case len(order) == 0:
		ans.Notes = append(ans.Notes, "the answer cites none of the passages, so it is not grounded in them")
	case uncited > 0:
		ans.Notes = append(ans.Notes, fmt.Sprintf("%d sentence(s) of the answer cite no passage", uncited))
	default:
		ans.Grounded = true
	}
	return ans
}

func citeNums(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = "[" + strconv.Itoa(n) + "]"
	}
	return strings.Join(parts, " ")
}

// answerClaim is a sentence of an answer with the (renumbered) passages
// it cites.
type answerClaim struct {
	text        string // without markers
	start, end  int
	nums        []int
	substantive bool // states something that needs a source
}

// answerClaims splits an answer into sentences and attaches each marker
// to the sentence it follows: a marker after the final period ("five
// days. [1]") belongs to the sentence before.
func answerClaims(text string) []answerClaim {
	markers := findCiteMarkers(text)
	var claims []answerClaim
	for _, s := range SplitSentences(text) {
		c := answerClaim{start: s.Start, end: s.End}
		var plain strings.Builder
		last := s.Start
		for _, m := range markers {
			if m.Start >= s.Start && m.End <= s.End {
				plain.WriteString(text[last:m.Start])
				last = m.End
				c.nums = append(c.nums, m.Nums...)
			}
		}
		plain.WriteString(text[last:s.End])
		c.text = strings.TrimSpace(plain.String())
		if !claimHasWord(c.text) && len(claims) > 0 {
			// Only markers: they cite for the sentence before.
			prev := &claims[len(claims)-1]
			prev.nums = append(prev.nums, c.nums...)
			prev.end = c.end
			continue
		}
		c.substantive = claimIsSubstantive(c.text)
		claims = append(claims, c)
	}
	return claims
}

func claimHasWord(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// claimIsSubstantive reports whether a sentence states something that needs
// a source: not a lead-in to a list ("Here is how:") and not a
// courtesy of a word or two ("Sure!").
func claimIsSubstantive(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ":") || strings.HasSuffix(s, "：") {
		return false
	}
	return len(Terms(s)) >= 2
}

// coveredLater reports whether uncited claim i is covered by a
// citation later in its paragraph: "Returns are free. Items must be
// unused. [1]" cites [1] for both sentences. A blank line ends a
// paragraph.
func coveredLater(text string, claims []answerClaim, i int) bool {
	for j := i + 1; j < len(claims); j++ {
		if strings.Contains(text[claims[j-1].end:claims[j].start], "\n\n") {
			return false
		}
		if len(claims[j].nums) > 0 {
			return true
		}
	}
	return false
}

// bestSnippet returns the sentence of text that best matches claims:
// the one sharing the most of their terms, relative to its own length,
// earlier on ties. It is a verbatim substring of text, at most
// maxSnippetBytes long.
func bestSnippet(text string, claims []string) string {
	want := map[string]bool{}
	for _, c := range claims {
		for _, t := range Terms(c) {
			want[t] = true
		}
	}
	sents := SplitSentences(text)
	if len(sents) == 0 {
		return clipSnippet(strings.TrimSpace(text))
	}
	best, bestScore := 0, -1.0
	for i, s := range sents {
		terms := Terms(s.Text)
		shared := 0
		for _, t := range terms {
			if want[t] {
				shared++
			}
		}
		score := float64(shared) / math.Sqrt(float64(len(terms)+1))
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return clipSnippet(sents[best].Text)
}

// clipSnippet cuts s to maxSnippetBytes at a space or character
// boundary.
func clipSnippet(s string) string {
	if len(s) <= maxSnippetBytes {
		return s
	}
	cut := maxSnippetBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > cut/2 {
		cut = sp
	}
	return strings.TrimSpace(s[:cut])
}
