package retrieve

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// fakeKW is a keyword leg backed by a function.
type fakeKW func(ctx context.Context, q string, k int) ([]index.Hit, error)

func (f fakeKW) Search(ctx context.Context, q string, k int) ([]index.Hit, error) {
	return f(ctx, q, k)
}

// fakeVS is a vector leg backed by a function.
type fakeVS func(ctx context.Context, v index.Vector, k int) ([]index.Hit, error)

func (f fakeVS) Search(ctx context.Context, v index.Vector, k int, _ index.Filter) ([]index.Hit, error) {
	return f(ctx, v, k)
}

// fakeEmb embeds a query as a one-element dense vector of its length.
type fakeEmb struct{ err error }

func (e fakeEmb) EmbedQuery(_ context.Context, text string) (index.Vector, error) {
	if e.err != nil {
		return index.Vector{}, e.err
	}
	return index.Vector{Dense: []float32{float32(len(text))}}, nil
}

func staticKW(hits ...index.Hit) fakeKW {
	return func(_ context.Context, _ string, k int) ([]index.Hit, error) { return head(hits, k), nil }
}

func staticVS(hits ...index.Hit) fakeVS {
	return func(_ context.Context, _ index.Vector, k int) ([]index.Hit, error) { return head(hits, k), nil }
}

func failingKW(err error) fakeKW {
	return func(context.Context, string, int) ([]index.Hit, error) { return nil, err }
}

func failingVS(err error) fakeVS {
	return func(context.Context, index.Vector, int) ([]index.Hit, error) { return nil, err }
}

func head(hits []index.Hit, k int) []index.Hit {
	if len(hits) > k {
		return hits[:k]
	}
	return hits
}

// docHit is a hit on chunk ordinal n of document doc.
func docHit(doc string, n int, score float64) index.Hit {
	return index.Hit{Chunk: quarry.Chunk{ID: fmt.Sprintf("%s#%d", doc, n), DocID: doc, Ordinal: n, Text: "t"}, Score: score}
}

// manyHits returns n hits, each from its own document, best first.
func manyHits(prefix string, n int) []index.Hit {
	hs := make([]index.Hit, n)
	for i := range hs {
		hs[i] = docHit(fmt.Sprintf("%s%03d", prefix, i), 0, float64(n-i))
	}
	return hs
}

var (
	kwHits  = []index.Hit{docHit("a", 0, 9), docHit("b", 0, 5), docHit("c", 0, 1)}
	vecHits = []index.Hit{docHit("b", 0, 0.9), docHit("d", 0, 0.7), docHit("a", 0, 0.2)}
)

