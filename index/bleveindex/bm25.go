package bleveindex

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	bindex "github.com/blevesearch/bleve_index_api"
)

// Why Quarry scores outside bleve's scorers: bleve 2.6's "bm25" scoring
// model departs from Lucene's BM25 in ways that change rankings:
//   - a disjunction multiplies the summed score by coord (matched/total
//     clauses) and every term score by a query weight boost·idf·queryNorm,
//     so idf counts twice;
//   - term frequency enters as sqrt(freq) instead of freq;
//   - the "average document length" is the number of distinct terms in
//     the field divided by the number of documents, not the average
//     length.
// bm25Query below scores every query term with Lucene's formula and sums
// over terms, without coord or query norm. Over several fields it is
// BM25F as in Lucene's CombinedFieldQuery (Elasticsearch's
// combined_fields): per term, field frequencies and lengths are combined
// with the field weights before saturation:
//
//	tf~ = Σ_f w_f·tf_f        dl~ = Σ_f w_f·len_f       avgdl~ = Σ_f w_f·sumLen_f / N
//	N = max_f docs_f           df = max_f df_f           idf = ln(1 + (N − df + 0.5)/(df + 0.5))
//	score = Σ_t qtf_t · idf_t · tf~ / (tf~ + k1·(1 − b + b·dl~/avgdl~))
//
// With the text field alone (title and heading weights < 0) this is
// exactly Lucene's BM25Similarity (Lucene ≥ 8, without the constant
// (k1+1) factor); with all weights 1 it behaves like one field holding
// title, heading and text ("flat" in the BEIR baselines).

// statsKey is the internal key of the collection statistics. It is
// written in the same bleve batch as the documents it accounts for, so a
// reader's snapshot always sees matching postings and statistics.
var statsKey = []byte("quarry.bm25.stats")

// fieldStats are BM25 collection statistics of one field.
type fieldStats struct {
	Docs int64 `json:"docs"` // chunks with at least one term in the field
	Len  int64 `json:"len"`  // total analysed length (Lucene's sumTotalTermFreq)
}

// stats are the collection statistics, indexed like searchFields.
type stats struct {
	Fields [len(searchFields)]fieldStats `json:"fields"`
}

func (s *stats) add(l lengths, sign int64) {
	for i, n := range l {
		if n > 0 {
			s.Fields[i].Docs += sign
			s.Fields[i].Len += sign * int64(n)
		}
	}
}

func readStats(r interface {
	GetInternal([]byte) ([]byte, error)
}) (stats, error) {
	var s stats
	b, err := r.GetInternal(statsKey)
	if err != nil || len(b) == 0 {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("bleveindex: corrupt statistics: %w", err)
	}
	return s, nil
}

// lengths are a chunk's analysed field lengths, indexed like searchFields.
type lengths [len(searchFields)]int

func (l lengths) encode() string {
	return strconv.Itoa(l[0]) + " " + strconv.Itoa(l[1]) + " " + strconv.Itoa(l[2])
}

// decodeLengths parses lengths.encode's output without allocating.
func decodeLengths(b []byte) (lengths, bool) {
	var l lengths
	i := 0
	seen := false
	for _, c := range b {
		switch {
		case c == ' ':
			if !seen || i == len(l)-1 {
				return l, false
			}
			i++
			seen = false
		case c >= '0' && c <= '9':
			l[i] = l[i]*10 + int(c-'0')
			if l[i] > math.MaxInt32 {
				return l, false
			}
			seen = true
		default:
			return l, false
		}
	}
	return l, seen && i == len(l)-1
}

// Scoring holds the query-time ranking parameters. They are not stored
// in the index: any value can be used with any index, and changing them
// needs no rebuild. Zero values mean the defaults.
//
// The defaults were chosen on SciFact's train split (809 queries, one
// chunk per abstract; see TestSciFactTune): k1 1.2, b 0.75, title ×2
// reach nDCG@10 0.702 there, against 0.697 for Lucene's "flat" baseline
// (k1 0.9, b 0.4, title+text as one field) and 0.683 for the text field
// alone. The surface is flat around them (k1 1.2–1.5, b 0.6–0.75, title
// 1.5–3 all within 0.002). HeadingBoost has no benchmark behind it: 1.5
// says a heading names what its section is about, a little less surely
// than the title names the document.
type Scoring struct {
	// K1 is BM25's term-frequency saturation. Default 1.2.
	K1 float64
	// B is BM25's length normalisation, in [0, 1]. Default 0.75. As 0
	// means the default, ask for no length normalisation with a negative
	// value.
	B float64
	// TitleBoost and HeadingBoost weigh the title and heading fields
	// against the chunk text (weight 1) in BM25F. A negative value leaves
	// the field out of scoring. Defaults 2 and 1.5.
	TitleBoost   float64
	HeadingBoost float64
}

