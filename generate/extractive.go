package generate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

// Defaults for the zero Config.
const (
	DefaultMinSupport        = 0.30
	DefaultMinSupportUnknown = 0.47
	DefaultMaxSentences      = 3
	DefaultTopPassages       = 4
	DefaultMaxAnswerChars    = 800
	DefaultRankBonus         = 0.2
)

// contextCredit is the credit a question term gets when it is not in a
// sentence but is in the rest of its passage (its text, title or
// heading): "They are processed within 5 days." under the heading
// "Refunds" does answer "How long do refunds take?".
const contextCredit = 0.75

// extraScore is the share of the best sentence's score another sentence
// needs to be quoted too (it must also reach MinSupport on its own).
const extraScore = 0.7

// extraSupport is the support, with and without context credit, that a
// sentence after the first needs to be quoted: it must share the
// question's point on its own, not only sit in a relevant passage.
const extraSupport = 0.2

// typeBonus is added to the score of a sentence that holds the kind of
// fact the question asks for (a duration for "how long" or 多久, money
// for "how much" or 多少钱, a time for "when", a figure for "how many",
// an enumeration for "which formats" or 哪些):
// of two sentences that cover the question alike, the one that gives
// the figure is the answer.
const typeBonus = 0.2

// sentenceIDFWeight weighs a sentence's match against the question
// with term rarity taken over all sentences of the retrieved passages
// (candidate.bm, in [0, 1]) in its score. Passage-level rarity cannot
// tell apart the sentences of one passage: a term every sentence of the
// topic repeats ("battery" in a battery article) weighs as much as the
// one that singles out the answering sentence ("charge"). The title and
// heading of a passage lend their words to each of its sentences at
// contextCredit. 0.2 is the low end of the plateau (0.2 to 0.8) over
// which it helps on the odd-numbered sample questions; it only reorders
// sentences, so the abstention calibration is unchanged.
const sentenceIDFWeight = 0.2

// absentKnownWeight scales the rarity weight of a question term that no
// retrieved passage holds although the knowledge base uses it: the
// asker's own wording ("switch", "wrong", "colleague"), which retrieval
// found no passage for beside the question's other words, more often
// than its point. Such a term is weighed as if one passage held it (the
// rarest a held term can be) times this. A term the knowledge base never
// uses, and a number (never looked up), keep their full weight: a
// question about something the documents never mention must not be
// answered from its other words. On the sample help centre and the
// DolphinScheduler set (since ingestion folds short subsections), 0.5,
// 0.4 and 0.3 answer alike, one more right on each than 1 (no
// discount); 0.25 and below decline one unanswerable question fewer
// (the sample's zh-na-05). 0.5, furthest from that edge, is kept.
const absentKnownWeight = 0.5

// nearDuplicate is the Jaccard similarity of two sentences' terms above
// which the second adds nothing.
const nearDuplicate = 0.6

// Config tunes an Extractive answerer. The zero value of every field
// means its default.
type Config struct {
	// MinSupport is the confidence the best sentence needs for an
	// answer when every word of the question occurs somewhere in the
	// knowledge base (see Vocabulary); below it the answerer abstains.
	// Confidence (see confidence) is the sentence's support, in [0, 1]:
	// the share of the question's content terms it covers, taking the
	// smaller of the plain share and the share weighted by how rare each
	// term is among the retrieved passages (a term matched in the
	// sentence counts 1, by a synonym 0.8, by another form of the word
	// 0.85, one only elsewhere in its passage 0.75 of that; a term no
	// retrieved passage holds weighs as the rarest held one, times
	// absentKnownWeight when the knowledge base uses it), plus 0.25
	// when the sentence holds the kind of fact the question asks for,
	// less a penalty for very long sentences; a sentence sharing only one
	// of several question words has none. Default 0.30, calibrated on the
	// odd-numbered questions of the sample help centre's question file
	// (the even-numbered ones are held out) and checked on the
	// hand-written cases in extractive_test.go; negative means never
	// abstain while some sentence shares a term.
	MinSupport float64
	// MinSupportUnknown replaces MinSupport for a question with a word
	// the knowledge base never uses ("insurance" asked of a smart-home
	// help centre), and for every question when there is no Vocabulary:
	// passages that match such a question's other words are often about
	// something else, and the answer needs more evidence. It never lowers
	// MinSupport. Default 0.47 (calibrated with MinSupport), or
	// MinSupport when that is negative.
	MinSupportUnknown float64
	// Vocabulary tells which words the knowledge base uses; nil means
	// unknown, and every question needs MinSupportUnknown.
	Vocabulary Vocabulary
	// MaxSentences is the most sentences an answer quotes. Default 3.
	MaxSentences int
	// TopPassages is how many of the best-ranked passages sentences are
	// taken from. Default 4 (chosen with MinSupport; chunks are sections,
	// often short).
	TopPassages int
	// MaxAnswerChars bounds the answer's length in characters: sentences
	// after the first are only added while they fit. Default 800.
	MaxAnswerChars int
	// RankBonus is added to a sentence's score divided by its passage's
	// 1-based retrieval rank, so that of two similar sentences the one
	// the retriever ranked higher wins: the retriever weighs the whole
	// passage, title and heading included, and both legs. Default 0.2
	// (chosen on the odd-numbered sample questions: 0.17 to 0.22 tie;
	// 0.05 answers one fewer right, 0.3 one fewer). It orders
	// sentences; whether to abstain is decided on the chosen sentence's
	// confidence, which holds no rank bonus.
	RankBonus float64
}

