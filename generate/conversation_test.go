package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quarry-kb/quarry"
)

// recordingRetriever returns one passage for every query and remembers
// the queries.
type recordingRetriever struct {
	mu      sync.Mutex
	queries []string
}

func (r *recordingRetriever) Search(_ context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	r.mu.Lock()
	r.queries = append(r.queries, req.Query)
	r.mu.Unlock()
	return quarry.SearchResult{Passages: []quarry.Passage{{Chunk: quarry.Chunk{
		ID: "refunds#0", DocID: "refunds", Path: "refunds.md", Title: "Refunds",
		Text: "Refunds reach your account within 5 business days.",
	}}}}, nil
}

// echoAnswerer answers with the question it was given, cited, through
// the whole event sequence.
type echoAnswerer struct{}

func (echoAnswerer) Answer(ctx context.Context, question string, passages []quarry.Passage, send func(quarry.Event) error) (quarry.Answer, error) {
	ans := quarry.Answer{Text: "Q: " + question + " [1]", Answered: true, Grounded: true, Lang: DetectLang(question),
		Citations: []quarry.Citation{{N: 1, DocID: passages[0].DocID, ChunkID: passages[0].ID}}}
	if send != nil {
		for _, ev := range []quarry.Event{
			{Type: quarry.EventPassages, Passages: passages},
			{Type: quarry.EventDelta, Delta: ans.Text},
			{Type: quarry.EventCitations, Citations: ans.Citations},
			{Type: quarry.EventDone, Answer: &ans},
		} {
			if err := send(ev); err != nil {
				return quarry.Answer{}, err
			}
		}
	}
	return ans, nil
}

func TestConversationRewritesFollowUps(t *testing.T) {
	user := func(s string) quarry.Message { return quarry.Message{Role: "user", Content: s} }
	assistant := func(s string) quarry.Message { return quarry.Message{Role: "assistant", Content: s} }
	// A model that rewrites every follow-up the same way, and records
	// what it was shown.
	var shown []string
	model := ModelFunc(func(_ context.Context, req ChatRequest, _ func(string) error) (ChatResponse, error) {
		shown = append(shown, req.Messages[len(req.Messages)-1].Content)
		if strings.Contains(req.Messages[1].Content, "退款") {
			return ChatResponse{Text: "退款需要多久到账？"}, nil
		}
		return ChatResponse{Text: "How long does a refund take?"}, nil
	})
	tests := []struct {
		name     string
		rewriter Rewriter
		history  []quarry.Message
		question string
		// the query must contain every one of these
		want []string
		// rewritten reports whether a rewrite note is expected
		rewritten bool
	}{
		{
			name:     "heuristic english follow-up carries the subject",
			history:  []quarry.Message{user("How do refunds work?"), assistant("Refunds go back to your card [1].")},
			question: "and how long does that take?",
			want:     []string{"refunds", "how long does that take"}, rewritten: true,
		},
		{
			name:     "heuristic chinese follow-up carries the subject",
			history:  []quarry.Message{user("退款怎么办理？"), assistant("在订单页面申请退款 [1]。")},
			question: "那需要多久？",
			want:     []string{"退款", "那需要多久"}, rewritten: true,
		},
		{
			name:     "standalone question is kept",
			history:  []quarry.Message{user("How do refunds work?")},
			question: "Which payment methods are accepted for business invoices?",
			want:     []string{"Which payment methods are accepted for business invoices?"},
		},
		{
			name:     "llm english follow-up",
			rewriter: LLMRewriter{Model: model},
			history:  []quarry.Message{user("How do refunds work?"), assistant("Refunds go back to your card [1].")},
			question: "and how long does that take?",
			want:     []string{"How long does a refund take?"}, rewritten: true,
		},
		{
			name:     "llm chinese follow-up",
			rewriter: LLMRewriter{Model: model},
			history:  []quarry.Message{user("退款怎么办理？")},
			question: "那需要多久？",
			want:     []string{"退款需要多久到账？"}, rewritten: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recordingRetriever{}
			conv := Conversation{Asker: NewService(r, echoAnswerer{}, ServiceConfig{}), Rewriter: tc.rewriter}
			var done *quarry.Answer
			ans, err := conv.Ask(context.Background(), quarry.AskRequest{Question: tc.question, History: tc.history},
				func(ev quarry.Event) error {
					if ev.Type == quarry.EventDone {
						done = ev.Answer
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.queries) != 1 {
				t.Fatalf("retrieved %d times, want once", len(r.queries))
			}
			query := r.queries[0]
			for _, w := range tc.want {
				if !strings.Contains(query, w) {
					t.Errorf("query %q does not contain %q", query, w)
				}
			}
			if !strings.Contains(ans.Text, query) {
				t.Errorf("the answerer was not given the standalone question: answer %q, query %q", ans.Text, query)
			}
			if done == nil {
				t.Fatal("no done event")
			}
			for _, notes := range [][]string{ans.Notes, done.Notes} {
				wantNote := RewriteNotePrefix + `"` + query + `"`
				has := slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, RewriteNotePrefix) })
				if has != tc.rewritten || (tc.rewritten && !slices.Contains(notes, wantNote)) {
					t.Errorf("notes %q: want rewrite note %v (%q)", notes, tc.rewritten, wantNote)
				}
				// The history was used up by the rewrite: the service
				// must not say it ignored it.
				for _, n := range notes {
					if strings.Contains(n, "history") {
						t.Errorf("note %q: the service saw the history", n)
					}
				}
			}
		})
	}
	for _, s := range shown {
		if !strings.Contains(s, "<conversation>") {
			t.Errorf("the rewriting model was not shown the conversation: %q", s)
		}
	}
	if len(shown) != 2 {
		t.Errorf("the rewriting model was called %d times, want 2 (once per llm case)", len(shown))
	}
}