// Default scoring parameters.
const (
	DefaultK1           = 1.2
	DefaultB            = 0.75
	DefaultTitleBoost   = 2.0
	DefaultHeadingBoost = 1.5
)

func (s Scoring) withDefaults() Scoring {
	if s.K1 == 0 {
		s.K1 = DefaultK1
	}
	switch {
	case s.B == 0:
		s.B = DefaultB
	case s.B < 0:
		s.B = 0
	}
	if s.TitleBoost == 0 {
		s.TitleBoost = DefaultTitleBoost
	}
	if s.HeadingBoost == 0 {
		s.HeadingBoost = DefaultHeadingBoost
	}
	return s
}

func (s Scoring) validate() error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"K1", s.K1}, {"B", s.B}, {"TitleBoost", s.TitleBoost}, {"HeadingBoost", s.HeadingBoost}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%s is %v", v.name, v.v)
		}
	}
	if s.K1 < 0 {
		return fmt.Errorf("K1 is %v, want ≥ 0", s.K1)
	}
	if s.B > 1 {
		return fmt.Errorf("B is %v, want ≤ 1", s.B)
	}
	return nil
}

// weights returns the BM25F field weights, indexed like searchFields; 0
// leaves a field out.
func (s Scoring) weights() [len(searchFields)]float64 {
	w := [len(searchFields)]float64{1, s.TitleBoost, s.HeadingBoost}
	for i := range w {
		if w[i] < 0 {
			w[i] = 0
		}
	}
	return w
}

// queryTerm is an analysed query term and how often the query holds it.
type queryTerm struct {
	term string
	qtf  int
}

// bm25Query is a bleve query.Query that scores chunks with BM25F over the
// analysed fields (see the comment at the top of this file).
type bm25Query struct {
	terms   []queryTerm
	scoring Scoring    // with defaults applied
	lens    *lensCache // nil: read lengths from doc values
}