func (c Config) withDefaults() Config {
	if c.MinSupport == 0 {
		c.MinSupport = DefaultMinSupport
	}
	if c.MinSupportUnknown == 0 {
		c.MinSupportUnknown = DefaultMinSupportUnknown
		if c.MinSupport < 0 {
			c.MinSupportUnknown = c.MinSupport
		}
	}
	if c.MaxSentences <= 0 {
		c.MaxSentences = DefaultMaxSentences
	}
	if c.TopPassages <= 0 {
		c.TopPassages = DefaultTopPassages
	}
	if c.MaxAnswerChars <= 0 {
		c.MaxAnswerChars = DefaultMaxAnswerChars
	}
	if c.RankBonus == 0 {
		c.RankBonus = DefaultRankBonus
	}
	return c
}

// Vocabulary reports, for each word, whether the knowledge base uses it
// anywhere (*bleveindex.Index satisfies it). Words are given as the
// question spells them, lower-cased: English words, and single Han
// characters.
type Vocabulary interface {
	Known(ctx context.Context, words []string) ([]bool, error)
}

// Extractive is the default, offline Answerer: it needs no model and
// composes its answer only from sentences of the retrieved passages,
// quoted verbatim with citation markers, or abstains when they do not
// support one. The zero value is ready to use with the default Config.
type Extractive struct {
	cfg Config
}

// NewExtractive returns an Extractive answerer.
func NewExtractive(cfg Config) *Extractive {
	return &Extractive{cfg: cfg}
}

var _ Answerer = (*Extractive)(nil)

// candidate is a sentence that could be quoted.
type candidate struct {
	p       int // index into the passages
	s       Sentence
	typed   bool    // holds the kind of fact the question asks for
	lone    bool    // shares only one of the question's several words
	support float64 // with credit for terms elsewhere in the passage
	own     float64 // from the sentence's own terms only
	bm      float64 // sentence-level BM25-style match, share of the question's idf mass
	score   float64
}

// Answer answers question from passages (best first). It abstains, with
// Answered false and a polite "I don't know" in the question's language,
// when no sentence reaches Config.MinSupport (or MinSupportUnknown, see
// there); that is not an error. A failing Vocabulary is not one either:
// the answer is composed as if the question had an unknown word, and
// carries a note.
func (e *Extractive) Answer(ctx context.Context, question string, passages []quarry.Passage, send func(quarry.Event) error) (quarry.Answer, error) {
	if err := emit(ctx, send, quarry.Event{Type: quarry.EventPassages, Passages: passages}); err != nil {
		return quarry.Answer{}, err
	}
	nov, err := e.novelty(ctx, question)
	if err != nil {
		if ctx.Err() != nil {
			return quarry.Answer{}, ctxError(ctx.Err())
		}
		nov = novelty{any: true}
	}
	ans := e.compose(question, passages, nov)
	if err != nil {
		ans.Notes = append(ans.Notes, "vocabulary lookup failed, answered with the stricter evidence threshold: "+err.Error())
	}
	if err := stream(ctx, ans, send); err != nil {
		return quarry.Answer{}, err
	}
	return ans.Answer, nil
}

