package retrieve

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Fusion methods, as reported in quarry.Explanation.Method.
const (
	MethodWeighted = "weighted" // min-max normalised score fusion
	MethodRRF      = "rrf"      // reciprocal rank fusion
)

// Leg names, as reported in quarry.LegScore.Leg.
const (
	LegKeyword = "keyword"
	LegVector  = "vector"
)

// DefaultRRFK is the rank constant of reciprocal rank fusion, from
// Cormack, Clarke and Büttcher (2009): a passage at rank r contributes
// weight/(k+r).
const DefaultRRFK = 60

// Leg is one retrieval leg's ranked result list, the input of fusion.
type Leg struct {
	Name   string      // LegKeyword or LegVector; used in explanations
	Weight float64     // the leg's weight in the fused score
	Hits   []index.Hit // best first; a repeated chunk ID is ignored after its first (best) hit
	// idsOnly marks hits that carry their chunk IDs only (the retriever
	// reads the chunks it returns): fusion then notes a whole copy of
	// each chunk from a later leg, if one has it.
	idsOnly bool
}

// FuseWeighted fuses legs by normalised score: each leg's raw scores are
// min-max normalised to [0, 1] over the hits that leg returned (when they
// are all equal, including a single hit, each normalises to 1), and a
// chunk's fused score is Σ weight·normalised over the legs, a leg that did
// not return the chunk contributing 0. The result holds every chunk
// returned by any leg, best first, ties broken by chunk ID; every passage
// carries its Explanation, whose contributions sum to Passage.Score.
func FuseWeighted(legs ...Leg) []quarry.Passage {
	return explainAll(MethodWeighted, 0, fuse(legs, weightedTerms))
}

// FuseRRF fuses legs by reciprocal rank: a chunk at 1-based rank r in a
// leg gets weight/(k+r) from it, 0 from a leg that did not return it.
// k <= 0 means DefaultRRFK. Ordering and explanations are as in
// FuseWeighted.
func FuseRRF(k float64, legs ...Leg) []quarry.Passage {
	if k <= 0 {
		k = DefaultRRFK
	}
	return explainAll(MethodRRF, k, fuse(legs, rrfTerms(k)))
}

// fused is a chunk with its fused score and one LegScore per input leg
// (in input order), before any explanation text is built. chunk points
// into the legs' hits, which fusion never modifies.
type fused struct {
	chunk    *quarry.Chunk
	leg, hit int           // where chunk points: legs[leg].Hits[hit]
	whole    *quarry.Chunk // when legs[leg] is idsOnly: the chunk from a later leg that has it whole, or nil
	score    float64
	legs     []quarry.LegScore
}

// termFunc computes the normalised term of every hit of one leg: raw
// holds the leg's scores in its order with duplicates removed, ranks[i]
// is hit i's
// 1-based rank among the leg's distinct chunks, and out[i] receives its
// term.
type termFunc func(raw []float64, ranks []int, out []float64)

