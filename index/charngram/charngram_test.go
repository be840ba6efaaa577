package charngram

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

func newDefault(t testing.TB) *Embedder {
	t.Helper()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func passage(t testing.TB, e *Embedder, text string) index.Vector {
	t.Helper()
	vs, err := e.EmbedPassages(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

// checkVector checks the invariants every vector has.
func checkVector(t testing.TB, e *Embedder, v index.Vector) {
	t.Helper()
	if v.Dense != nil || v.Indices == nil || v.Values == nil || !v.IsSparse() {
		t.Fatalf("not a sparse vector: %+v", v)
	}
	if len(v.Indices) != len(v.Values) {
		t.Fatalf("%d indices, %d values", len(v.Indices), len(v.Values))
	}
	var sum float64
	for i, ix := range v.Indices {
		if int(ix) >= e.Space().Dim {
			t.Fatalf("index %d >= Dim %d", ix, e.Space().Dim)
		}
		if i > 0 && ix <= v.Indices[i-1] {
			t.Fatalf("indices not strictly increasing at %d: %v", i, v.Indices[max(0, i-3):i+1])
		}
		x := float64(v.Values[i])
		if math.IsNaN(x) || x <= 0 || x > 1 {
			t.Fatalf("value %g at index %d", x, ix)
		}
		sum += x * x
	}
	if len(v.Indices) > 0 && math.Abs(sum-1) > 1e-5 {
		t.Fatalf("L2 norm² = %g, want 1", sum)
	}
}

func TestSpace(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		name string
		dim  int
	}{
		{Config{}, "quarry-charngram-v1/b18-n3-4-cjk1-2", 1 << 18},
		{Config{Bits: 16}, "quarry-charngram-v1/b16-n3-4-cjk1-2", 1 << 16},
		{Config{MinN: 2, MaxN: 5}, "quarry-charngram-v1/b18-n2-5-cjk1-2", 1 << 18},
		{Config{MinN: 5}, "quarry-charngram-v1/b18-n5-5-cjk1-2", 1 << 18},
	} {
		e, err := New(tc.cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", tc.cfg, err)
		}
		want := index.Space{Embedder: tc.name, Dim: tc.dim, Sparse: true, IDF: true}
		if got := e.Space(); got != want {
			t.Errorf("New(%+v).Space() = %+v, want %+v", tc.cfg, got, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Bits: 9}, {Bits: 31}, {Bits: -1},
		{MinN: -1}, {MinN: 4, MaxN: 3}, {MaxN: 9}, {MinN: 9, MaxN: 9},
	} {
		if _, err := New(cfg); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
}

func TestVectorInvariants(t *testing.T) {
	e := newDefault(t)
	for _, text := range []string{
		"Refunds are available within 30 days of purchase.",
		"退款须在购买后30天内申请。",
		"a", "ab", "x y z", "ünïcödé Ça fait 1½ €",
		strings.Repeat("the cat sat on the mat ", 200),
		"混合 text with 中文 and English, iPhone手机 ２０２４年",
		"\x00\xff invalid utf-8 \xc3",
	} {
		checkVector(t, e, passage(t, e, text))
		q, err := e.EmbedQuery(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, e, q)
	}
}

func TestDeterministic(t *testing.T) {
	text := "The refund policy: returns within 30 days. 退款政策"
	a := passage(t, newDefault(t), text)
	b := passage(t, newDefault(t), text)
	vs, err := newDefault(t).EmbedPassages(context.Background(), []string{"other text first", text, text})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, vs[1]) || !reflect.DeepEqual(a, vs[2]) {
		t.Fatal("the same text gave different vectors")
	}
	q, _ := newDefault(t).EmbedQuery(context.Background(), text)
	if !reflect.DeepEqual(a, q) {
		t.Fatal("query and passage vectors of the same text differ")
	}
}

func TestEmpty(t *testing.T) {
	e := newDefault(t)
	for _, text := range []string{"", "   ", "\n\t", "!!! --- ... ??? 。，、", "\u200b"} {
		v := passage(t, e, text)
		checkVector(t, e, v)
		if len(v.Indices) != 0 {
			t.Errorf("%q gave %d indices, want none", text, len(v.Indices))
		}
	}
	vs, err := e.EmbedPassages(context.Background(), nil)
	if err != nil || len(vs) != 0 {
		t.Fatalf("EmbedPassages(nil) = %v, %v", vs, err)
	}
}

func TestNormalisation(t *testing.T) {
	e := newDefault(t)
	for _, tc := range []struct{ a, b string }{
		{"Refund Policy", "refund policy"},
		{"REFUND", "ｒｅｆｕｎｄ"}, // full-width forms
		{"refund, policy!", "refund policy"},
		{"refund\n\n  policy", "refund policy"},
		{"café", "cafe\u0301"}, // composed and decomposed
		{"２０２４年", "2024年"},
	} {
		if va, vb := passage(t, e, tc.a), passage(t, e, tc.b); !reflect.DeepEqual(va, vb) {
			t.Errorf("%q and %q embed differently", tc.a, tc.b)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"ab cd", "abcd"}, // word edges matter
		{"refund", "refunds"},
		{"退款", "款退"},
	} {
		if va, vb := passage(t, e, tc.a), passage(t, e, tc.b); reflect.DeepEqual(va, vb) {
			t.Errorf("%q and %q embed the same", tc.a, tc.b)
		}
	}
}

// grams counts the distinct buckets of a text, before weighting.
func distinct(e *Embedder, text string) int {
	g := e.grams(text, nil)
	slices.Sort(g)
	return len(slices.Compact(g))
}

func TestGramCounts(t *testing.T) {
	e := newDefault(t)
	for _, tc := range []struct {
		text string
		want int
	}{
		// " ab " → " ab", "ab ", " ab "
		{"ab", 3},
		// " a " is shorter than 4, so only the 3-gram
		{"a", 1},
		// " cat " (5 runes): 3 three-grams + 2 four-grams
		{"cat", 5},
		{"cat cat CAT", 5},
		// 4 unigrams + 3 bigrams, no longer n-grams of Han characters
		{"退款政策", 7},
		{"退款政", 5},
		{"退", 1},
		// "2024" (" 2024 ": 4 + 3) and "年" (1) are separate words
		{"2024年", 8},
		// kana are CJK too: 3 unigrams, 2 bigrams
		{"ひらが", 5},
	} {
		if got := distinct(e, tc.text); got != tc.want {
			t.Errorf("%q has %d distinct n-grams, want %d", tc.text, got, tc.want)
		}
	}
}

func TestChineseSharesGrams(t *testing.T) {
	e := newDefault(t)
	doc := passage(t, e, "退款须在购买后三十天内申请")
	for _, tc := range []struct {
		q     string
		share bool
	}{
		{"退款", true}, {"申请退款", true}, {"发票", false},
	} {
		q := passage(t, e, tc.q)
		shared := 0
		for _, ix := range q.Indices {
			if _, ok := slices.BinarySearch(doc.Indices, ix); ok {
				shared++
			}
		}
		if (shared > 0) != tc.share {
			t.Errorf("query %q shares %d indices with the passage, want sharing=%v", tc.q, shared, tc.share)
		}
	}
}

func TestSublinearTF(t *testing.T) {
	e := newDefault(t)
	v := passage(t, e, "a a a a b")
	if len(v.Values) != 2 {
		t.Fatalf("want 2 buckets, got %d", len(v.Values))
	}
	wa, wb := 1+math.Log(4), 1.0
	hi, lo := max(v.Values[0], v.Values[1]), min(v.Values[0], v.Values[1])
	if got := float64(hi / lo); math.Abs(got-wa/wb) > 1e-5 {
		t.Fatalf("weight ratio %g, want (1+ln 4)/1 = %g", got, wa/wb)
	}
}

func TestCanceled(t *testing.T) {
	e := newDefault(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.EmbedPassages(ctx, []string{"x"}); quarry.ErrorCode(err) != quarry.CodeCanceled {
		t.Errorf("EmbedPassages: %v, want canceled", err)
	}
	if _, err := e.EmbedQuery(ctx, "x"); quarry.ErrorCode(err) != quarry.CodeCanceled {
		t.Errorf("EmbedQuery: %v, want canceled", err)
	}
}

// The golden file pins the exact vectors: a change to normalisation,
// hashing or weighting must come with a new embedder version, because
// indexes built by the old one would silently stop matching.
func TestGolden(t *testing.T) {
	e := newDefault(t)
	texts := []string{
		"Refunds are available within 30 days.",
		"退款政策",
		"iPhone手机 ２０２４年",
		"naïve café",
	}
	got := map[string]index.Vector{}
	for _, text := range texts {
		got[text] = passage(t, e, text)
	}
	path := filepath.Join("testdata", "golden.json")
	if *update {
		raw, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want map[string]index.Vector
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		if !reflect.DeepEqual(got[text], want[text]) {
			t.Errorf("vector of %q changed:\n got %v\nwant %v", text, got[text], want[text])
		}
	}
}

func FuzzEmbed(f *testing.F) {
	for _, s := range []string{"", "refund", "退款政策", "a b", "ｒｅｆｕｎｄ ２０２４年", "\xff\xfe", "ﷺ", "ǅ", "\u0301\u0301"} {
		f.Add(s)
	}
	e := newDefault(f)
	small, err := New(Config{Bits: 10, MinN: 1, MaxN: 8})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, emb := range []*Embedder{e, small} {
			v, err := emb.EmbedQuery(context.Background(), text)
			if err != nil {
				t.Fatal(err)
			}
			checkVector(t, emb, v)
		}
	})
}

func BenchmarkEmbedPassages(b *testing.B) {
	e := newDefault(b)
	en := strings.Repeat("Customers may request a refund within thirty days of purchase, provided the item is unused. ", 12)
	zh := strings.Repeat("顾客可在购买后三十天内申请退款，前提是商品未经使用。", 10)
	for _, tc := range []struct{ name, text string }{{"en-1KB", en[:1000]}, {"zh-300chars", zh}} {
		b.Run(tc.name, func(b *testing.B) {
			texts := make([]string, 64)
			for i := range texts {
				texts[i] = tc.text
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.text) * len(texts)))
			for b.Loop() {
				if _, err := e.EmbedPassages(ctx, texts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