// composed is an answer with the pieces its text streams as.
type composed struct {
	quarry.Answer
	Pieces  []string // concatenated, they are Answer.Text
	Support float64  // the best sentence's support, for calibration
}

// novelty is what the knowledge base's vocabulary says of a question's
// words.
type novelty struct {
	// any is true when the question has a word the knowledge base never
	// uses, or when there is no vocabulary to tell (see
	// Config.MinSupportUnknown).
	any bool
	// unused holds the question's words (as vocabularyWords spells them)
	// that the knowledge base never uses; nil when there is no
	// vocabulary, and then any word may be one.
	unused map[string]bool
}

// novelty asks the Vocabulary which of the question's words the
// knowledge base never uses; without a Vocabulary, any may be.
func (e *Extractive) novelty(ctx context.Context, question string) (novelty, error) {
	if e.cfg.Vocabulary == nil {
		return novelty{any: true}, nil
	}
	words := vocabularyWords(question)
	if len(words) == 0 {
		return novelty{unused: map[string]bool{}}, nil
	}
	known, err := e.cfg.Vocabulary.Known(ctx, words)
	if err != nil {
		return novelty{any: true}, err
	}
	if len(known) != len(words) {
		return novelty{any: true}, fmt.Errorf("vocabulary answered %d words of %d", len(known), len(words))
	}
	nov := novelty{unused: map[string]bool{}}
	for i, k := range known {
		if !k {
			nov.any = true
			nov.unused[words[i]] = true
		}
	}
	return nov, nil
}

