package retrieve

import (
	"fmt"
	"math"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

func hit(id string, score float64) index.Hit {
	return index.Hit{Chunk: quarry.Chunk{ID: id, DocID: "doc-" + id, Text: "text of " + id}, Score: score}
}

// want is the expected fused view of one passage.
type want struct {
	id    string
	score float64
	ranks []int     // per leg, 0 = not returned
	norms []float64 // per leg
}

const eps = 1e-12

func checkFused(t *testing.T, got []quarry.Passage, method string, legs []Leg, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d passages %v, want %d", len(got), ids(got), len(wants))
	}
	for i, w := range wants {
		p := got[i]
		if p.ID != w.id {
			t.Fatalf("passage %d is %q, want %q (order %v)", i, p.ID, w.id, ids(got))
		}
		if math.Abs(p.Score-w.score) > eps {
			t.Errorf("%s: score %.15f, want %.15f", w.id, p.Score, w.score)
		}
		e := p.Explain
		if e == nil {
			t.Fatalf("%s: no explanation", w.id)
		}
		if e.Method != method {
			t.Errorf("%s: method %q, want %q", w.id, e.Method, method)
		}
		if len(e.Legs) != len(legs) {
			t.Fatalf("%s: %d leg scores, want %d", w.id, len(e.Legs), len(legs))
		}
		var sum float64
		for j, ls := range e.Legs {
			sum += ls.Contribution
			if ls.Leg != legs[j].Name || ls.Weight != legs[j].Weight {
				t.Errorf("%s leg %d: %s weight %v, want %s weight %v", w.id, j, ls.Leg, ls.Weight, legs[j].Name, legs[j].Weight)
			}
			if ls.Rank != w.ranks[j] {
				t.Errorf("%s leg %s: rank %d, want %d", w.id, ls.Leg, ls.Rank, w.ranks[j])
			}
			if math.Abs(ls.Normalized-w.norms[j]) > eps {
				t.Errorf("%s leg %s: normalized %v, want %v", w.id, ls.Leg, ls.Normalized, w.norms[j])
			}
			if ls.Contribution != ls.Weight*ls.Normalized {
				t.Errorf("%s leg %s: contribution %v != %v×%v", w.id, ls.Leg, ls.Contribution, ls.Weight, ls.Normalized)
			}
		}
		// Exact: the score is the sum of the contributions as listed.
		if sum != p.Score {
			t.Errorf("%s: contributions sum to %v, score is %v", w.id, sum, p.Score)
		}
		if e.Summary == "" {
			t.Errorf("%s: empty summary", w.id)
		}
	}
}

