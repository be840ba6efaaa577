package generate

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// fakeRetriever returns fixed passages and notes, and records requests.
type fakeRetriever struct {
	passages []quarry.Passage
	notes    []string
	err      error
	reqs     []quarry.SearchRequest
}

func (f *fakeRetriever) Search(_ context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return quarry.SearchResult{}, f.err
	}
	return quarry.SearchResult{Passages: f.passages, Notes: f.notes}, nil
}

// answererFunc adapts a function to Answerer.
type answererFunc func(ctx context.Context, q string, ps []quarry.Passage, send func(quarry.Event) error) (quarry.Answer, error)

func (f answererFunc) Answer(ctx context.Context, q string, ps []quarry.Passage, send func(quarry.Event) error) (quarry.Answer, error) {
	return f(ctx, q, ps, send)
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name string
		req  quarry.AskRequest
		want *quarry.Error
	}{
		{"empty", quarry.AskRequest{}, quarry.ErrInvalid},
		{"blank", quarry.AskRequest{Question: " \n\t"}, quarry.ErrInvalid},
		{"invalid UTF-8", quarry.AskRequest{Question: "refund\xff?"}, quarry.ErrInvalid},
		{"too long", quarry.AskRequest{Question: strings.Repeat("退", DefaultMaxQuestionChars+1)}, quarry.ErrTooLarge},
		{"negative k", quarry.AskRequest{Question: "refund?", K: -2}, quarry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRetriever{}
			var rec recorder
			_, err := NewService(r, nil, ServiceConfig{}).Ask(context.Background(), tt.req, rec.send)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v (code %q), want code %q", err, quarry.ErrorCode(err), tt.want.Code)
			}
			if len(r.reqs) != 0 || len(rec.events) != 0 {
				t.Fatalf("invalid question reached the retriever (%d) or the client (%v)", len(r.reqs), rec.types())
			}
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		_, err := NewService(&fakeRetriever{}, nil, ServiceConfig{}).Ask(context.Background(),
			quarry.AskRequest{Question: strings.Repeat("退", DefaultMaxQuestionChars)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no retriever", func(t *testing.T) {
		_, err := NewService(nil, nil, ServiceConfig{}).Ask(context.Background(), quarry.AskRequest{Question: "q?"}, nil)
		if !errors.Is(err, quarry.ErrUnavailable) {
			t.Fatalf("error %v, want unavailable", err)
		}
	})
}

func TestServiceRetrievalRequest(t *testing.T) {
	tests := []struct {
		name string
		cfg  ServiceConfig
		req  quarry.AskRequest
		want quarry.SearchRequest
	}{
		{"defaults", ServiceConfig{}, quarry.AskRequest{Question: "  How do I get a refund? "},
			quarry.SearchRequest{Query: "How do I get a refund?", K: DefaultK}},
		{"k from the request", ServiceConfig{K: 4}, quarry.AskRequest{Question: "refund", K: 12},
			quarry.SearchRequest{Query: "refund", K: 12}},
		{"k and mode from the config", ServiceConfig{K: 4, Mode: quarry.ModeKeyword}, quarry.AskRequest{Question: "refund"},
			quarry.SearchRequest{Query: "refund", K: 4, Mode: quarry.ModeKeyword}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRetriever{}
			if _, err := NewService(r, nil, tt.cfg).Ask(context.Background(), tt.req, nil); err != nil {
				t.Fatal(err)
			}
			if len(r.reqs) != 1 || r.reqs[0] != tt.want {
				t.Fatalf("retriever got %+v, want %+v", r.reqs, tt.want)
			}
		})
	}
}

func TestServiceAnswers(t *testing.T) {
	passages := retrieveFrom(corpusEN, "How do I delete my account?", 8)
	r := &fakeRetriever{passages: passages, notes: []string{"vector leg failed: boom; results are keyword-only"}}
	var rec recorder
	a, err := NewService(r, nil, ServiceConfig{}).Ask(context.Background(), quarry.AskRequest{
		Question: "How do I delete my account?",
		History:  []quarry.Message{{Role: "user", Content: "hi"}},
	}, rec.send)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Answered || !strings.Contains(a.Text, "Delete account") {
		t.Fatalf("answer %q", a.Text)
	}
	checkGrounded(t, a, passages)
	wantNotes := []string{"vector leg failed: boom; results are keyword-only", historyNote}
	if !reflect.DeepEqual(a.Notes, wantNotes) {
		t.Errorf("notes %q, want %q", a.Notes, wantNotes)
	}
	done := rec.events[len(rec.events)-1]
	if done.Type != quarry.EventDone || done.Answer == nil || !reflect.DeepEqual(*done.Answer, a) {
		t.Errorf("done event %+v does not carry the answer with its notes %+v", done, a)
	}
	if !reflect.DeepEqual(r.notes, wantNotes[:1]) {
		t.Errorf("the retriever's notes were modified: %q", r.notes)
	}
}