// Searcher implements query.Query.
func (q *bm25Query) Searcher(ctx context.Context, r bindex.IndexReader, _ mapping.IndexMapping,
	opts search.SearcherOptions) (search.Searcher, error) {
	st, err := readStats(r)
	if err != nil {
		return nil, err
	}
	s := &bm25Searcher{
		k1:      q.scoring.K1,
		b:       q.scoring.B,
		weights: q.scoring.weights(),
	}
	var n, sumLen float64
	for i, w := range s.weights {
		if w == 0 {
			continue
		}
		n = math.Max(n, float64(st.Fields[i].Docs))
		sumLen += w * float64(st.Fields[i].Len)
	}
	if n == 0 || sumLen == 0 {
		return s, nil // an empty index (or only empty fields): nothing matches
	}
	s.avgdl = sumLen / n

	for _, qt := range q.terms {
		var df uint64
		first := len(s.cursors)
		for f, w := range s.weights {
			if w == 0 {
				continue
			}
			tfr, err := r.TermFieldReader(ctx, []byte(qt.term), searchFields[f], true, false, false)
			if err != nil {
				_ = s.Close()
				return nil, err
			}
			c := tfr.Count()
			if c == 0 {
				_ = tfr.Close()
				continue
			}
			df = max(df, c)
			s.cursors = append(s.cursors, &cursor{reader: tfr, term: len(s.terms), field: f})
		}
		if len(s.cursors) == first {
			continue // the term occurs nowhere
		}
		// Statistics and postings are written in one batch, so df ≤ N;
		// the guard keeps idf positive should that ever not hold.
		fdf := math.Min(float64(df), n)
		idf := math.Log(1 + (n-fdf+0.5)/(fdf+0.5))
		s.terms = append(s.terms, termWeight{term: qt.term, weight: idf * float64(qt.qtf)})
	}
	if len(s.cursors) == 0 {
		return s, nil
	}
	s.freq = make([]uint64, len(s.terms)*len(searchFields))
	s.touched = make([]int, 0, len(s.terms))
	if snap, ok := r.(*scorch.IndexSnapshot); ok && q.lens != nil {
		if s.cached, err = q.lens.forSnapshot(snap); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	s.dv, err = r.DocValueReader([]string{fieldLens})
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.explain = opts.Explain
	s.ctx = ctx
	return s, nil
}

type termWeight struct {
	term   string
	weight float64 // qtf · idf
}

// cursor walks the postings of one term in one field.
type cursor struct {
	reader bindex.TermFieldReader
	doc    *bindex.TermFieldDoc // current posting
	term   int                  // index into bm25Searcher.terms
	field  int                  // index into searchFields
}

// bm25Searcher is a document-at-a-time disjunction over the cursors of
// all (term, field) pairs, scoring each matching chunk with BM25F. It
// implements bleve's search.Searcher, so bleve's collector, context
// checks and stored-field loading work as for its own searchers.
type bm25Searcher struct {
	k1, b   float64
	avgdl   float64
	weights [len(searchFields)]float64
	terms   []termWeight
	cursors []*cursor
	heap    cursorHeap
	dv      bindex.DocValueReader
	cached  *snapLens // lengths in memory, when the reader is a scorch snapshot
	taat    *taat     // term-at-a-time state, when cached and not explaining
	ctx     context.Context
	explain bool

	started bool
	freq    []uint64 // per term and field, frequency in the current chunk
	touched []int    // terms found in the current chunk, in term order
	lens    lengths  // set by the doc values visitor
	lensOK  bool
}

func (s *bm25Searcher) start() error {
	s.started = true
	for _, c := range s.cursors {
		d, err := c.reader.Next(nil)
		if err != nil {
			return err
		}
		if d != nil {
			c.doc = d
			s.heap = append(s.heap, c)
		}
	}
	heap.Init(&s.heap)
	return nil
}

// Next implements search.Searcher.
func (s *bm25Searcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	if !s.started && s.cached != nil && !s.explain {
		s.started = true
		if err := s.accumulate(s.ctx); err != nil {
			return nil, err
		}
	}
	if s.taat != nil {
		return s.nextTAAT(ctx), nil
	}
	if !s.started {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	if len(s.heap) == 0 {
		return nil, nil
	}
	rv := ctx.DocumentMatchPool.Get()
	rv.IndexInternalID = append(rv.IndexInternalID[:0], s.heap[0].doc.ID...)

	// Gather the frequencies of every cursor on this chunk and move those
	// cursors on.
	for len(s.heap) > 0 && s.heap[0].doc.ID.Equals(rv.IndexInternalID) {
		c := s.heap[0]
		if s.termFreqs(c.term) == [len(searchFields)]uint64{} {
			s.touch(c.term)
		}
		s.freq[c.term*len(searchFields)+c.field] = c.doc.Freq
		d, err := c.reader.Next(c.doc)
		if err != nil {
			return nil, err
		}
		if d == nil {
			heap.Pop(&s.heap)
		} else {
			c.doc = d
			heap.Fix(&s.heap, 0)
		}
	}

	score, expl, err := s.score(rv.IndexInternalID)
	if err != nil {
		return nil, err
	}
	rv.Score = score
	rv.Expl = expl
	return rv, nil
}

func (s *bm25Searcher) visitLens(field string, term []byte) {
	if field == fieldLens {
		s.lens, s.lensOK = decodeLengths(term)
	}
}

func (s *bm25Searcher) termFreqs(t int) [len(searchFields)]uint64 {
	return [len(searchFields)]uint64(s.freq[t*len(searchFields):])
}

// touch inserts t into s.touched, keeping it sorted: summing in a fixed
// order makes equal chunks score exactly alike, whatever order their
// postings were met in.
func (s *bm25Searcher) touch(t int) {
	i := len(s.touched)
	s.touched = append(s.touched, t)
	for ; i > 0 && s.touched[i-1] > t; i-- {
		s.touched[i] = s.touched[i-1]
	}
	s.touched[i] = t
}

// score computes the BM25F score of the chunk whose frequencies are in
// s.freq, and resets s.freq.
func (s *bm25Searcher) score(id bindex.IndexInternalID) (float64, *search.Explanation, error) {
	s.lensOK = false
	if s.cached != nil {
		s.lens, s.lensOK = s.cached.get(id)
	} else if err := s.dv.VisitDocValues(id, s.visitLens); err != nil {
		return 0, nil, err
	}
	if !s.lensOK {
		return 0, nil, fmt.Errorf("bleveindex: chunk without field lengths (index written by another program?)")
	}
	var dl float64
	for i, w := range s.weights {
		dl += w * float64(s.lens[i])
	}
	norm := s.k1 * (1 - s.b + s.b*dl/s.avgdl)
	var sum float64
	var expl *search.Explanation
	if s.explain {
		expl = &search.Explanation{Message: fmt.Sprintf("BM25F sum of (k1=%g, b=%g, dl=%g, avgdl=%g):",
			s.k1, s.b, dl, s.avgdl)}
	}
	for _, t := range s.touched {
		var tf float64
		for f, n := range s.termFreqs(t) {
			tf += s.weights[f] * float64(n)
		}
		clear(s.freq[t*len(searchFields) : (t+1)*len(searchFields)])
		v := s.terms[t].weight * tf / (tf + norm)
		sum += v
		if s.explain {
			expl.Children = append(expl.Children, &search.Explanation{
				Value:   v,
				Message: fmt.Sprintf("term %q: qtf·idf=%g, tf=%g", s.terms[t].term, s.terms[t].weight, tf),
			})
		}
	}
	s.touched = s.touched[:0]
	if expl != nil {
		expl.Value = sum
	}
	return sum, expl, nil
}

// Advance implements search.Searcher.
func (s *bm25Searcher) Advance(ctx *search.SearchContext, id bindex.IndexInternalID) (*search.DocumentMatch, error) {
	if !s.started && s.cached != nil && !s.explain {
		if _, err := s.Next(ctx); err != nil { // accumulates
			return nil, err
		}
		s.taat.next = 0
	}
	if s.taat != nil {
		return s.advanceTAAT(ctx, id), nil
	}
	if !s.started {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	kept := s.heap[:0]
	for _, c := range s.heap {
		if c.doc.ID.Compare(id) < 0 {
			d, err := c.reader.Advance(id, c.doc)
			if err != nil {
				return nil, err
			}
			if d == nil {
				continue
			}
			c.doc = d
		}
		kept = append(kept, c)
	}
	s.heap = kept
	heap.Init(&s.heap)
	return s.Next(ctx)
}

// Close implements search.Searcher.
func (s *bm25Searcher) Close() error {
	if s.taat != nil {
		s.taat.release()
		s.taat = nil
	}
	var first error
	for _, c := range s.cursors {
		if err := c.reader.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.cursors, s.heap = nil, nil
	return first
}

// Weight, SetQueryNorm: query normalisation is a TF-IDF notion that
// BM25 does not use.
func (s *bm25Searcher) Weight() float64        { return 1 }
func (s *bm25Searcher) SetQueryNorm(_ float64) {}

// Count implements search.Searcher: an upper bound of the matches.
func (s *bm25Searcher) Count() uint64 {
	var n uint64
	for _, c := range s.cursors {
		n += c.reader.Count()
	}
	return n
}

func (s *bm25Searcher) Min() int                   { return 0 }
func (s *bm25Searcher) DocumentMatchPoolSize() int { return 1 }

// Size implements search.Searcher (an estimate, for bleve's memory
// accounting).
func (s *bm25Searcher) Size() int {
	n := 128 + 8*len(s.freq) + 8*len(s.touched)
	for _, c := range s.cursors {
		n += 48 + c.reader.Size()
	}
	for _, t := range s.terms {
		n += 24 + len(t.term)
	}
	return n
}

// cursorHeap orders cursors by the internal id of their current posting.
type cursorHeap []*cursor

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return h[i].doc.ID.Compare(h[j].doc.ID) < 0 }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
