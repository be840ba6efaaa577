package convlog

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/quarry-kb/quarry"
)

// The report's types are the domain's.
type (
	Report        = quarry.Report
	Bucket        = quarry.Bucket
	QuestionGroup = quarry.QuestionGroup
)

// ReportTop is the length of a report's lists.
const ReportTop = 10

// Report computes the figures for the turns f selects (f.Unanswered,
// f.DownRated and f.Limit are ignored). With a zero f.Since the range
// starts at the first turn; with a zero f.Until it ends now.
func (l *Log) Report(ctx context.Context, f Filter) (*Report, error) {
	f.Unanswered, f.DownRated, f.Limit = false, false, 0
	if f.Until.IsZero() {
		f.Until = l.now()
	}
	where, args := whereClause(f)
	r := &Report{KB: f.KB, Until: f.Until.UTC()}

	// One pass over the range's turns; the figures are summed here
	// rather than by several SQL scans (the pure-Go SQLite reads rows
	// slowly, so the fewer passes the better).
	rows, err := l.db.QueryContext(ctx, `SELECT t.time, t.answered, t.latency_ms, t.conversation_id, COALESCE(f.rating, 0),
		CASE WHEN t.answered = 0 THEN t.question ELSE '' END
		FROM turns t LEFT JOIN feedback f ON f.answer_id = t.answer_id`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("convlog: report: %w", err)
	}
	type slim struct {
		ms       int64
		answered bool
		rating   int
	}
	var turns []slim
	var lat []float64
	convs := map[string]struct{}{}
	unanswered := map[string]int{}
	first := int64(math.MaxInt64)
	for rows.Next() {
		var t slim
		var answered int
		var latency float64
		var conv, question string
		if err := rows.Scan(&t.ms, &answered, &latency, &conv, &t.rating, &question); err != nil {
			rows.Close()
			return nil, fmt.Errorf("convlog: report: %w", err)
		}
		t.answered = answered != 0
		turns = append(turns, t)
		lat = append(lat, latency)
		convs[conv] = struct{}{}
		if !t.answered {
			unanswered[question]++
		}
		first = min(first, t.ms)
		switch {
		case t.rating > 0:
			r.Up++
		case t.rating < 0:
			r.Down++
		}
		if t.answered {
			r.Answered++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("convlog: report: %w", err)
	}
	r.Questions, r.Conversations = len(turns), len(convs)
	r.Declined = r.Questions - r.Answered
	r.AnswerRate = ratio(r.Answered, r.Questions)
	r.Satisfaction = ratio(r.Up, r.Up+r.Down)
	sort.Float64s(lat)
	r.LatencyP50MS = Percentile(lat, 50)
	r.LatencyP95MS = Percentile(lat, 95)

	since := f.Since
	if since.IsZero() {
		since = f.Until
		if r.Questions > 0 {
			since = time.UnixMilli(first)
		}
	}
	r.Since = since.UTC()

	width := BucketWidth(r.Until.Sub(r.Since))
	r.BucketSeconds = int64(width / time.Second)
	origin := BucketOrigin(r.Since, width)
	n := max(1, int((r.Until.Sub(origin)+width-1)/width))
	r.Volume = make([]Bucket, n)
	for i := range r.Volume {
		r.Volume[i].Start = origin.Add(time.Duration(i) * width)
	}
	for _, t := range turns {
		i := (t.ms - origin.UnixMilli()) / width.Milliseconds()
		if i < 0 || i >= int64(n) {
			continue // only with a zero Since and a skewed clock
		}
		b := &r.Volume[i]
		b.Questions++
		if t.answered {
			b.Answered++
		}
		switch {
		case t.rating > 0:
			b.Up++
		case t.rating < 0:
			b.Down++
		}
	}
	qc := make([]QuestionCount, 0, len(unanswered))
	for q, c := range unanswered {
		qc = append(qc, QuestionCount{Question: q, Count: c})
	}
	r.Unanswered = GroupQuestions(qc)

	if r.LowestRated, err = l.turnList(ctx, where, args, "f.rating < 0", "f.time DESC, t.answer_id", ReportTop); err != nil {
		return nil, err
	}
	if r.Slowest, err = l.turnList(ctx, where, args, "", "t.latency_ms DESC, t.answer_id", ReportTop); err != nil {
		return nil, err
	}
	return r, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Percentile returns the nearest-rank p-th percentile of sorted values
// (0 for none).
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// BucketWidth is the width of the volume chart's buckets for a range:
// hours up to two days, days up to 120 days, weeks beyond.
func BucketWidth(span time.Duration) time.Duration {
	switch {
	case span <= 48*time.Hour:
		return time.Hour
	case span <= 120*24*time.Hour:
		return 24 * time.Hour
	}
	return 7 * 24 * time.Hour
}

// BucketOrigin is where the buckets of a range starting at since begin:
// since rounded down to a whole hour, day or week (UTC), so bars cover
// calendar hours and days. The first bucket holds only turns from since.
func BucketOrigin(since time.Time, width time.Duration) time.Time {
	return since.UTC().Truncate(width)
}

func (l *Log) turnList(ctx context.Context, where string, args []any, extra, order string, limit int) ([]Turn, error) {
	if extra != "" {
		if where == "" {
			where = " WHERE " + extra
		} else {
			where += " AND " + extra
		}
	}
	rows, err := l.db.QueryContext(ctx, selectTurns+where+" ORDER BY "+order+fmt.Sprintf(" LIMIT %d", limit), args...)
	if err != nil {
		return nil, fmt.Errorf("convlog: report list: %w", err)
	}
	ts, err := scanTurns(rows)
	if ts == nil && err == nil {
		ts = []Turn{}
	}
	return ts, err
}

// QuestionCount is a distinct question and how often it was asked.
type QuestionCount struct {
	Question string
	Count    int
}

// GroupThreshold is the Jaccard similarity of two questions' terms at
// which they count as near-duplicates.
const GroupThreshold = 0.5

// GroupQuestions groups near-duplicate questions: each question, most
// frequent first, joins the first group whose leading question shares
// at least GroupThreshold of their terms (Jaccard), or starts a group.
// Terms are lower-cased words without a plural "s" and a few function
// words, and pairs of adjacent Han characters, so "How do I get a
// refund?" and "how to get refunds" group. Groups come most frequent first, ties by question.
func GroupQuestions(qs []QuestionCount) []QuestionGroup {
	qs = append([]QuestionCount(nil), qs...)
	sort.Slice(qs, func(i, j int) bool {
		if qs[i].Count != qs[j].Count {
			return qs[i].Count > qs[j].Count
		}
		return qs[i].Question < qs[j].Question
	})
	type group struct {
		QuestionGroup
		terms map[string]bool
	}
	var groups []*group
	byTerm := map[string][]int{} // term → groups whose leader has it
	for _, q := range qs {
		terms := Terms(q.Question)
		best, bestSim := -1, 0.0
		seen := map[int]bool{}
		for t := range terms {
			for _, gi := range byTerm[t] {
				if seen[gi] {
					continue
				}
				seen[gi] = true
				if s := jaccard(terms, groups[gi].terms); s >= GroupThreshold && (s > bestSim || s == bestSim && gi < best) {
					best, bestSim = gi, s
				}
			}
		}
		if best < 0 && len(terms) == 0 {
			// No terms at all ("???"): group only with the same text.
			for gi, g := range groups {
				if len(g.terms) == 0 && strings.EqualFold(strings.TrimSpace(g.Question), strings.TrimSpace(q.Question)) {
					best = gi
					break
				}
			}
		}
		if best < 0 {
			groups = append(groups, &group{QuestionGroup: QuestionGroup{Question: q.Question}, terms: terms})
			best = len(groups) - 1
			for t := range terms {
				byTerm[t] = append(byTerm[t], best)
			}
		} else if len(groups[best].Variants) < 5 {
			groups[best].Variants = append(groups[best].Variants, q.Question)
		}
		groups[best].Count += q.Count
	}
	out := make([]QuestionGroup, len(groups))
	for i, g := range groups {
		out[i] = g.QuestionGroup
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Question < out[j].Question
	})
	return out
}

var stopWords = map[string]bool{
	"a": true, "an": true, "the": true, "i": true, "my": true, "me": true, "do": true, "does": true, "to": true,
	"is": true, "are": true, "can": true, "of": true, "for": true, "in": true, "on": true, "it": true, "you": true,
	"your": true, "what": true, "how": true, "please": true, "we": true, "be": true, "and": true, "or": true,
}

// Terms returns the terms GroupQuestions compares questions by.
func Terms(q string) map[string]bool {
	terms := map[string]bool{}
	var word []rune
	var han []rune
	flushWord := func() {
		if len(word) == 0 {
			return
		}
		w := string(word)
		word = word[:0]
		if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") {
			w = w[:len(w)-1]
		}
		if !stopWords[w] {
			terms[w] = true
		}
	}
	flushHan := func() {
		switch {
		case len(han) == 1:
			terms[string(han)] = true
		case len(han) > 1:
			for i := 0; i+1 < len(han); i++ {
				terms[string(han[i:i+2])] = true
			}
		}
		han = han[:0]
	}
	for _, r := range strings.ToLower(q) {
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			flushHan()
			word = append(word, r)
		default:
			flushWord()
			flushHan()
		}
	}
	flushWord()
	flushHan()
	return terms
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter := 0
	for t := range a {
		if b[t] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