func TestServiceErrors(t *testing.T) {
	t.Run("retrieval error keeps its code", func(t *testing.T) {
		cause := quarry.Errorf(quarry.CodeUnavailable, "every leg failed")
		_, err := NewService(&fakeRetriever{err: cause}, nil, ServiceConfig{}).
			Ask(context.Background(), quarry.AskRequest{Question: "refund?"}, nil)
		if !errors.Is(err, quarry.ErrUnavailable) || !errors.Is(err, cause) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("send error stops the answer", func(t *testing.T) {
		rec := recorder{failAt: 2}
		_, err := NewService(&fakeRetriever{passages: passagesOf(corpusEN[0])}, nil, ServiceConfig{}).
			Ask(context.Background(), quarry.AskRequest{Question: "How do I delete my account?"}, rec.send)
		if !errors.Is(err, errStop) || len(rec.events) != 2 {
			t.Fatalf("error %v after %d events", err, len(rec.events))
		}
	})
	t.Run("answerer error", func(t *testing.T) {
		boom := quarry.Errorf(quarry.CodeUnavailable, "model is down")
		a := answererFunc(func(context.Context, string, []quarry.Passage, func(quarry.Event) error) (quarry.Answer, error) {
			return quarry.Answer{}, boom
		})
		_, err := NewService(&fakeRetriever{}, a, ServiceConfig{}).Ask(context.Background(), quarry.AskRequest{Question: "q?"}, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestServiceUsesItsAnswerer(t *testing.T) {
	passages := passagesOf(corpusEN[1])
	var gotQ string
	var gotPs []quarry.Passage
	a := answererFunc(func(_ context.Context, q string, ps []quarry.Passage, _ func(quarry.Event) error) (quarry.Answer, error) {
		gotQ, gotPs = q, ps
		return quarry.Answer{Text: "canned", Answered: true, Notes: []string{"from the FAQ"}}, nil
	})
	ans, err := NewService(&fakeRetriever{passages: passages, notes: []string{"n"}}, a, ServiceConfig{}).
		Ask(context.Background(), quarry.AskRequest{Question: " refund? "}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gotQ != "refund?" || !reflect.DeepEqual(gotPs, passages) {
		t.Errorf("answerer got %q %v", gotQ, gotPs)
	}
	if ans.Text != "canned" || !reflect.DeepEqual(ans.Notes, []string{"from the FAQ", "n"}) {
		t.Errorf("answer %+v", ans)
	}
}

// TestServiceOCRNote: an answer that cites OCR text says so, in the
// answer and in its done event; one that does not, does not.
func TestServiceOCRNote(t *testing.T) {
	for _, heading := range []string{"Page 2 " + quarry.OCRHeadingSuffix, "Refunds"} {
		r := &fakeRetriever{passages: []quarry.Passage{{Chunk: quarry.Chunk{ID: "d#0", DocID: "d", Path: "scan.pdf", Title: "Scanned policy",
			Heading: heading, Page: 2, Text: "Refunds are paid within 5 business days of receiving the return."}}}}
		var rec recorder
		a, err := NewService(r, nil, ServiceConfig{}).Ask(context.Background(), quarry.AskRequest{Question: "How fast are refunds paid?"}, rec.send)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Answered {
			t.Fatalf("%s: not answered: %q", heading, a.Text)
		}
		want := strings.HasSuffix(heading, quarry.OCRHeadingSuffix)
		if got := slices.Contains(a.Notes, OCRNote); got != want {
			t.Errorf("%s: OCR note %v, want %v (notes %q)", heading, got, want, a.Notes)
		}
		done := rec.events[len(rec.events)-1]
		if done.Answer == nil || slices.Contains(done.Answer.Notes, OCRNote) != want {
			t.Errorf("%s: done event notes %+v", heading, done.Answer)
		}
	}
}
