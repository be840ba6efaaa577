package bleveindex

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// A tiny corpus of words that analysis leaves as they are (short, no
// stop words), so lengths and frequencies can be read off the text.
var formulaDocs = []struct{ id, title, heading, text string }{
	{"d1", "", "", "aa bb cc"},
	{"d2", "", "", "aa aa dd dd dd"},
	{"d3", "", "", "bb"},
	{"d4", "", "", "cc dd"},
}

// Hand-computed Lucene BM25 (k1 1.2, b 0.75), N 4, avgdl 11/4:
// idf = ln(1 + (4-2+0.5)/(2+0.5)) = ln 2 for aa and bb (df 2).
const (
	bbInD3 = 0.4259563679418658 // ln2 · 1/(1 + 1.2·(0.25 + 0.75·1/2.75))
	aaInD2 = 0.3521763965893487 // ln2 · 2/(2 + 1.2·(0.25 + 0.75·5/2.75))
)

func formulaIndex(t *testing.T, docs []struct{ id, title, heading, text string }) *Index {
	t.Helper()
	ix := openTest(t, Config{})
	for _, d := range docs {
		upsert(t, ix, quarry.Chunk{ID: d.id, DocID: d.id, Title: d.title, Heading: d.heading, Text: d.text})
	}
	return ix
}

func scores(t *testing.T, ix *Index, q string, s Scoring) map[string]float64 {
	t.Helper()
	hits, err := ix.SearchScored(context.Background(), q, 100, s)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, h := range hits {
		out[h.Chunk.ID] = h.Score
	}
	return out
}

var lucene = Scoring{K1: 1.2, B: 0.75, TitleBoost: -1, HeadingBoost: -1}

// TestLuceneBM25 pins the single-field score to Lucene's BM25Similarity:
// a sum over query terms of idf·tf/(tf + k1·(1 − b + b·dl/avgdl)), with
// no coordination factor and no query normalisation.
func TestLuceneBM25(t *testing.T) {
	ix := formulaIndex(t, formulaDocs)
	tests := []struct {
		name  string
		query string
		doc   string
		want  float64
	}{
		{"one term", "bb", "d3", bbInD3},
		{"term frequency 2", "aa", "d2", aaInD2},
		{"no coord: unmatched term adds nothing", "bb zz", "d3", bbInD3},
		{"no coord: other matched term elsewhere", "aa bb", "d3", bbInD3},
		{"terms add up", "aa bb", "d2", aaInD2},
		{"repeated query term counts twice", "bb bb", "d3", 2 * bbInD3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scores(t, ix, tc.query, lucene)[tc.doc]
			if !ok || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("score(%q, %s) = %v (found %v), want %v", tc.query, tc.doc, got, ok, tc.want)
			}
		})
	}
}

