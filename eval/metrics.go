package eval

import (
	"math"
	"sort"
	"strings"
	"time"
)

// NDCG returns nDCG@k of a ranked list of document ids with binary
// relevance (the standard BEIR/trec_eval definition with log2 discounts).
func NDCG(ranked []string, relevant map[string]bool, k int) float64 {
	if len(relevant) == 0 {
		return 0
	}
	dcg := 0.0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if relevant[id] {
			dcg += 1 / math.Log2(float64(i+2))
		}
	}
	ideal := 0.0
	for i := 0; i < len(relevant) && i < k; i++ {
		ideal += 1 / math.Log2(float64(i+2))
	}
	return dcg / ideal
}

// Recall returns the share of relevant documents found in the top k.
func Recall(ranked []string, relevant map[string]bool, k int) float64 {
	if len(relevant) == 0 {
		return 0
	}
	found := 0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if relevant[id] {
			found++
		}
	}
	return float64(found) / float64(len(relevant))
}

// MRR returns the reciprocal rank of the first relevant document within
// the top k, or 0.
func MRR(ranked []string, relevant map[string]bool, k int) float64 {
	for i, id := range ranked {
		if i >= k {
			break
		}
		if relevant[id] {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// AnswerHit reports whether any of the first k passage texts contains
// one of the gold answers (after whitespace normalisation).
func AnswerHit(passages []string, answers []string, k int) bool {
	for i, p := range passages {
		if i >= k {
			break
		}
		np := normSpace(p)
		for _, a := range answers {
			if a = normSpace(a); a != "" && strings.Contains(np, a) {
				return true
			}
		}
	}
	return false
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// DedupeDocs turns a ranked list of chunk-level document ids into a
// document ranking: a document's rank is that of its best chunk.
func DedupeDocs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Latency summarises query latencies.
type Latency struct {
	MeanMS float64 `json:"mean_ms"`
	P95MS  float64 `json:"p95_ms"`
}

// Summarize returns the mean and the 95th percentile (nearest rank).
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	idx := int(math.Ceil(0.95*float64(len(s)))) - 1
	if idx < 0 {
		idx = 0
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{MeanMS: ms(sum) / float64(len(s)), P95MS: ms(s[idx])}
}