// compose builds the answer; it does no I/O. nov tells which of the
// question's words the knowledge base never uses (see
// Config.MinSupportUnknown and absentKnownWeight).
func (e *Extractive) compose(question string, passages []quarry.Passage, nov novelty) composed {
	cfg := e.cfg.withDefaults()
	lang := DetectLang(question)
	abstain := func() composed {
		text := DontKnow(lang)
		return composed{
			Answer: quarry.Answer{Text: text, Answered: false, Grounded: true, Lang: lang,
				Citations: []quarry.Citation{}, Passages: passages},
			Pieces: []string{text},
		}
	}

	cands := rankSentences(cfg, question, passages, nov)
	if len(cands) == 0 {
		return abstain()
	}
	best := cands[0]
	minSupport := cfg.MinSupport
	if nov.any {
		minSupport = max(minSupport, cfg.MinSupportUnknown)
	}
	if conf := confidence(best); conf < minSupport {
		c := abstain()
		c.Support = conf
		return c
	}

	// The best sentence is quoted in its whole unit: its paragraph, its
	// list of steps, its table row (see unitOf).
	best.s = unitOf(passages[best.p].Text, best.s)
	if asksHow(question) {
		// A procedure's step is quoted with the steps before it.
		if u, ok := stepsUpTo(passages[best.p].Text, best.s, cfg.MaxAnswerChars); ok {
			best.s = u
		}
	}
	chosen := []candidate{best}
	chosenTerms := []map[string]bool{termSet(best.s.Text)}
	length := utf8.RuneCountInString(best.s.Text)
	// A sentence that announces what follows ("The fees are:", a label
	// line) is quoted with the sentence that completes it.
	if next, ok := continuation(passages[best.p].Text, best.s); ok && !ingest.IsQuestionLine(next.Text) {
		next = unitOf(passages[best.p].Text, next) // the whole list it introduces
		chosen = append(chosen, candidate{p: best.p, s: next, support: best.support, own: best.own, score: best.score})
		chosenTerms = append(chosenTerms, termSet(next.Text))
		length += utf8.RuneCountInString(next.Text)
	}
	for _, c := range cands[1:] {
		if len(chosen) == cfg.MaxSentences || c.score < extraScore*best.score {
			break
		}
		if c.support < extraSupport || c.own < extraSupport {
			continue // an extra sentence must support the answer on its own
		}
		inside := false
		for _, o := range chosen {
			if o.p == c.p && o.s.Start <= c.s.Start && c.s.End <= o.s.End {
				inside = true // already quoted in a unit
				break
			}
		}
		if inside {
			continue
		}
		if u := unitOf(passages[c.p].Text, c.s); length+utf8.RuneCountInString(u.Text) <= cfg.MaxAnswerChars {
			c.s = u
		}
		l := utf8.RuneCountInString(c.s.Text)
		if length+l > cfg.MaxAnswerChars {
			continue
		}
		ts := termSet(c.s.Text)
		dup := false
		for i, o := range chosen {
			if jaccard(ts, chosenTerms[i]) >= nearDuplicate ||
				strings.Contains(o.s.Text, c.s.Text) || strings.Contains(c.s.Text, o.s.Text) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		chosen = append(chosen, c)
		chosenTerms = append(chosenTerms, ts)
		length += l
	}

	// Order: passages in the order their best sentence was chosen (the
	// best answer first), sentences of one passage in text order.
	group := map[int]int{}
	for _, c := range chosen {
		if _, ok := group[c.p]; !ok {
			group[c.p] = len(group)
		}
	}
	slices.SortFunc(chosen, func(a, b candidate) int {
		if c := cmp.Compare(group[a.p], group[b.p]); c != 0 {
			return c
		}
		return cmp.Compare(a.s.Start, b.s.Start)
	})

	// One citation per cited passage, numbered in order of first
	// citation; its snippet spans the sentences quoted from it.
	cites := make([]quarry.Citation, 0, len(group))
	citeOf := map[int]int{} // passage → index into cites
	span := map[int][2]int{}
	for _, c := range chosen {
		if _, ok := citeOf[c.p]; !ok {
			citeOf[c.p] = len(cites)
			psg := passages[c.p]
			cites = append(cites, quarry.Citation{N: len(cites) + 1, DocID: psg.DocID, Path: psg.Path,
				Title: psg.Title, Heading: psg.Heading, Page: psg.Page, ChunkID: psg.ID})
			span[c.p] = [2]int{c.s.Start, c.s.End}
		}
		sp := span[c.p]
		span[c.p] = [2]int{min(sp[0], c.s.Start), max(sp[1], c.s.End)}
	}
	for p, i := range citeOf {
		sp := span[p]
		cites[i].Snippet = passages[p].Text[sp[0]:sp[1]]
	}

	pieces := make([]string, len(chosen))
	var text strings.Builder
	for i, c := range chosen {
		var piece strings.Builder
		if i > 0 && !endsCJK(chosen[i-1].s.Text) {
			piece.WriteByte(' ')
		}
		piece.WriteString(c.s.Text)
		if !endsCJK(c.s.Text) {
			piece.WriteByte(' ')
		}
		piece.WriteString("[" + strconv.Itoa(cites[citeOf[c.p]].N) + "]")
		pieces[i] = piece.String()
		text.WriteString(pieces[i])
	}
	return composed{
		Answer: quarry.Answer{Text: text.String(), Answered: true, Grounded: true, Lang: lang,
			Citations: cites, Passages: passages},
		Pieces:  pieces,
		Support: confidence(best),
	}
}

// confidence is the evidence that a sentence answers the question: its
// support, plus typeEvidence when the question asks for a kind of fact
// (a duration, an amount, a time, a count) and the sentence gives one,
// less its lengthPenalty (a flattened table holds every term). A
// sentence whose passage shares only one of the question's several
// words ("delete" of "delete my account") has none: one word, however
// rare, does not make a passage about the question.
// A question that asks "how long" and a sentence on its subject that
// says "within 5 business days" agree in a way shared words alone do
// not show; an unanswerable question, whose subject the passages name
// but whose point they miss, rarely gets that agreement.
func confidence(c candidate) float64 {
	if c.lone {
		return 0
	}
	conf := c.support - lengthPenalty(c.s.Text)
	if c.typed {
		conf += typeEvidence
	}
	return conf
}

// typeEvidence is what a sentence holding the asked-for kind of fact
// adds to its confidence (see confidence).
const typeEvidence = 0.25

// qterm is one content term of a question with what it matches.
type qterm struct {
	term   string
	base   float64  // weight of the term's kind (word, Han bigram, Han character)
	alts   []string // synonyms from the lexicon
	latin  bool     // an English word, which may match fuzzily
	unused bool     // the knowledge base may never use it (see novelty)
	weight float64  // base × rarity among the retrieved passages
}

// match returns the credit a text whose terms are set earns for q: 1 for
// the term itself, synonymCredit for a synonym, fuzzyCredit for another
// form of the word the stemmer missed, else 0.
func (q *qterm) match(set map[string]bool) float64 {
	if set[q.term] {
		return 1
	}
	for _, a := range q.alts {
		if set[a] {
			return synonymCredit
		}
	}
	if !q.latin && utf8.RuneCountInString(q.term) == 2 {
		// A Han bigram the text does not hold as such, but whose two
		// characters it holds: often the same word split or reordered
		// (维修 and 修好), or a bigram across a word boundary.
		r, size := utf8.DecodeRuneInString(q.term)
		if set[string(r)] && set[q.term[size:]] {
			return hanSplitCredit
		}
	}
	if isNumeral(q.term) && strings.Contains(q.term, ".") {
		// A version covers its releases: "3.3" holds "3.3.1", "3.3.x".
		for t := range set {
			if strings.HasPrefix(t, q.term+".") {
				return 1
			}
		}
	}
	if q.latin && len(q.term) >= 5 {
		for t := range set {
			if fuzzyMatch(q.term, t) {
				return fuzzyCredit
			}
		}
	}
	return 0
}

// askedCredit is the credit a question term gets in the answer of a
// FAQ entry whose question holds it.
//
// 0.75 (contextCredit): on the sample help centre and the
// DolphinScheduler set, 0 to 0.75 answer alike and 0.9 answers one
// fewer right; it lets a FAQ answer that repeats none of its question's
// words be quoted at all.
const askedCredit = contextCredit

// Credits for a question term matched other than by its exact form.
const (
	synonymCredit = 0.8
	fuzzyCredit   = 0.85
	// hanSplitCredit is for a Han bigram whose characters occur apart.
	hanSplitCredit = 0.5
)

// questionTerms returns the distinct content terms of a question; nov
// marks those the knowledge base may never use.
func questionTerms(question string, nov novelty) []qterm {
	index := map[string]int{}
	var out []qterm
	eachTermWord(question, func(t, word string, base float64) {
		i, ok := index[t]
		if !ok {
			i = len(out)
			index[t] = i
			r, _ := utf8.DecodeRuneInString(t)
			out = append(out, qterm{term: t, base: base, alts: synonymsOf[t], latin: r < utf8.RuneSelf && !isNumeral(t)})
		}
		out[i].unused = out[i].unused || nov.mayBeUnused(word)
	})
	return out
}

// mayBeUnused reports whether the knowledge base may never use word (a
// question word as eachTermWord spells it): it is one of the unused
// words, or a Han bigram with an unused character, or a number (not
// looked up), or there is no vocabulary to tell.
func (nov novelty) mayBeUnused(word string) bool {
	if nov.unused == nil || isNumeral(word) {
		return true // numbers are not looked up
	}
	if nov.unused[word] {
		return true
	}
	if r, _ := utf8.DecodeRuneInString(word); r >= utf8.RuneSelf {
		for _, c := range word {
			if nov.unused[string(c)] {
				return true
			}
		}
	}
	return false
}

// rankSentences scores the sentences of the top passages that share a
// term with the question, best first (ties: higher-ranked passage, then
// earlier sentence). It returns nil when the question has no content
// terms or there are no passages.
func rankSentences(cfg Config, question string, passages []quarry.Passage, nov novelty) []candidate {
	qs := questionTerms(question, nov)
	if len(qs) == 0 || len(passages) == 0 {
		return nil
	}
	nq := len(qs)

	// How well each passage holds each question term anywhere (text,
	// title, heading), and in how many passages each term occurs.
	inPassage := make([]float64, len(passages)*nq)
	df := make([]float64, nq)
	for p, psg := range passages {
		set := termSet(psg.Title + "\n" + psg.Heading + "\n" + psg.Text)
		has := inPassage[p*nq : (p+1)*nq]
		for j := range qs {
			has[j] = qs[j].match(set)
			df[j] += has[j]
		}
	}
	// Rarity: a BM25-style idf over the retrieved passages. A term no
	// passage holds is weighed as if one did, so that a question's
	// incidental words cannot outweigh the words it shares.
	n := float64(len(passages))
	var sumW, sumB float64
	for j := range qs {
		d := max(df[j], 1)
		qs[j].weight = qs[j].base * math.Log(1+(n-d+0.5)/(d+0.5))
		if df[j] == 0 && !qs[j].unused {
			// Known to the knowledge base, yet in none of the passages
			// retrieved for the question's other words: more often the
			// asker's own wording ("switch", "colleague's") than what the
			// question is about.
			qs[j].weight *= absentKnownWeight
		}
		sumW += qs[j].weight
		sumB += qs[j].base
	}

	qWords := 0
	for _, q := range qs {
		if q.base == weightWord {
			qWords++
		}
	}
	// Sentence statistics: a BM25-style idf of each question term over
	// all sentences of the retrieved passages, a finer grain than the
	// passages, so that a term every sentence of the topic repeats
	// weighs little and the one that singles out the answer much.
	var nSent float64
	sdf := make([]float64, nq)
	for _, psg := range passages {
		for _, s := range SplitSentences(psg.Text) {
			nSent++
			set := termSet(s.Text)
			for j := range qs {
				if qs[j].match(set) > 0 {
					sdf[j]++
				}
			}
		}
	}
	sidf := make([]float64, nq)
	var sumI float64
	for j := range qs {
		sidf[j] = qs[j].base * math.Log(1+(nSent-sdf[j]+0.5)/(sdf[j]+0.5))
		sumI += sidf[j]
	}

	want := questionType(question)
	var cands []candidate
	for p := range min(cfg.TopPassages, len(passages)) {
		has := inPassage[p*nq : (p+1)*nq]
		head := termSet(passages[p].Title + "\n" + passages[p].Heading)
		// The terms of the FAQ question the sentences answer: a question
		// line above them, or a heading that is a question.
		var asked map[string]bool
		if hs := strings.Split(passages[p].Heading, " > "); ingest.IsQuestionLine(hs[len(hs)-1]) {
			asked = termSet(hs[len(hs)-1])
		}
		for _, s := range SplitSentences(passages[p].Text) {
			if ingest.IsQuestionLine(s.Text) {
				// A question is never the answer; its words are the
				// context of the sentences that answer it.
				asked = termSet(s.Text)
				continue
			}
			if namesTopic(passages[p].Chunk, s) {
				continue
			}
			set := termSet(s.Text)
			var w, b, ownW, ownB, bm float64
			words := 0 // whole words (English words, Han bigrams) credited
			for j := range qs {
				// A FAQ answer owns the words of its question: the two
				// are one unit.
				own := max(qs[j].match(set), askedCredit*qs[j].match(asked))
				bm += max(own, contextCredit*qs[j].match(head)) * sidf[j]
				ctx := contextCredit * has[j]
				if qs[j].base == weightWord && max(own, ctx) > 0 {
					words++
				}
				w += max(own, ctx) * qs[j].weight
				b += max(own, ctx) * qs[j].base
				ownW += own * qs[j].weight
				ownB += own * qs[j].base
			}
			if ownB == 0 {
				continue
			}
			c := candidate{p: p, s: s, support: coverage(w, b, sumW, sumB), own: coverage(ownW, ownB, sumW, sumB),
				lone: words <= 1 && qWords >= 2}
			c.score = c.support + cfg.RankBonus/float64(p+1) - lengthPenalty(s.Text)
			if sumI > 0 {
				c.bm = bm / sumI
				c.score += sentenceIDFWeight * c.bm
			}
			if want != 0 && sentenceTypes(s.Text)&want != 0 {
				c.score += typeBonus
				c.typed = true
			}
			cands = append(cands, c)
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.p, b.p); c != 0 {
			return c
		}
		return cmp.Compare(a.s.Start, b.s.Start)
	})
	return cands
}