// fuse merges the legs into one list sorted best first. It is the shared
// core of both methods; explanations are built separately so that the
// retriever only formats the passages it returns.
func fuse(legs []Leg, norm termFunc) []fused {
	total := 0
	for _, l := range legs {
		total += len(l.Hits)
	}
	// Unique chunks in first-seen order: legs in order, hits in rank order.
	pos := make(map[string]int, total)
	out := make([]fused, 0, total)
	for j, l := range legs {
		for i := range l.Hits {
			c := &l.Hits[i].Chunk
			p, ok := pos[c.ID]
			switch {
			case !ok:
				pos[c.ID] = len(out)
				out = append(out, fused{chunk: c, leg: j, hit: i})
			case legs[out[p].leg].idsOnly && !l.idsOnly && out[p].whole == nil:
				out[p].whole = c
			}
		}
	}
	n, nl := len(out), len(legs)
	// One backing array for every passage's leg scores.
	scores := make([]quarry.LegScore, n*nl)
	for i := range out {
		out[i].legs = scores[i*nl : (i+1)*nl : (i+1)*nl]
		for j, l := range legs {
			out[i].legs[j] = quarry.LegScore{Leg: l.Name, Weight: l.Weight}
		}
	}

	raw := make([]float64, 0, total)
	var at, ranks []int
	var norms []float64
	seen := make([]bool, n)
	for j, l := range legs {
		raw, at, ranks = raw[:0], at[:0], ranks[:0]
		clear(seen)
		for _, h := range l.Hits {
			p := pos[h.Chunk.ID]
			if seen[p] {
				continue
			}
			seen[p] = true
			raw = append(raw, h.Score)
			at = append(at, p)
			ranks = append(ranks, len(raw))
		}
		norms = slices.Grow(norms[:0], len(raw))[:len(raw)]
		norm(raw, ranks, norms)
		for i, score := range raw {
			ls := &out[at[i]].legs[j]
			ls.Rank = ranks[i]
			ls.Score = score
			ls.Normalized = norms[i]
			ls.Contribution = l.Weight * norms[i]
		}
	}
	for i := range out {
		// Summed in leg order, exactly as the explanation lists them.
		var s float64
		for _, ls := range out[i].legs {
			s += ls.Contribution
		}
		out[i].score = s
	}
	slices.SortFunc(out, func(a, b fused) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.chunk.ID, b.chunk.ID)
	})
	return out
}

// weightedTerms min-max normalises raw scores. Non-finite scores are
// treated as the worst (NaN, -Inf) or best (+Inf) of the leg rather than
// poisoning the sum.
func weightedTerms(raw []float64, _ []int, out []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range raw {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			continue
		}
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range raw {
		switch {
		case math.IsNaN(s) || math.IsInf(s, -1):
			out[i] = 0
		case math.IsInf(s, 1):
			out[i] = 1
		case hi == lo:
			out[i] = 1
		default:
			out[i] = (s - lo) / (hi - lo)
		}
	}
}

func rrfTerms(k float64) termFunc {
	return func(_ []float64, ranks []int, out []float64) {
		for i := range ranks {
			out[i] = 1 / (k + float64(ranks[i]))
		}
	}
}

func explainAll(method string, k float64, fs []fused) []quarry.Passage {
	ps := make([]quarry.Passage, len(fs))
	for i := range fs {
		ps[i] = quarry.Passage{Chunk: *fs[i].chunk, Score: fs[i].score, Explain: explain(method, k, fs[i])}
	}
	return ps
}

// explain builds the Explanation of one fused passage, with a summary
// such as
//
//	0.6×1.000 (keyword #1, bm25 12.31) + 0.4×0.412 (vector #7, 0.218) = 0.765
func explain(method string, k float64, f fused) *quarry.Explanation {
	var b strings.Builder
	for i, ls := range f.legs {
		if i > 0 {
			b.WriteString(" + ")
		}
		fmt.Fprintf(&b, "%s×", fmtNum(ls.Weight))
		if ls.Rank == 0 {
			fmt.Fprintf(&b, "0 (%s: not returned)", ls.Leg)
			continue
		}
		switch method {
		case MethodRRF:
			fmt.Fprintf(&b, "1/(%s+%d) (%s #%d, %s)", fmtNum(k), ls.Rank, ls.Leg, ls.Rank, rawScore(ls))
		default:
			fmt.Fprintf(&b, "%.3f (%s #%d, %s)", ls.Normalized, ls.Leg, ls.Rank, rawScore(ls))
		}
	}
	if method == MethodRRF {
		fmt.Fprintf(&b, " = %.5f", f.score)
	} else {
		fmt.Fprintf(&b, " = %.3f", f.score)
	}
	legs := make([]quarry.LegScore, len(f.legs))
	copy(legs, f.legs)
	return &quarry.Explanation{Method: method, Legs: legs, Summary: b.String()}
}

func rawScore(ls quarry.LegScore) string {
	if ls.Leg == LegKeyword {
		return fmt.Sprintf("bm25 %.2f", ls.Score)
	}
	return fmt.Sprintf("%.3f", ls.Score)
}

// fmtNum prints a weight or constant without trailing zeros: 0.6, 1, 60.
func fmtNum(x float64) string {
	return fmt.Sprintf("%g", x)
}