func TestConversationWithoutHistoryPassesThrough(t *testing.T) {
	called := false
	rw := rewriterFunc(func(context.Context, []quarry.Message, string) (string, error) {
		called = true
		return "something else", nil
	})
	r := &recordingRetriever{}
	conv := Conversation{Asker: NewService(r, echoAnswerer{}, ServiceConfig{}), Rewriter: rw}
	ans, err := conv.Ask(context.Background(), quarry.AskRequest{Question: "  How long do refunds take? "}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("rewriter called without a history")
	}
	if len(r.queries) != 1 || r.queries[0] != "How long do refunds take?" {
		t.Errorf("queries %q", r.queries)
	}
	if len(ans.Notes) != 0 {
		t.Errorf("notes %q, want none", ans.Notes)
	}
}

type rewriterFunc func(ctx context.Context, history []quarry.Message, question string) (string, error)

func (f rewriterFunc) Rewrite(ctx context.Context, history []quarry.Message, question string) (string, error) {
	return f(ctx, history, question)
}

func TestConversationErrors(t *testing.T) {
	history := []quarry.Message{{Role: "user", Content: "How do refunds work?"}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		conv     Conversation
		ctx      context.Context
		question string
		want     error
	}{
		{"no asker", Conversation{}, context.Background(), "and then?", quarry.ErrUnavailable},
		{"blank question goes to the service's validation", Conversation{Asker: NewService(&recordingRetriever{}, echoAnswerer{}, ServiceConfig{})},
			context.Background(), "   ", quarry.ErrInvalid},
		{"invalid utf-8", Conversation{Asker: NewService(&recordingRetriever{}, echoAnswerer{}, ServiceConfig{})},
			context.Background(), "and \xff?", quarry.ErrInvalid},
		{"rewriter canceled", Conversation{
			Asker: NewService(&recordingRetriever{}, echoAnswerer{}, ServiceConfig{}),
			Rewriter: LLMRewriter{Model: ModelFunc(func(ctx context.Context, _ ChatRequest, _ func(string) error) (ChatResponse, error) {
				return ChatResponse{}, ctx.Err()
			})},
		}, canceled, "and how long does that take?", quarry.ErrCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.conv.Ask(tc.ctx, quarry.AskRequest{Question: tc.question, History: history}, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConversationModelFailureFallsBackToHeuristic(t *testing.T) {
	r := &recordingRetriever{}
	down := ModelFunc(func(context.Context, ChatRequest, func(string) error) (ChatResponse, error) {
		return ChatResponse{}, quarry.Errorf(quarry.CodeUnavailable, "model is down")
	})
	conv := Conversation{Asker: NewService(r, echoAnswerer{}, ServiceConfig{}), Rewriter: LLMRewriter{Model: down}}
	_, err := conv.Ask(context.Background(), quarry.AskRequest{
		Question: "那需要多久？",
		History:  []quarry.Message{{Role: "user", Content: "退款怎么办理？"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.queries) != 1 || !strings.Contains(r.queries[0], "退款") {
		t.Errorf("queries %q: want the heuristic rewrite carrying 退款", r.queries)
	}
}

// A follow-up is rewritten into a standalone question before retrieval.
func ExampleConversation() {
	r := &recordingRetriever{}
	conv := Conversation{Asker: NewService(r, echoAnswerer{}, ServiceConfig{}), Rewriter: HeuristicRewriter{}}
	ans, _ := conv.Ask(context.Background(), quarry.AskRequest{
		Question: "And how long does that take?",
		History: []quarry.Message{
			{Role: "user", Content: "How do I get a refund?"},
			{Role: "assistant", Content: "Request it from your orders page [1]."},
		},
	}, nil)
	fmt.Println(r.queries[0])
	fmt.Println(ans.Notes[0])
	// Output:
	// refund And how long does that take?
	// follow-up question rewritten from the conversation as "refund And how long does that take?"
}
