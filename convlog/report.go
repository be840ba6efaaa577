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

	var up, down, answered, first sumInt
	err := l.db.QueryRowContext(ctx, `SELECT COUNT(*), SUM(t.answered), COUNT(DISTINCT t.conversation_id),
		SUM(f.rating > 0), SUM(f.rating < 0), MIN(t.time) FROM turns t LEFT JOIN feedback f ON f.answer_id = t.answer_id`+where, args...).
		Scan(&r.Questions, &answered, &r.Conversations, &up, &down, &first)
	if err != nil {
		return nil, fmt.Errorf("convlog: report totals: %w", err)
	}
	r.Answered, r.Up, r.Down = int(answered), int(up), int(down)
	r.Declined = r.Questions - r.Answered
	r.AnswerRate = ratio(r.Answered, r.Questions)
	r.Satisfaction = ratio(r.Up, r.Up+r.Down)

	since := f.Since
	if since.IsZero() {
		since = f.Until
		if r.Questions > 0 {
			since = time.UnixMilli(int64(first))
		}
	}
	r.Since = since.UTC()

	if err := l.latencies(ctx, where, args, r); err != nil {
		return nil, err
	}
	if err := l.volume(ctx, where, args, r); err != nil {
		return nil, err
	}
	if err := l.unanswered(ctx, where, args, r); err != nil {
		return nil, err
	}
	if r.LowestRated, err = l.turnList(ctx, where, args, "f.rating < 0", "f.time DESC, t.answer_id", ReportTop); err != nil {
		return nil, err
	}
	if r.Slowest, err = l.turnList(ctx, where, args, "", "t.latency_ms DESC, t.answer_id", ReportTop); err != nil {
		return nil, err
	}
	return r, nil
}

// sumInt scans a SUM or MIN that is NULL over no rows as 0.
type sumInt int64

func (s *sumInt) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s = 0
	case int64:
		*s = sumInt(x)
	case float64:
		*s = sumInt(x)
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (l *Log) latencies(ctx context.Context, where string, args []any, r *Report) error {
	rows, err := l.db.QueryContext(ctx, `SELECT t.latency_ms FROM turns t LEFT JOIN feedback f ON f.answer_id = t.answer_id`+where+` ORDER BY t.latency_ms`, args...)
	if err != nil {
		return fmt.Errorf("convlog: report latencies: %w", err)
	}
	defer rows.Close()
	var ls []float64
	for rows.Next() {
		var v float64
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("convlog: report latencies: %w", err)
		}
		ls = append(ls, v)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("convlog: report latencies: %w", err)
	}
	r.LatencyP50MS = Percentile(ls, 50)
	r.LatencyP95MS = Percentile(ls, 95)
	return nil
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

func (l *Log) volume(ctx context.Context, where string, args []any, r *Report) error {
	width := BucketWidth(r.Until.Sub(r.Since))
	r.BucketSeconds = int64(width / time.Second)
	n := int((r.Until.Sub(r.Since) + width - 1) / width)
	if n < 1 {
		n = 1
	}
	r.Volume = make([]Bucket, n)
	for i := range r.Volume {
		r.Volume[i].Start = r.Since.Add(time.Duration(i) * width)
	}
	q := `SELECT (t.time - ?) / ?, COUNT(*), SUM(t.answered), SUM(f.rating > 0), SUM(f.rating < 0)
		FROM turns t LEFT JOIN feedback f ON f.answer_id = t.answer_id` + where + ` GROUP BY 1`
	a := append([]any{r.Since.UnixMilli(), width.Milliseconds()}, args...)
	rows, err := l.db.QueryContext(ctx, q, a...)
	if err != nil {
		return fmt.Errorf("convlog: report volume: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		var b Bucket
		var ans, up, down sumInt
		if err := rows.Scan(&i, &b.Questions, &ans, &up, &down); err != nil {
			return fmt.Errorf("convlog: report volume: %w", err)
		}
		if i < 0 || i >= int64(n) {
			continue // outside the range (only with a zero Since and skewed clocks)
		}
		v := &r.Volume[i]
		v.Questions, v.Answered, v.Up, v.Down = b.Questions, int(ans), int(up), int(down)
	}
	return rows.Err()
}

func (l *Log) unanswered(ctx context.Context, where string, args []any, r *Report) error {
	cond := " WHERE t.answered = 0"
	if where != "" {
		cond = where + " AND t.answered = 0"
	}
	rows, err := l.db.QueryContext(ctx, `SELECT t.question, COUNT(*) FROM turns t LEFT JOIN feedback f ON f.answer_id = t.answer_id`+
		cond+` GROUP BY t.question`, args...)
	if err != nil {
		return fmt.Errorf("convlog: report unanswered: %w", err)
	}
	defer rows.Close()
	var qs []QuestionCount
	for rows.Next() {
		var q QuestionCount
		if err := rows.Scan(&q.Question, &q.Count); err != nil {
			return fmt.Errorf("convlog: report unanswered: %w", err)
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("convlog: report unanswered: %w", err)
	}
	r.Unanswered = GroupQuestions(qs)
	return nil
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