// continuation returns the sentence after s in text when s does not
// stand on its own: it ends with a colon, introducing a list or table,
// or it is a short label (under continuationChars characters) whose
// facts are in the next line.
func continuation(text string, s Sentence) (Sentence, bool) {
	t := strings.TrimSpace(s.Text)
	if !strings.HasSuffix(t, ":") && !strings.HasSuffix(t, "：") && utf8.RuneCountInString(t) >= continuationChars {
		return Sentence{}, false
	}
	for _, n := range SplitSentences(text[s.End:]) {
		n.Start += s.End
		n.End += s.End
		return n, true
	}
	return Sentence{}, false
}

// continuationChars is the length under which a sentence is a label
// quoted together with the sentence after it.
const continuationChars = 25

// lengthPenalty lowers the score of a very long "sentence" (a flattened
// table or a paragraph without punctuation, as PDF extraction yields):
// it covers many question terms by sheer size, not because it answers.
// No penalty up to longSentence characters, then 0.1 per further
// longSentence characters.
func lengthPenalty(s string) float64 {
	n := utf8.RuneCountInString(s)
	if DetectLang(s) == LangChinese {
		n *= 3 // a Han character carries about as much as three Latin letters
	}
	if n <= longSentence {
		return 0
	}
	return 0.1 * float64(n-longSentence) / longSentence
}

