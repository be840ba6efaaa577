package convlog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/convlog"
)

func openLog(t testing.TB, now func() time.Time) (*convlog.Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", convlog.FileName)
	l, err := convlog.Open(context.Background(), convlog.Config{Path: path, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func TestRecordGetFeedback(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	l, _ := openLog(t, func() time.Time { return now })
	turn := convlog.Turn{
		AnswerID: "a1", ConversationID: "c1", KB: "default", Channel: convlog.ChannelWidget,
		KeyID: "k1", Origin: "https://shop.example", ClientHash: l.HashClient("192.0.2.7"),
		Question: "and how long?", Query: "how long do refunds take", Answer: "5 days [1]", Answered: true, Lang: "en",
		Citations: []convlog.Citation{{N: 1, Path: "billing/refunds.md", Heading: "Refunds > Timing", Page: 2}},
		LatencyMS: 12.5,
	}
	if err := l.Record(ctx, turn); err != nil {
		t.Fatal(err)
	}
	got, err := l.Get(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	turn.Time = now
	if got.Time != turn.Time || got.Question != turn.Question || got.Query != turn.Query || !got.Answered ||
		!slices.Equal(got.Citations, turn.Citations) || got.Origin != turn.Origin || got.LatencyMS != 12.5 || got.Feedback != nil {
		t.Fatalf("got %+v, want %+v", got, turn)
	}
	if strings.Contains(got.ClientHash, "192.0.2.7") || got.ClientHash == "" || got.ClientHash != l.HashClient("192.0.2.7") {
		t.Fatalf("client hash %q", got.ClientHash)
	}

	if err := l.Record(ctx, turn); quarry.ErrorCode(err) != quarry.CodeConflict {
		t.Fatalf("duplicate answer id: %v, want conflict", err)
	}
	for name, bad := range map[string]convlog.Turn{
		"no answer id": {ConversationID: "c", KB: "k", Channel: "api", Question: "q"},
		"no kb":        {AnswerID: "x", ConversationID: "c", Channel: "api", Question: "q"},
		"no question":  {AnswerID: "x", ConversationID: "c", KB: "k", Channel: "api", Question: "  "},
	} {
		if err := l.Record(ctx, bad); quarry.ErrorCode(err) != quarry.CodeInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}

	if err := l.SetFeedback(ctx, "a1", convlog.Feedback{Rating: "up"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetFeedback(ctx, "a1", convlog.Feedback{Rating: "down", Comment: "wrong policy"}); err != nil {
		t.Fatal(err)
	}
	got, _ = l.Get(ctx, "a1")
	if got.Feedback == nil || got.Feedback.Rating != "down" || got.Feedback.Comment != "wrong policy" {
		t.Fatalf("feedback %+v: the second rating should replace the first", got.Feedback)
	}
	if err := l.SetFeedback(ctx, "nope", convlog.Feedback{Rating: "up"}); !errors.Is(err, quarry.ErrNotFound) {
		t.Fatalf("feedback on unknown answer: %v", err)
	}
	if err := l.SetFeedback(ctx, "a1", convlog.Feedback{Rating: "meh"}); quarry.ErrorCode(err) != quarry.CodeInvalid {
		t.Fatalf("bad rating: %v", err)
	}
	if _, err := l.Get(ctx, "nope"); !errors.Is(err, quarry.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestFilterAndPrune(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	l, _ := openLog(t, nil)
	for i, c := range []struct {
		kb       string
		answered bool
		rating   string
	}{
		{"a", true, ""}, {"a", false, ""}, {"b", true, "down"}, {"b", true, "up"}, {"a", false, "down"},
	} {
		id := string(rune('0' + i))
		err := l.Record(ctx, convlog.Turn{AnswerID: id, ConversationID: "c" + id, KB: c.kb, Channel: "api",
			Question: "q" + id, Answered: c.answered, Time: base.AddDate(0, 0, i)})
		if err != nil {
			t.Fatal(err)
		}
		if c.rating != "" {
			if err := l.SetFeedback(ctx, id, convlog.Feedback{Rating: c.rating}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(f convlog.Filter) []string {
		ts, err := l.Turns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, t := range ts {
			out = append(out, t.AnswerID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    convlog.Filter
		want []string
	}{
		{"all", convlog.Filter{}, []string{"0", "1", "2", "3", "4"}},
		{"kb", convlog.Filter{KB: "a"}, []string{"0", "1", "4"}},
		{"since until", convlog.Filter{Since: base.AddDate(0, 0, 1), Until: base.AddDate(0, 0, 3)}, []string{"1", "2"}},
		{"unanswered", convlog.Filter{Unanswered: true}, []string{"1", "4"}},
		{"down-rated", convlog.Filter{DownRated: true}, []string{"2", "4"}},
		{"either", convlog.Filter{Unanswered: true, DownRated: true}, []string{"1", "2", "4"}},
		{"limit", convlog.Filter{Limit: 2}, []string{"0", "1"}},
	} {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	n, err := l.Prune(ctx, base.AddDate(0, 0, 3))
	if err != nil || n != 3 {
		t.Fatalf("prune: %d, %v; want 3", n, err)
	}
	if got := ids(convlog.Filter{}); !slices.Equal(got, []string{"3", "4"}) {
		t.Fatalf("after prune: %v", got)
	}
	// The pruned answers' feedback went with them.
	if err := l.SetFeedback(ctx, "2", convlog.Feedback{Rating: "up"}); !errors.Is(err, quarry.ErrNotFound) {
		t.Fatalf("feedback on pruned answer: %v", err)
	}
}

func TestPruneEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	l, _ := openLog(t, func() time.Time { return now })
	for i, age := range []time.Duration{100 * 24 * time.Hour, 10 * 24 * time.Hour} {
		id := string(rune('a' + i))
		if err := l.Record(ctx, convlog.Turn{AnswerID: id, ConversationID: id, KB: "k", Channel: "api", Question: "q", Time: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { l.PruneEvery(ctx, 90*24*time.Hour, time.Hour, func(err error) { t.Error(err) }); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts, _ := l.Turns(ctx, convlog.Filter{})
		if len(ts) == 1 && ts[0].AnswerID == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not pruned: %d turns", len(ts))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	l, path := openLog(t, nil)
	if err := l.Record(ctx, convlog.Turn{AnswerID: "a", ConversationID: "c", KB: "k", Channel: "api", Question: "q"}); err != nil {
		t.Fatal(err)
	}
	hash := l.HashClient("198.51.100.1")
	l.Close()

	// Reopening keeps the data and the salt.
	l2, err := convlog.Open(ctx, convlog.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if l2.HashClient("198.51.100.1") != hash {
		t.Fatal("the salt changed on reopen")
	}
	l2.Close()

	// Another database has another salt.
	other, _ := openLog(t, nil)
	if other.HashClient("198.51.100.1") == hash {
		t.Fatal("two databases share a salt")
	}

	// A database from a newer Quarry is refused, not clobbered.
	setVersion(t, path, convlog.SchemaVersion+1)
	if _, err := convlog.Open(ctx, convlog.Config{Path: path}); quarry.ErrorCode(err) != quarry.CodeConflict {
		t.Fatalf("newer schema: %v, want conflict", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func TestParseAge(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"90d", 90 * 24 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"0d", 0, false},
		{"d", 0, true},
		{"-3d", 0, true},
		{"1.5d", 0, true},
		{"soon", 0, true},
		{"-1h", 0, true},
	} {
		got, err := convlog.ParseAge(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseAge(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestGroupQuestions(t *testing.T) {
	got := convlog.GroupQuestions([]convlog.QuestionCount{
		{"How do I get a refund?", 3},
		{"how to get refunds", 2},
		{"Do you ship to Mars?", 4},
		{"do you ship to mars??", 1},
		{"支持货到付款吗？", 2},
		{"支持货到付款吗", 1},
		{"What is the warranty on the hub?", 1},
		{"???", 1},
	})
	want := []convlog.QuestionGroup{
		{Question: "Do you ship to Mars?", Count: 5, Variants: []string{"do you ship to mars??"}},
		{Question: "How do I get a refund?", Count: 5, Variants: []string{"how to get refunds"}},
		{Question: "支持货到付款吗？", Count: 3, Variants: []string{"支持货到付款吗"}},
		{Question: "???", Count: 1},
		{Question: "What is the warranty on the hub?", Count: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d groups %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].Question != want[i].Question || got[i].Count != want[i].Count || !slices.Equal(got[i].Variants, want[i].Variants) {
			t.Errorf("group %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