func TestSearchValidation(t *testing.T) {
	r := New(Config{}, staticKW(kwHits...), staticVS(vecHits...), fakeEmb{})
	tests := []struct {
		name string
		req  quarry.SearchRequest
		want *quarry.Error
	}{
		{"empty query", quarry.SearchRequest{}, quarry.ErrInvalid},
		{"blank query", quarry.SearchRequest{Query: " \t\n "}, quarry.ErrInvalid},
		{"invalid UTF-8", quarry.SearchRequest{Query: "ab\xffcd"}, quarry.ErrInvalid},
		{"query too long", quarry.SearchRequest{Query: strings.Repeat("é", DefaultMaxQueryChars+1)}, quarry.ErrTooLarge},
		{"negative k", quarry.SearchRequest{Query: "x", K: -1}, quarry.ErrInvalid},
		{"k over the limit", quarry.SearchRequest{Query: "x", K: DefaultMaxK + 1}, quarry.ErrTooLarge},
		{"unknown mode", quarry.SearchRequest{Query: "x", Mode: "semantic"}, quarry.ErrInvalid},
		{"k at the limit", quarry.SearchRequest{Query: "x", K: DefaultMaxK}, nil},
		{"query at the limit", quarry.SearchRequest{Query: strings.Repeat("é", DefaultMaxQueryChars)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Search(context.Background(), tt.req)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v (code %q), want code %q", err, quarry.ErrorCode(err), tt.want.Code)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"rrf", Config{Fusion: MethodRRF, RRFK: 10}, true},
		{"unknown fusion", Config{Fusion: "borda"}, false},
		{"negative weight", Config{VectorWeight: -0.1}, false},
		{"negative timeout", Config{Timeout: -time.Second}, false},
		{"default k above max", Config{DefaultK: 20, MaxK: 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, quarry.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			// A retriever with a bad config refuses every search.
			_, serr := New(tt.cfg, staticKW(kwHits...), nil, nil).Search(context.Background(), quarry.SearchRequest{Query: "q"})
			if (serr == nil) != tt.ok {
				t.Fatalf("Search error %v, want ok=%v", serr, tt.ok)
			}
		})
	}
}

func TestSearchModes(t *testing.T) {
	r := New(Config{}, staticKW(kwHits...), staticVS(vecHits...), fakeEmb{})
	tests := []struct {
		mode    string
		wantIDs []string
		legs    []string
	}{
		// a: 0.6·1 + 0.4·0 = 0.6; b: 0.6·0.5 + 0.4·1 = 0.7; c: 0; d: 0.4·(0.5/0.7).
		{quarry.ModeHybrid, []string{"b#0", "a#0", "d#0", "c#0"}, []string{LegKeyword, LegVector}},
		{"", []string{"b#0", "a#0", "d#0", "c#0"}, []string{LegKeyword, LegVector}},
		{quarry.ModeKeyword, []string{"a#0", "b#0", "c#0"}, []string{LegKeyword}},
		{quarry.ModeVector, []string{"b#0", "d#0", "a#0"}, []string{LegVector}},
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			res, err := r.Search(context.Background(), quarry.SearchRequest{Query: "q", Mode: tt.mode, Explain: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Passages); !reflect.DeepEqual(got, tt.wantIDs) {
				t.Fatalf("ids %v, want %v", got, tt.wantIDs)
			}
			if len(res.Notes) != 0 {
				t.Errorf("unexpected notes %q", res.Notes)
			}
			for _, p := range res.Passages {
				var legs []string
				var sum float64
				for _, ls := range p.Explain.Legs {
					legs = append(legs, ls.Leg)
					sum += ls.Contribution
				}
				if !reflect.DeepEqual(legs, tt.legs) {
					t.Errorf("%s explained by legs %v, want %v", p.ID, legs, tt.legs)
				}
				if sum != p.Score {
					t.Errorf("%s: contributions %v != score %v", p.ID, sum, p.Score)
				}
			}
		})
	}
}

func TestSearchExplainOnlyWhenAsked(t *testing.T) {
	r := New(Config{}, staticKW(kwHits...), staticVS(vecHits...), fakeEmb{})
	res, err := r.Search(context.Background(), quarry.SearchRequest{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Passages {
		if p.Explain != nil {
			t.Fatalf("%s has an explanation nobody asked for", p.ID)
		}
	}
	res, err = New(Config{Fusion: MethodRRF}, staticKW(kwHits...), staticVS(vecHits...), fakeEmb{}).
		Search(context.Background(), quarry.SearchRequest{Query: "q", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	// b: 0.6/62 + 0.4/61 beats a: 0.6/61 + 0.4/63.
	if got := ids(res.Passages); !reflect.DeepEqual(got[:2], []string{"b#0", "a#0"}) {
		t.Fatalf("rrf order %v", got)
	}
	if e := res.Passages[0].Explain; e == nil || e.Method != MethodRRF || !strings.Contains(e.Summary, "1/(60+2)") {
		t.Fatalf("rrf explanation %+v", e)
	}
}

func TestSearchKAndCandidates(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	kw := fakeKW(func(_ context.Context, _ string, k int) ([]index.Hit, error) {
		mu.Lock()
		asked[LegKeyword] = k
		mu.Unlock()
		return head(manyHits("k", 150), k), nil
	})
	vs := fakeVS(func(_ context.Context, _ index.Vector, k int) ([]index.Hit, error) {
		mu.Lock()
		asked[LegVector] = k
		mu.Unlock()
		return head(manyHits("v", 150), k), nil
	})
	tests := []struct {
		name      string
		cfg       Config
		k         int
		wantN     int
		wantAsked int
	}{
		{"defaults", Config{}, 0, DefaultK, DefaultCandidateK},
		{"k 25", Config{}, 25, 25, DefaultCandidateK},
		{"candidates raised to k", Config{CandidateK: 5}, 20, 20, 20},
		{"custom default k", Config{DefaultK: 4, CandidateK: 30}, 0, 4, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := New(tt.cfg, kw, vs, fakeEmb{}).Search(context.Background(), quarry.SearchRequest{Query: "q", K: tt.k})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Passages) != tt.wantN {
				t.Errorf("%d passages, want %d", len(res.Passages), tt.wantN)
			}
			mu.Lock()
			defer mu.Unlock()
			if asked[LegKeyword] != tt.wantAsked || asked[LegVector] != tt.wantAsked {
				t.Errorf("legs asked for %v, want %d each", asked, tt.wantAsked)
			}
		})
	}
}

func TestSearchPassesTrimmedQuery(t *testing.T) {
	var got string
	kw := fakeKW(func(_ context.Context, q string, _ int) ([]index.Hit, error) { got = q; return nil, nil })
	res, err := New(Config{}, kw, nil, nil).Search(context.Background(), quarry.SearchRequest{Query: "  refund policy \n"})
	if err != nil {
		t.Fatal(err)
	}
	if got != "refund policy" {
		t.Errorf("keyword leg got %q", got)
	}
	if res.Passages == nil {
		t.Error("an empty result should be an empty slice, not nil (JSON [] rather than null)")
	}
}

func TestSearchMaxPerDoc(t *testing.T) {
	// Document "big" has the top five chunks; "s1".."s3" follow.
	hits := []index.Hit{
		docHit("big", 0, 10), docHit("big", 1, 9), docHit("big", 2, 8), docHit("big", 3, 7), docHit("big", 4, 6),
		docHit("s1", 0, 5), docHit("s2", 0, 4), docHit("s3", 0, 3),
	}
	tests := []struct {
		name      string
		maxPerDoc int
		k         int
		want      []string
	}{
		{"default no cap", 0, 6, []string{"big#0", "big#1", "big#2", "big#3", "big#4", "s1#0"}},
		{"cap 3", 3, 5, []string{"big#0", "big#1", "big#2", "s1#0", "s2#0"}},
		{"cap 1", 1, 3, []string{"big#0", "s1#0", "s2#0"}},
		{"no cap", -1, 6, []string{"big#0", "big#1", "big#2", "big#3", "big#4", "s1#0"}},
		{"cap leaves fewer than k", 1, 10, []string{"big#0", "s1#0", "s2#0", "s3#0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{MaxPerDoc: tt.maxPerDoc}, staticKW(hits...), nil, nil)
			res, err := r.Search(context.Background(), quarry.SearchRequest{Query: "q", K: tt.k, Mode: quarry.ModeKeyword})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Passages); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

var errBackend = errors.New("backend exploded")

func TestSearchDegradesWhenOneLegFails(t *testing.T) {
	keywordOnly, err := New(Config{}, staticKW(kwHits...), nil, nil).
		Search(context.Background(), quarry.SearchRequest{Query: "q", Mode: quarry.ModeKeyword})
	if err != nil {
		t.Fatal(err)
	}
	vectorOnly, err := New(Config{}, nil, staticVS(vecHits...), fakeEmb{}).
		Search(context.Background(), quarry.SearchRequest{Query: "q", Mode: quarry.ModeVector})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		r        *Retriever
		want     quarry.SearchResult
		wantNote string
	}{
		{"vector search fails", New(Config{}, staticKW(kwHits...), failingVS(errBackend), fakeEmb{}), keywordOnly, "vector leg failed: backend exploded; results are keyword-only"},
		{"query embedding fails", New(Config{}, staticKW(kwHits...), staticVS(vecHits...), fakeEmb{err: errBackend}), keywordOnly, "vector leg failed: embed query: backend exploded; results are keyword-only"},
		{"keyword leg fails", New(Config{}, failingKW(errBackend), staticVS(vecHits...), fakeEmb{}), vectorOnly, "keyword leg failed: backend exploded; results are vector-only"},
		{"vector leg panics", New(Config{}, staticKW(kwHits...), fakeVS(func(context.Context, index.Vector, int) ([]index.Hit, error) { panic("nil map") }), fakeEmb{}), keywordOnly, "vector leg failed: panic: nil map; results are keyword-only"},
		{"vector leg not configured", New(Config{}, staticKW(kwHits...), nil, fakeEmb{}), keywordOnly, "vector leg not configured; results are keyword-only"},
		{"embedder not configured", New(Config{}, staticKW(kwHits...), staticVS(vecHits...), nil), keywordOnly, "vector leg not configured; results are keyword-only"},
		{"keyword leg not configured", New(Config{}, nil, staticVS(vecHits...), fakeEmb{}), vectorOnly, "keyword leg not configured; results are vector-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.r.Search(context.Background(), quarry.SearchRequest{Query: "q"})
			if err != nil {
				t.Fatalf("degraded search failed: %v", err)
			}
			if !reflect.DeepEqual(res.Passages, tt.want.Passages) {
				t.Errorf("passages %v, want the single leg's %v", ids(res.Passages), ids(tt.want.Passages))
			}
			if len(res.Notes) != 1 || res.Notes[0] != tt.wantNote {
				t.Errorf("notes %q, want [%q]", res.Notes, tt.wantNote)
			}
		})
	}
}

func TestSearchFailures(t *testing.T) {
	errVec := errors.New("qdrant: connection refused")
	tests := []struct {
		name    string
		r       *Retriever
		mode    string
		want    *quarry.Error
		wrapped []error
	}{
		{"both legs fail", New(Config{}, failingKW(errBackend), failingVS(errVec), fakeEmb{}), "", quarry.ErrUnavailable, []error{errBackend, errVec}},
		{"keyword mode, leg fails", New(Config{}, failingKW(errBackend), staticVS(vecHits...), fakeEmb{}), quarry.ModeKeyword, quarry.ErrUnavailable, []error{errBackend}},
		{"keyword mode, leg rejects the query", New(Config{}, failingKW(quarry.Errorf(quarry.CodeInvalid, "bad syntax")), nil, nil), quarry.ModeKeyword, quarry.ErrInvalid, nil},
		{"vector mode, not configured", New(Config{}, staticKW(kwHits...), nil, nil), quarry.ModeVector, quarry.ErrUnsupported, nil},
		{"keyword mode, not configured", New(Config{}, nil, staticVS(vecHits...), fakeEmb{}), quarry.ModeKeyword, quarry.ErrUnsupported, nil},
		{"no legs at all", New(Config{}, nil, nil, nil), "", quarry.ErrUnsupported, nil},
		{"hybrid with the only leg failing", New(Config{}, failingKW(errBackend), nil, nil), "", quarry.ErrUnavailable, []error{errBackend}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.r.Search(context.Background(), quarry.SearchRequest{Query: "q", Mode: tt.mode})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v (code %q), want code %q", err, quarry.ErrorCode(err), tt.want.Code)
			}
			for _, w := range tt.wrapped {
				if !errors.Is(err, w) {
					t.Errorf("error %v does not wrap %v", err, w)
				}
			}
		})
	}
}

// TestLegsRunInParallel makes each leg wait until the other has started:
// run one after the other, both would block until the budget expired.
func TestLegsRunInParallel(t *testing.T) {
	kwStarted, vecStarted := make(chan struct{}), make(chan struct{})
	rendezvous := func(ctx context.Context, mine, other chan struct{}) error {
		close(mine)
		select {
		case <-other:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	kw := fakeKW(func(ctx context.Context, _ string, k int) ([]index.Hit, error) {
		return kwHits, rendezvous(ctx, kwStarted, vecStarted)
	})
	vs := fakeVS(func(ctx context.Context, _ index.Vector, k int) ([]index.Hit, error) {
		return vecHits, rendezvous(ctx, vecStarted, kwStarted)
	})
	res, err := New(Config{Timeout: time.Minute}, kw, vs, fakeEmb{}).Search(context.Background(), quarry.SearchRequest{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 0 || len(res.Passages) != 4 {
		t.Fatalf("notes %q, passages %v", res.Notes, ids(res.Passages))
	}
}

// TestFailingLegDoesNotCancelOther: the vector leg only answers after the
// keyword leg has failed, and checks that its context is still live.
func TestFailingLegDoesNotCancelOther(t *testing.T) {
	kwFailed := make(chan struct{})
	kw := fakeKW(func(context.Context, string, int) ([]index.Hit, error) {
		defer close(kwFailed)
		return nil, errBackend
	})
	vs := fakeVS(func(ctx context.Context, _ index.Vector, k int) ([]index.Hit, error) {
		<-kwFailed
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("vector leg canceled by the keyword failure: %w", err)
		}
		return vecHits, nil
	})
	res, err := New(Config{}, kw, vs, fakeEmb{}).Search(context.Background(), quarry.SearchRequest{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Passages) != 3 || len(res.Notes) != 1 || !strings.HasPrefix(res.Notes[0], "keyword leg failed") {
		t.Fatalf("passages %v notes %q", ids(res.Passages), res.Notes)
	}
}

// TestBudget: a leg that never answers is abandoned when the query budget
// runs out, whether or not it honours its context. The stuck legs never
// return; the budget only has to be long enough for the instant keyword
// leg to be scheduled, even on a loaded machine.
func TestBudget(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	honours := fakeVS(func(ctx context.Context, _ index.Vector, _ int) ([]index.Hit, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ignores := fakeVS(func(context.Context, index.Vector, int) ([]index.Hit, error) {
		<-release
		return vecHits, nil
	})
	cfg := Config{Timeout: 250 * time.Millisecond}
	for name, vs := range map[string]fakeVS{"honours ctx": honours, "ignores ctx": ignores} {
		t.Run(name, func(t *testing.T) {
			res, err := New(cfg, staticKW(kwHits...), vs, fakeEmb{}).Search(context.Background(), quarry.SearchRequest{Query: "q"})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Passages); !reflect.DeepEqual(got, []string{"a#0", "b#0", "c#0"}) {
				t.Errorf("passages %v, want keyword-only", got)
			}
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "vector leg failed: no answer within 250ms") {
				t.Errorf("notes %q", res.Notes)
			}
		})
	}
	t.Run("both legs stuck", func(t *testing.T) {
		stuckKW := fakeKW(func(ctx context.Context, _ string, _ int) ([]index.Hit, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		_, err := New(cfg, stuckKW, honours, fakeEmb{}).Search(context.Background(), quarry.SearchRequest{Query: "q"})
		if !errors.Is(err, quarry.ErrTimeout) {
			t.Fatalf("error %v (code %q), want timeout", err, quarry.ErrorCode(err))
		}
	})
}

func TestSearchCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	kw := fakeKW(func(ctx context.Context, _ string, _ int) ([]index.Hit, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, err := New(Config{}, kw, staticVS(vecHits...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q"})
	if !errors.Is(err, quarry.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v (code %q), want canceled", err, quarry.ErrorCode(err))
	}
}

func BenchmarkSearchHybrid(b *testing.B) {
	r := New(Config{}, staticKW(manyHits("d", 100)...), staticVS(manyHits("e", 50)...), fakeEmb{})
	ctx := context.Background()
	for _, explain := range []bool{false, true} {
		b.Run(fmt.Sprintf("explain=%v", explain), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Search(ctx, quarry.SearchRequest{Query: "refund policy", Explain: explain}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rankingKW is a keyword leg that ranks before reading: hits carry
// their IDs only, load reads the whole chunk from hits. It records its
// loads and whether its rankings were released.
type rankingKW struct {
	hits     []index.Hit
	wait     chan struct{} // when set, SearchRanking returns once it is closed
	loadErr  error
	loads    atomic.Int64
	released chan struct{} // one send per Release
}

func newRankingKW(hits ...index.Hit) *rankingKW {
	return &rankingKW{hits: hits, released: make(chan struct{}, 100)}
}

func (f *rankingKW) Search(context.Context, string, int) ([]index.Hit, error) {
	panic("Search called on a leg that ranks")
}

func (f *rankingKW) SearchRanking(_ context.Context, _ string, k int) (index.Ranking, error) {
	if f.wait != nil {
		<-f.wait
	}
	whole := head(f.hits, k)
	ids := make([]index.Hit, len(whole))
	for i, h := range whole {
		ids[i] = index.Hit{Chunk: quarry.Chunk{ID: h.Chunk.ID}, Score: h.Score}
	}
	return index.Ranking{
		Hits: ids,
		Load: func(i int) (quarry.Chunk, error) {
			f.loads.Add(1)
			return whole[i].Chunk, f.loadErr
		},
		Release: func() { f.released <- struct{}{} },
	}, nil
}

// A ranking leg's chunks are read for the passages returned only (and
// not at all for those the vector leg returned whole), and
// its ranking is released once, whatever becomes of the search: fused
// and returned, the other leg failing, a chunk that cannot be read (the
// search fails as unavailable), or the leg abandoned to the budget
// (released when it finally answers).
func TestRankingLeg(t *testing.T) {
	ctx := context.Background()
	released := func(t *testing.T, kw *rankingKW) {
		t.Helper()
		select {
		case <-kw.released:
		case <-time.After(10 * time.Second):
			t.Fatal("ranking not released")
		}
		select {
		case <-kw.released:
			t.Fatal("ranking released twice")
		default:
		}
	}

	t.Run("fused", func(t *testing.T) {
		kw := newRankingKW(manyHits("d", 100)...)
		res, err := New(Config{}, kw, staticVS(manyHits("e", 50)...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q", K: 5})
		if err != nil {
			t.Fatal(err)
		}
		want, err := New(Config{}, staticKW(manyHits("d", 100)...), staticVS(manyHits("e", 50)...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q", K: 5})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("got %+v, want %+v", res, want)
		}
		kwReturned := 0
		for _, p := range res.Passages {
			if strings.HasPrefix(p.DocID, "d") {
				kwReturned++
			}
		}
		if n := kw.loads.Load(); n != int64(kwReturned) || n == 0 {
			t.Errorf("read %d chunks for %d keyword passages returned", n, kwReturned)
		}
		released(t, kw)
	})

	t.Run("in both legs", func(t *testing.T) {
		// a and b are in both legs: their chunks come from the vector
		// leg; c is read from the keyword leg.
		kw := newRankingKW(kwHits...)
		res, err := New(Config{}, kw, staticVS(vecHits...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q"})
		if err != nil {
			t.Fatal(err)
		}
		want, err := New(Config{}, staticKW(kwHits...), staticVS(vecHits...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("got %+v, want %+v", res, want)
		}
		if n := kw.loads.Load(); n != 1 {
			t.Errorf("read %d chunks from the keyword leg, want 1 (c#0)", n)
		}
		released(t, kw)
	})

	t.Run("capped", func(t *testing.T) {
		hits := []index.Hit{docHit("a", 0, 9), docHit("a", 1, 8), docHit("a", 2, 7), docHit("b", 0, 6), docHit("c", 0, 5)}
		kw := newRankingKW(hits...)
		res, err := New(Config{MaxPerDoc: 1}, kw, nil, nil).Search(ctx, quarry.SearchRequest{Query: "q", K: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(res.Passages); !reflect.DeepEqual(got, []string{"a#0", "b#0"}) {
			t.Errorf("passages %v", got)
		}
		if n := kw.loads.Load(); n != 4 {
			t.Errorf("read %d chunks, want 4 (two returned, two capped)", n)
		}
		released(t, kw)
	})

	t.Run("vector leg fails", func(t *testing.T) {
		kw := newRankingKW(kwHits...)
		res, err := New(Config{}, kw, failingVS(errors.New("down")), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q"})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(res.Passages); !reflect.DeepEqual(got, []string{"a#0", "b#0", "c#0"}) || res.Passages[0].Text != "t" {
			t.Errorf("passages %+v", res.Passages)
		}
		released(t, kw)
	})

	t.Run("unreadable chunk", func(t *testing.T) {
		kw := newRankingKW(kwHits...)
		kw.loadErr = errors.New("corrupt segment")
		_, err := New(Config{}, kw, staticVS(vecHits...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q"})
		if !errors.Is(err, quarry.ErrUnavailable) || !strings.Contains(err.Error(), "corrupt segment") {
			t.Fatalf("error %v, want unavailable with the cause", err)
		}
		released(t, kw)
	})

	t.Run("abandoned", func(t *testing.T) {
		kw := newRankingKW(kwHits...)
		kw.wait = make(chan struct{})
		res, err := New(Config{Timeout: 250 * time.Millisecond}, kw, staticVS(vecHits...), fakeEmb{}).Search(ctx, quarry.SearchRequest{Query: "q"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "keyword leg failed") {
			t.Errorf("notes %q", res.Notes)
		}
		close(kw.wait)
		released(t, kw)
		if n := kw.loads.Load(); n != 0 {
			t.Errorf("read %d chunks of an abandoned leg", n)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		kw := newRankingKW(kwHits...)
		kw.wait = make(chan struct{})
		cctx, cancel := context.WithCancel(ctx)
		vs := fakeVS(func(context.Context, index.Vector, int) ([]index.Hit, error) {
			cancel()
			return vecHits, nil
		})
		_, err := New(Config{}, kw, vs, fakeEmb{}).Search(cctx, quarry.SearchRequest{Query: "q"})
		if !errors.Is(err, quarry.ErrCanceled) {
			t.Fatalf("error %v, want canceled", err)
		}
		close(kw.wait)
		released(t, kw)
	})
}