func ids(ps []quarry.Passage) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestFuseWeighted(t *testing.T) {
	kw := func(hs ...index.Hit) Leg { return Leg{Name: LegKeyword, Weight: 0.6, Hits: hs} }
	vec := func(hs ...index.Hit) Leg { return Leg{Name: LegVector, Weight: 0.4, Hits: hs} }
	tests := []struct {
		name string
		legs []Leg
		want []want
	}{
		{
			name: "both legs, partial overlap",
			legs: []Leg{
				kw(hit("a", 10), hit("b", 5), hit("c", 0)),
				vec(hit("b", 0.9), hit("d", 0.5)),
			},
			want: []want{
				{"b", 0.6*0.5 + 0.4*1, []int{2, 1}, []float64{0.5, 1}},
				{"a", 0.6, []int{1, 0}, []float64{1, 0}},
				{"c", 0, []int{3, 0}, []float64{0, 0}}, // ties at 0 broken by ID
				{"d", 0, []int{0, 2}, []float64{0, 0}},
			},
		},
		{
			name: "agreement of both legs beats either leg's top hit",
			legs: []Leg{
				kw(hit("a", 3), hit("b", 2), hit("c", 1)),
				vec(hit("c", 0.8), hit("b", 0.7), hit("z", 0.1)),
			},
			want: []want{
				{"b", 0.6*0.5 + 0.4*(0.6/0.7), []int{2, 2}, []float64{0.5, 0.6 / 0.7}},
				{"a", 0.6, []int{1, 0}, []float64{1, 0}},
				{"c", 0.4, []int{3, 1}, []float64{0, 1}},
				{"z", 0, []int{0, 3}, []float64{0, 0}},
			},
		},
		{
			name: "min equals max: all normalise to 1",
			legs: []Leg{kw(hit("b", 2), hit("a", 2)), vec()},
			want: []want{
				{"a", 0.6, []int{2, 0}, []float64{1, 0}},
				{"b", 0.6, []int{1, 0}, []float64{1, 0}},
			},
		},
		{
			name: "single-hit legs normalise to 1",
			legs: []Leg{kw(hit("a", 0.01)), vec(hit("a", -3))},
			want: []want{{"a", 1.0, []int{1, 1}, []float64{1, 1}}},
		},
		{
			name: "negative scores",
			legs: []Leg{vec(hit("a", -1), hit("b", -2), hit("c", -5))},
			want: []want{
				{"a", 0.4, []int{1}, []float64{1}},
				{"b", 0.4 * 0.75, []int{2}, []float64{0.75}},
				{"c", 0, []int{3}, []float64{0}},
			},
		},
		{
			name: "repeated chunk keeps its first rank",
			legs: []Leg{kw(hit("a", 4), hit("a", 9), hit("b", 2))},
			want: []want{
				{"a", 0.6, []int{1}, []float64{1}},
				{"b", 0, []int{2}, []float64{0}},
			},
		},
		{
			name: "non-finite scores do not poison the sum",
			legs: []Leg{kw(hit("a", math.NaN()), hit("b", 4), hit("c", 2), hit("d", math.Inf(1)))},
			want: []want{
				{"b", 0.6, []int{2}, []float64{1}},
				{"d", 0.6, []int{4}, []float64{1}},
				{"a", 0, []int{1}, []float64{0}},
				{"c", 0, []int{3}, []float64{0}},
			},
		},
		{name: "no hits", legs: []Leg{kw(), vec()}, want: []want{}},
		{name: "no legs", legs: nil, want: []want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFused(t, FuseWeighted(tt.legs...), MethodWeighted, tt.legs, tt.want)
		})
	}
}

