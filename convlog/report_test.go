package convlog_test

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/convlog"
	"github.com/quarry-kb/quarry/convlog/convlogtest"
)

var (
	historyOnce sync.Once
	historyLog  *convlog.Log
	historyErr  error
	historyEnd  = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
)

// history is a generated log of historyConversations conversations over 30 days,
// shared by the tests and benchmarks of this file.
func history(t testing.TB) *convlog.Log {
	t.Helper()
	historyOnce.Do(func() {
		dir, err := tempDir()
		if err != nil {
			historyErr = err
			return
		}
		historyLog, historyErr = convlog.Open(context.Background(), convlog.Config{Path: dir + "/" + convlog.FileName})
		if historyErr == nil {
			historyErr = convlogtest.Generate(context.Background(), historyLog, historyConversations, 7, historyEnd, 30*24*time.Hour)
		}
	})
	if historyErr != nil {
		t.Fatal(historyErr)
	}
	return historyLog
}

// expected computes a report's figures directly from the log's turns,
// with plain loops: the reference the SQL of Report is checked against.
func expected(turns []convlog.Turn, since, until time.Time) convlog.Report {
	r := convlog.Report{Since: since, Until: until}
	convs := map[string]bool{}
	width := convlog.BucketWidth(until.Sub(since))
	origin := since.Truncate(width)
	n := int((until.Sub(origin) + width - 1) / width)
	r.Volume = make([]convlog.Bucket, n)
	for i := range r.Volume {
		r.Volume[i].Start = origin.Add(time.Duration(i) * width)
	}
	var lat []float64
	unanswered := map[string]int{}
	var down, all []convlog.Turn
	for _, t := range turns {
		r.Questions++
		convs[t.ConversationID] = true
		b := &r.Volume[int(t.Time.Sub(origin)/width)]
		b.Questions++
		if t.Answered {
			r.Answered++
			b.Answered++
		} else {
			unanswered[t.Question]++
		}
		if t.Feedback != nil {
			if t.Feedback.Rating == convlog.RatingUp {
				r.Up++
				b.Up++
			} else {
				r.Down++
				b.Down++
				down = append(down, t)
			}
		}
		lat = append(lat, t.LatencyMS)
		all = append(all, t)
	}
	r.Conversations = len(convs)
	r.Declined = r.Questions - r.Answered
	r.AnswerRate = float64(r.Answered) / float64(r.Questions)
	r.Satisfaction = float64(r.Up) / float64(r.Up+r.Down)
	sort.Float64s(lat)
	r.LatencyP50MS = lat[int(math.Ceil(0.5*float64(len(lat))))-1]
	r.LatencyP95MS = lat[int(math.Ceil(0.95*float64(len(lat))))-1]
	var qc []convlog.QuestionCount
	for q, c := range unanswered {
		qc = append(qc, convlog.QuestionCount{Question: q, Count: c})
	}
	r.Unanswered = convlog.GroupQuestions(qc)
	sort.SliceStable(down, func(i, j int) bool {
		if !down[i].Feedback.Time.Equal(down[j].Feedback.Time) {
			return down[i].Feedback.Time.After(down[j].Feedback.Time)
		}
		return down[i].AnswerID < down[j].AnswerID
	})
	r.LowestRated = down[:min(10, len(down))]
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].LatencyMS != all[j].LatencyMS {
			return all[i].LatencyMS > all[j].LatencyMS
		}
		return all[i].AnswerID < all[j].AnswerID
	})
	r.Slowest = all[:min(10, len(all))]
	return r
}

