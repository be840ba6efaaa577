// Package convlogtest generates conversation histories for tests and
// benchmarks of the conversation log and what reads it.
package convlogtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/quarry-kb/quarry/convlog"
)

// Questions asked in generated histories; the unanswerable ones come in
// near-duplicate phrasings, as real ones do.
var (
	answerable = []string{
		"How long do refunds take?", "How do I reset my password?", "What does shipping cost?",
		"Can I change my delivery address?", "How do I pair the hub with my phone?", "退款需要多久？",
	}
	unanswerable = [][]string{
		{"How much does the Kestrel Hub weigh?", "how much does the kestrel hub weigh", "What does the Kestrel hub weigh?"},
		{"Do you ship to Mars?", "do you ship to mars??"},
		{"Is there a student discount?", "student discounts?", "Is there any student discount"},
		{"支持货到付款吗？", "支持货到付款吗"},
	}
	kbs      = []string{"default", "support"}
	channels = []string{convlog.ChannelWidget, convlog.ChannelAPI, convlog.ChannelOpenAI}
)

// Generate writes n conversations of one to three turns each, spread
// over the span before end, with feedback on some answers, into l. The
// same seed gives the same history.
func Generate(ctx context.Context, l *convlog.Log, n int, seed uint64, end time.Time, span time.Duration) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := end.Add(-span)
	var all []convlog.Turn
	for c := 0; c < n; c++ {
		conv := fmt.Sprintf("conv-%06d", c)
		kb := kbs[rng.IntN(len(kbs))]
		ch := channels[rng.IntN(len(channels))]
		at := start.Add(time.Duration(rng.Int64N(int64(span - time.Minute))))
		turns := 1 + rng.IntN(3)
		for i := 0; i < turns; i++ {
			t := convlog.Turn{
				AnswerID:       fmt.Sprintf("ans-%06d-%d", c, i),
				ConversationID: conv,
				Time:           at.Add(time.Duration(i) * 10 * time.Second),
				KB:             kb,
				Channel:        ch,
				KeyID:          "key-" + kb,
				ClientHash:     l.HashClient(fmt.Sprintf("192.0.2.%d", rng.IntN(200))),
				LatencyMS:      5 + rng.Float64()*300,
				Lang:           "en",
			}
			if rng.IntN(4) == 0 {
				g := unanswerable[rng.IntN(len(unanswerable))]
				t.Question = g[rng.IntN(len(g))]
				t.Answer = "I don't know."
			} else {
				t.Question = answerable[rng.IntN(len(answerable))]
				t.Answered = true
				t.Answer = "From the help centre: " + t.Question + " [1]"
				t.Citations = []convlog.Citation{{N: 1, Path: fmt.Sprintf("docs/doc-%d.md", rng.IntN(20)), Title: "Doc", Heading: "Section", Page: rng.IntN(3)}}
			}
			if i > 0 {
				t.Query = t.Question + " (rewritten)"
			}
			switch rng.IntN(6) {
			case 0:
				t.Feedback = &convlog.Feedback{Rating: convlog.RatingUp, Time: t.Time.Add(time.Minute)}
			case 1:
				t.Feedback = &convlog.Feedback{Rating: convlog.RatingDown, Comment: "not helpful", Time: t.Time.Add(time.Minute)}
			}
			all = append(all, t)
		}
	}
	return l.Import(ctx, all)
}
