package eval

import (
	"context"
	"io/fs"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetrics(t *testing.T) {
	rel := map[string]bool{"a": true, "c": true}
	tests := []struct {
		name             string
		ranked           []string
		ndcg, rec10, mrr float64
	}{
		{"perfect", []string{"a", "c", "b"}, 1, 1, 1},
		{"none", []string{"x", "y"}, 0, 0, 0},
		{"second and third", []string{"b", "a", "c"}, (1/math.Log2(3) + 1/math.Log2(4)) / (1 + 1/math.Log2(3)), 1, 0.5},
		{"one of two", []string{"c"}, 1 / (1 + 1/math.Log2(3)), 0.5, 1},
		{"empty", nil, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NDCG(tc.ranked, rel, 10); !near(got, tc.ndcg) {
				t.Errorf("NDCG = %v, want %v", got, tc.ndcg)
			}
			if got := Recall(tc.ranked, rel, 10); !near(got, tc.rec10) {
				t.Errorf("Recall = %v, want %v", got, tc.rec10)
			}
			if got := MRR(tc.ranked, rel, 10); !near(got, tc.mrr) {
				t.Errorf("MRR = %v, want %v", got, tc.mrr)
			}
		})
	}
	if got := NDCG([]string{"b", "a"}, rel, 1); got != 0 {
		t.Errorf("NDCG@1 with relevant at 2 = %v, want 0", got)
	}
	if got := Recall([]string{"b", "a"}, rel, 1); got != 0 {
		t.Errorf("Recall@1 = %v, want 0", got)
	}
}

func TestAnswerHitAndDedupe(t *testing.T) {
	if !AnswerHit([]string{"x", "paid in\n5 business  days"}, []string{"nope", "5 business days"}, 2) {
		t.Error("answer in second passage not found at k=2")
	}
	if AnswerHit([]string{"x", "5 business days"}, []string{"5 business days"}, 1) {
		t.Error("answer in second passage found at k=1")
	}
	if got := strings.Join(DedupeDocs([]string{"a", "b", "a", "c", "b"}), ","); got != "a,b,c" {
		t.Errorf("DedupeDocs = %s", got)
	}
	l := Summarize([]time.Duration{time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond})
	if !near(l.MeanMS, 2) || !near(l.P95MS, 3) {
		t.Errorf("Summarize = %+v", l)
	}
}

func TestLoad(t *testing.T) {
	ds, err := Load("testdata/mini", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Corpus) != 3 || len(ds.Queries) != 2 || len(ds.Answers) != 2 {
		t.Fatalf("corpus %d queries %d answers %d", len(ds.Corpus), len(ds.Queries), len(ds.Answers))
	}
	if got := ds.Relevant("q2"); len(got) != 1 || got[0] != "d2" {
		t.Errorf("Relevant(q2) = %v (score 0 is not relevant)", got)
	}
	fsys, ids := ds.FS()
	b, err := fs.ReadFile(fsys, DocPath("d1"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "# Refunds\n\nRefunds are issued within 5 business days.\n" {
		t.Errorf("doc file = %q", b)
	}
	if ids[DocPath("d3")] != "d3" {
		t.Errorf("ids = %v", ids)
	}
	if _, err := Load("testdata/mini", "train"); err == nil {
		t.Error("missing split loaded without error")
	}
}

// fakeSearcher ranks documents by how many query words they contain.
type fakeSearcher struct{ ds *Dataset }

func (f fakeSearcher) Search(_ context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	var res quarry.SearchResult
	if req.Mode == quarry.ModeVector { // a useless leg: reverse corpus order
		for i := len(f.ds.Corpus) - 1; i >= 0; i-- {
			d := f.ds.Corpus[i]
			res.Passages = append(res.Passages, quarry.Passage{Chunk: quarry.Chunk{DocID: d.ID, Text: d.Text}})
		}
		return res, nil
	}
	words := strings.Fields(strings.ToLower(req.Query))
	for _, d := range f.ds.Corpus {
		text := strings.ToLower(d.Title + " " + d.Text)
		for _, w := range words {
			if strings.Contains(text, w) {
				res.Passages = append(res.Passages, quarry.Passage{Chunk: quarry.Chunk{DocID: d.ID, Text: d.Text}})
				break
			}
		}
	}
	return res, nil
}

func TestRun(t *testing.T) {
	ds, err := Load("testdata/mini", "test")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	rep, err := Run(context.Background(), ds, fakeSearcher{ds}, func(p quarry.Passage) (string, bool) { return p.DocID, true },
		Options{Progress: func(done, total int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 6 {
		t.Errorf("progress called %d times, want 6", calls)
	}
	if !near(rep.Keyword.NDCG10, 1) || !near(rep.Hybrid.MRR10, 1) {
		t.Errorf("keyword %+v hybrid %+v", rep.Keyword, rep.Hybrid)
	}
	// vector: q1 → d3,d2,d1 (d1 at 3), q2 → d2 at 2.
	wantMRR := (1.0/3 + 1.0/2) / 2
	if !near(rep.Vector.MRR10, wantMRR) {
		t.Errorf("vector MRR = %v, want %v", rep.Vector.MRR10, wantMRR)
	}
	if rep.Hybrid.AnswerRecall5 == nil || !near(*rep.Hybrid.AnswerRecall5, 1) {
		t.Errorf("answer recall@5 = %v", rep.Hybrid.AnswerRecall5)
	}
	if rep.Keyword.AnswerRecall1 != nil {
		t.Error("answer recall reported for keyword leg")
	}
	if !strings.Contains(rep.Table(), "| hybrid | 1.000 |") {
		t.Errorf("table:\n%s", rep.Table())
	}
}