const longSentence = 250

// namesTopic reports whether sentence s of chunk c only names a topic:
// a heading ("## Refunds", or a line that repeats the title or a heading
// of c) or the header row of a table. It answers nothing, though its
// words still lend context to the passage's other sentences.
func namesTopic(c quarry.Chunk, s Sentence) bool {
	if strings.HasPrefix(s.Text, "#") {
		return true
	}
	t := strings.ToLower(s.Text)
	if t == strings.ToLower(c.Title) {
		return true
	}
	for h := range strings.SplitSeq(c.Heading, " > ") {
		if t == strings.ToLower(strings.TrimSpace(h)) {
			return true
		}
	}
	return isTableHeader(c.Text, s) || isSubheading(c.Text, s)
}

// isSubheading reports whether s is a paragraph of its own that is a
// subheading line (see isSubheadLine): how ingestion keeps the headings
// of the subsections it folds into one chunk ("Create a new app",
// "不适用七天无理由退货的商品"). A list item or a table row is not one.
func isSubheading(text string, s Sentence) bool {
	before := strings.TrimRight(text[:s.Start], " \t")
	after := strings.TrimLeft(text[s.End:], " \t")
	if before != "" && !strings.HasSuffix(before, "\n\n") || after != "" && !strings.HasPrefix(after, "\n\n") {
		return false
	}
	t := strings.TrimSpace(s.Text)
	if isTableRow(t) || listMarker(t) {
		return false
	}
	return isSubheadLine(t)
}