// refBM25F scores docs with the BM25F formula of bm25.go, from
// whitespace-split text.
func refBM25F(docs []struct{ id, title, heading, text string }, query string, s Scoring) map[string]float64 {
	w := s.weights()
	fields := func(d struct{ id, title, heading, text string }) [3][]string {
		return [3][]string{strings.Fields(d.text), strings.Fields(d.title), strings.Fields(d.heading)}
	}
	var docsF, lenF [3]float64
	for _, d := range docs {
		for i, f := range fields(d) {
			if len(f) > 0 {
				docsF[i]++
				lenF[i] += float64(len(f))
			}
		}
	}
	var n, sum float64
	for i := range w {
		if w[i] > 0 {
			n = math.Max(n, docsF[i])
			sum += w[i] * lenF[i]
		}
	}
	avgdl := sum / n
	out := map[string]float64{}
	qtf := map[string]int{}
	for _, t := range strings.Fields(query) {
		qtf[t]++
	}
	for term, c := range qtf {
		var df float64
		for i := range w {
			if w[i] == 0 {
				continue
			}
			var dfi float64
			for _, d := range docs {
				for _, tok := range fields(d)[i] {
					if tok == term {
						dfi++
						break
					}
				}
			}
			df = math.Max(df, dfi)
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, d := range docs {
			var tf, dl float64
			for i, f := range fields(d) {
				dl += w[i] * float64(len(f))
				for _, tok := range f {
					if tok == term {
						tf += w[i]
					}
				}
			}
			if tf > 0 {
				out[d.id] += float64(c) * idf * tf / (tf + s.K1*(1-s.B+s.B*dl/avgdl))
			}
		}
	}
	return out
}

// TestBM25F checks multi-field scoring against the reference formula,
// and that weight 1 on every field scores like one concatenated field.
func TestBM25F(t *testing.T) {
	docs := []struct{ id, title, heading, text string }{
		{"t1", "aa", "", "bb cc dd"},
		{"t2", "bb", "hh", "aa aa cc"},
		{"t3", "", "aa hh", "cc"},
		{"t4", "ee ff", "", "aa bb ee ff gg"},
		{"t5", "", "", "dd"},
	}
	ix := formulaIndex(t, docs)
	for _, s := range []Scoring{
		{K1: 1.2, B: 0.75, TitleBoost: 2, HeadingBoost: 1.5},
		{K1: 0.9, B: 0.4, TitleBoost: 1, HeadingBoost: 1},
		{K1: 2, B: 1, TitleBoost: 0.5, HeadingBoost: -1},
		{K1: 1.2, B: -1, TitleBoost: 3, HeadingBoost: 3}, // b = 0
	} {
		for _, q := range []string{"aa", "aa bb", "hh cc", "ee ff gg aa", "zz", "aa aa dd"} {
			t.Run(fmt.Sprintf("%v/%s", s, q), func(t *testing.T) {
				d := s.withDefaults()
				want := refBM25F(docs, q, d)
				got := scores(t, ix, q, s)
				if len(got) != len(want) {
					t.Fatalf("matched %v, want %v", got, want)
				}
				for id, w := range want {
					if math.Abs(got[id]-w) > 1e-9 {
						t.Errorf("%s: %v, want %v", id, got[id], w)
					}
				}
			})
		}
	}

	// All weights 1: the same as one field holding heading, title and text.
	var flat []struct{ id, title, heading, text string }
	for _, d := range docs {
		flat = append(flat, struct{ id, title, heading, text string }{d.id, "", "", d.title + " " + d.heading + " " + d.text})
	}
	flatIx := formulaIndex(t, flat)
	ones := Scoring{K1: 0.9, B: 0.4, TitleBoost: 1, HeadingBoost: 1}
	for _, q := range []string{"cc", "dd hh"} { // terms whose df is the same either way
		got, want := scores(t, ix, q, ones), scores(t, flatIx, q, ones)
		for id, w := range want {
			if math.Abs(got[id]-w) > 1e-9 {
				t.Errorf("flat %q %s: %v, want %v", q, id, got[id], w)
			}
		}
	}
}

func TestLengthsEncoding(t *testing.T) {
	tests := []struct {
		in   string
		want lengths
		ok   bool
	}{
		{"0 0 0", lengths{}, true},
		{"12 3 0", lengths{12, 3, 0}, true},
		{"123456 7 89", lengths{123456, 7, 89}, true},
		{"", lengths{}, false},
		{"1 2", lengths{}, false},
		{"1 2 3 4", lengths{}, false},
		{"1  2 3", lengths{}, false},
		{"1 2 x", lengths{}, false},
		{" 1 2 3", lengths{}, false},
		{"1 2 3 ", lengths{}, false},
		{"-1 2 3", lengths{}, false},
	}
	for _, tc := range tests {
		got, ok := decodeLengths([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("decodeLengths(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzDecodeLengths(f *testing.F) {
	for _, s := range []string{"0 0 0", "12 3 0", "1 2", "x", "", "99999999999999999999 1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := decodeLengths([]byte(s))
		if !ok {
			return
		}
		for _, n := range l {
			if n < 0 || n > math.MaxInt32 {
				t.Fatalf("decodeLengths(%q) = %v", s, l)
			}
		}
		if again, ok := decodeLengths([]byte(l.encode())); !ok || again != l {
			t.Errorf("round trip of %v: %v, %v", l, again, ok)
		}
	})
}