func TestReportMatchesTheLog(t *testing.T) {
	ctx := context.Background()
	l := history(t)
	t.Logf("a generated history of %d conversations", historyConversations)
	for _, c := range []struct {
		name string
		f    convlog.Filter
	}{
		{"30 days, every knowledge base", convlog.Filter{Since: historyEnd.Add(-30 * 24 * time.Hour), Until: historyEnd}},
		{"7 days, support", convlog.Filter{KB: "support", Since: historyEnd.Add(-7 * 24 * time.Hour), Until: historyEnd}},
		{"one day, default", convlog.Filter{KB: "default", Since: historyEnd.Add(-24 * time.Hour), Until: historyEnd}},
		{"from 13:37 on, buckets still on whole days", convlog.Filter{Since: historyEnd.Add(-20*24*time.Hour + 13*time.Hour + 37*time.Minute), Until: historyEnd.Add(-90 * time.Minute)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			turns, err := l.Turns(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(turns) == 0 {
				t.Fatal("the generated history has no turns in range")
			}
			got, err := l.Report(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(turns, c.f.Since, c.f.Until)
			if got.Questions != want.Questions || got.Conversations != want.Conversations || got.Answered != want.Answered ||
				got.Declined != want.Declined || got.Up != want.Up || got.Down != want.Down {
				t.Errorf("totals: got q=%d c=%d a=%d d=%d up=%d down=%d, want q=%d c=%d a=%d d=%d up=%d down=%d",
					got.Questions, got.Conversations, got.Answered, got.Declined, got.Up, got.Down,
					want.Questions, want.Conversations, want.Answered, want.Declined, want.Up, want.Down)
			}
			if got.AnswerRate != want.AnswerRate || got.Satisfaction != want.Satisfaction ||
				got.LatencyP50MS != want.LatencyP50MS || got.LatencyP95MS != want.LatencyP95MS {
				t.Errorf("rates: got %v %v %v %v, want %v %v %v %v", got.AnswerRate, got.Satisfaction, got.LatencyP50MS, got.LatencyP95MS,
					want.AnswerRate, want.Satisfaction, want.LatencyP50MS, want.LatencyP95MS)
			}
			if !slices.EqualFunc(got.Volume, want.Volume, func(a, b convlog.Bucket) bool {
				return a.Start.Equal(b.Start) && a.Questions == b.Questions && a.Answered == b.Answered && a.Up == b.Up && a.Down == b.Down
			}) {
				t.Errorf("volume: got %+v\nwant %+v", got.Volume, want.Volume)
			}
			if !slices.EqualFunc(got.Unanswered, want.Unanswered, func(a, b convlog.QuestionGroup) bool {
				return a.Question == b.Question && a.Count == b.Count && slices.Equal(a.Variants, b.Variants)
			}) {
				t.Errorf("unanswered: got %+v\nwant %+v", got.Unanswered, want.Unanswered)
			}
			sum := 0
			for _, g := range got.Unanswered {
				sum += g.Count
			}
			if sum != got.Declined {
				t.Errorf("unanswered groups hold %d questions, %d were declined", sum, got.Declined)
			}
			ids := func(ts []convlog.Turn) []string {
				var out []string
				for _, t := range ts {
					out = append(out, t.AnswerID)
				}
				return out
			}
			if !slices.Equal(ids(got.LowestRated), ids(want.LowestRated)) {
				t.Errorf("lowest rated: got %v, want %v", ids(got.LowestRated), ids(want.LowestRated))
			}
			if !slices.Equal(ids(got.Slowest), ids(want.Slowest)) {
				t.Errorf("slowest: got %v, want %v", ids(got.Slowest), ids(want.Slowest))
			}
		})
	}
	// The generated near-duplicates are grouped: four unanswerable topics.
	r, _ := l.Report(ctx, convlog.Filter{Until: historyEnd})
	if len(r.Unanswered) != 4 {
		t.Errorf("%d unanswered groups, want the 4 generated topics: %+v", len(r.Unanswered), r.Unanswered)
	}
}

func BenchmarkReport(b *testing.B) {
	l := history(b)
	f := convlog.Filter{Since: historyEnd.Add(-30 * 24 * time.Hour), Until: historyEnd}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Report(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
}