// listMarker reports whether a line starts as a list item does: "- ",
// "* ", "• ", "1. ", "1) ".
func listMarker(line string) bool {
	for _, m := range []string{"- ", "* ", "• ", "+ "} {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	i := 0
	for i < len(line) && isDigitByte(line[i]) {
		i++
	}
	return i > 0 && i < len(line) && (line[i] == '.' || line[i] == ')')
}

// isTableHeader reports whether s is a table row that starts a table:
// the closest non-blank line before it is not a row, the one after is.
func isTableHeader(text string, s Sentence) bool {
	lineStart := strings.LastIndexByte(text[:s.Start], '\n') + 1
	lineEnd := len(text)
	if i := strings.IndexByte(text[s.End:], '\n'); i >= 0 {
		lineEnd = s.End + i
	}
	if !isTableRow(text[lineStart:lineEnd]) {
		return false
	}
	var prev, next string
	for _, l := range strings.Split(text[:lineStart], "\n") {
		if strings.TrimSpace(l) != "" {
			prev = l
		}
	}
	for l := range strings.SplitSeq(text[lineEnd:], "\n") {
		if strings.TrimSpace(l) != "" {
			next = l
			break
		}
	}
	return !isTableRow(prev) && isTableRow(next)
}

// endsCJK reports whether s ends with a CJK character or punctuation, after
// which Chinese text continues without a space.
func endsCJK(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r >= 0x2E80 && r != utf8.RuneError
}

// coverage is the support of a sentence whose credited terms weigh w by
// rarity and b by base weight, out of sumW and sumB: the smaller share.
func coverage(w, b, sumW, sumB float64) float64 {
	c := b / sumB
	if sumW > 0 {
		c = min(c, w/sumW)
	}
	return c
}

func termSet(s string) map[string]bool {
	m := map[string]bool{}
	eachTerm(s, func(t string, _ float64) { m[t] = true })
	return m
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for t := range a {
		if b[t] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