func TestFuseRRF(t *testing.T) {
	tests := []struct {
		name string
		k    float64
		legs []Leg
		want []want
	}{
		{
			name: "default k, weighted legs",
			k:    0,
			legs: []Leg{
				{Name: LegKeyword, Weight: 0.6, Hits: []index.Hit{hit("a", 10), hit("b", 5)}},
				{Name: LegVector, Weight: 0.4, Hits: []index.Hit{hit("b", 0.9), hit("c", 0.5), hit("a", 0.1)}},
			},
			want: []want{
				{"b", 0.6/62 + 0.4/61, []int{2, 1}, []float64{1.0 / 62, 1.0 / 61}},
				{"a", 0.6/61 + 0.4/63, []int{1, 3}, []float64{1.0 / 61, 1.0 / 63}},
				{"c", 0.4 / 62, []int{0, 2}, []float64{0, 1.0 / 62}},
			},
		},
		{
			name: "scores are ignored, only ranks count",
			k:    1,
			legs: []Leg{
				{Name: LegKeyword, Weight: 1, Hits: []index.Hit{hit("x", 0), hit("y", 1000)}},
			},
			want: []want{
				{"x", 0.5, []int{1}, []float64{0.5}},
				{"y", 1.0 / 3, []int{2}, []float64{1.0 / 3}},
			},
		},
		{
			name: "equal fused scores are ordered by chunk ID",
			k:    60,
			legs: []Leg{
				{Name: LegKeyword, Weight: 1, Hits: []index.Hit{hit("m", 2), hit("n", 1)}},
				{Name: LegVector, Weight: 1, Hits: []index.Hit{hit("n", 2), hit("m", 1)}},
			},
			want: []want{
				{"m", 1.0/61 + 1.0/62, []int{1, 2}, []float64{1.0 / 61, 1.0 / 62}},
				{"n", 1.0/62 + 1.0/61, []int{2, 1}, []float64{1.0 / 62, 1.0 / 61}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFused(t, FuseRRF(tt.k, tt.legs...), MethodRRF, tt.legs, tt.want)
		})
	}
}

func TestFusionSummary(t *testing.T) {
	// Seven vector hits so that the target sits at #7 with a normalised
	// score of 0.412: (0.218-0.1)/(0.3864-0.1) ≈ 0.412.
	vec := []index.Hit{hit("v1", 0.3864), hit("v2", 0.35), hit("v3", 0.3), hit("v4", 0.28), hit("v5", 0.25), hit("v6", 0.22), hit("t", 0.218), hit("v8", 0.1)}
	legs := []Leg{
		{Name: LegKeyword, Weight: 0.6, Hits: []index.Hit{hit("t", 12.31), hit("k2", 3)}},
		{Name: LegVector, Weight: 0.4, Hits: vec},
	}
	got := FuseWeighted(legs...)
	if got[0].ID != "t" {
		t.Fatalf("top is %s, want t", got[0].ID)
	}
	const wantSum = "0.6×1.000 (keyword #1, bm25 12.31) + 0.4×0.412 (vector #7, 0.218) = 0.765"
	if s := got[0].Explain.Summary; s != wantSum {
		t.Errorf("summary\n got %s\nwant %s", s, wantSum)
	}
	for _, p := range got {
		if p.ID == "v1" {
			const want = "0.6×0 (keyword: not returned) + 0.4×1.000 (vector #1, 0.386) = 0.400"
			if p.Explain.Summary != want {
				t.Errorf("summary\n got %s\nwant %s", p.Explain.Summary, want)
			}
		}
	}

	rrf := FuseRRF(0, legs...)
	const wantRRF = "0.6×1/(60+1) (keyword #1, bm25 12.31) + 0.4×1/(60+7) (vector #7, 0.218) = 0.01581"
	if rrf[0].ID != "t" || rrf[0].Explain.Summary != wantRRF {
		t.Errorf("rrf top %s summary\n got %s\nwant %s", rrf[0].ID, rrf[0].Explain.Summary, wantRRF)
	}
}

// TestFuseKeepsChunk checks that fused passages carry the whole chunk,
// taken from the first leg that returned it.
func TestFuseKeepsChunk(t *testing.T) {
	c := quarry.Chunk{ID: "d#1", DocID: "d", Path: "a/b.md", Title: "B", Heading: "H", Page: 2, Ordinal: 1, Text: "hello", Tokens: 1, Lang: "en"}
	got := FuseWeighted(Leg{Name: LegVector, Weight: 1, Hits: []index.Hit{{Chunk: c, Score: 1}}})
	if len(got) != 1 || got[0].Chunk != c {
		t.Fatalf("got %+v, want chunk %+v", got, c)
	}
}

func benchLegs(n int) []Leg {
	kw := make([]index.Hit, n)
	vec := make([]index.Hit, n)
	for i := range n {
		kw[i] = hit(fmt.Sprintf("c%04d", i), float64(n-i)*0.37)
		vec[i] = hit(fmt.Sprintf("c%04d", i+n/2), 1-float64(i)/float64(n))
	}
	return []Leg{{Name: LegKeyword, Weight: 0.6, Hits: kw}, {Name: LegVector, Weight: 0.4, Hits: vec}}
}

func BenchmarkFuseWeighted100(b *testing.B) {
	legs := benchLegs(100)
	b.ReportAllocs()
	for b.Loop() {
		fuse(legs, weightedTerms)
	}
}

func BenchmarkFuseRRF100(b *testing.B) {
	legs := benchLegs(100)
	b.ReportAllocs()
	for b.Loop() {
		fuse(legs, rrfTerms(DefaultRRFK))
	}
}

func BenchmarkFuseWeightedExplained100(b *testing.B) {
	legs := benchLegs(100)
	b.ReportAllocs()
	for b.Loop() {
		FuseWeighted(legs...)
	}
}
