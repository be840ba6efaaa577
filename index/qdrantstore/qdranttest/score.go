package qdranttest

import (
	"cmp"
	"math"
	"slices"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// query is a nearest-neighbour request, from the Query or the Search API.
// With neither dense nor sparse set it lists points in id order.
type query struct {
	using       string
	dense       []float32
	sparse      *qdrant.SparseVector
	filter      *qdrant.Filter
	limit       uint64
	offset      uint64
	threshold   *float32
	withPayload *qdrant.WithPayloadSelector
	withVectors *qdrant.WithVectorsSelector
}

type scored struct {
	p     *point
	score float32
}

// query runs q. The caller holds the server lock.
func (col *collection) query(q query) ([]*qdrant.ScoredPoint, error) {
	if q.limit == 0 {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [limit: value 0 invalid, must be 1 or larger]")
	}
	var (
		score    func(*point) (float32, bool)
		lowerWin bool // distances: smaller is better
	)
	switch {
	case q.dense != nil:
		v, err := col.checkDense(q.using, q.dense)
		if err != nil {
			return nil, err
		}
		dist := col.dense[q.using].GetDistance()
		lowerWin = dist == qdrant.Distance_Euclid || dist == qdrant.Distance_Manhattan
		score = func(p *point) (float32, bool) {
			d, ok := p.dense[q.using]
			if !ok {
				return 0, false
			}
			return denseScore(dist, v, d), true
		}
	case q.sparse != nil:
		v, err := col.checkSparse(q.using, q.sparse)
		if err != nil {
			return nil, err
		}
		weights := slices.Clone(v.values)
		if col.sparse[q.using] == qdrant.Modifier_Idf {
			for i, idx := range v.indices {
				weights[i] *= float32(col.idf(q.using, idx))
			}
		}
		score = func(p *point) (float32, bool) {
			d, ok := p.sparse[q.using]
			if !ok {
				return 0, false
			}
			return sparseScore(v.indices, weights, d)
		}
	default:
		score = func(*point) (float32, bool) { return 0, true }
	}

	var hits []scored
	for _, p := range col.points {
		s, ok := score(p)
		if !ok {
			continue
		}
		if t := q.threshold; t != nil && (lowerWin && s > *t || !lowerWin && s < *t) {
			continue
		}
		ok, err := matchFilter(q.filter, p)
		if err != nil {
			return nil, err
		}
		if ok {
			hits = append(hits, scored{p, s})
		}
	}
	slices.SortFunc(hits, func(a, b scored) int {
		if a.score != b.score {
			if lowerWin {
				return cmp.Compare(a.score, b.score)
			}
			return cmp.Compare(b.score, a.score)
		}
		return cmp.Compare(a.p.key, b.p.key)
	})
	if q.offset >= uint64(len(hits)) {
		return []*qdrant.ScoredPoint{}, nil
	}
	hits = hits[q.offset:]
	if uint64(len(hits)) > q.limit {
		hits = hits[:q.limit]
	}
	out := make([]*qdrant.ScoredPoint, len(hits))
	for i, h := range hits {
		out[i] = &qdrant.ScoredPoint{
			Id:      h.p.id,
			Score:   h.score,
			Version: 1,
			Payload: selectPayload(h.p.payload, q.withPayload, false),
			Vectors: col.selectVectors(h.p, q.withVectors),
		}
	}
	return out, nil
}

// idf is Qdrant's inverse document frequency of a sparse index:
// ln(1 + (N - n + 0.5) / (n + 0.5)), N the points in the collection and
// n those whose vector holds the index.
func (col *collection) idf(name string, idx uint32) float64 {
	n := 0
	for _, p := range col.points {
		if v, ok := p.sparse[name]; ok && v.has(idx) {
			n++
		}
	}
	total := float64(len(col.points))
	return math.Log(1 + (total-float64(n)+0.5)/(float64(n)+0.5))
}

func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	out := slices.Clone(v)
	if sum == 0 {
		return out // Qdrant leaves a zero vector as it is
	}
	norm := math.Sqrt(sum)
	for i, x := range out {
		out[i] = float32(float64(x) / norm)
	}
	return out
}

func denseScore(dist qdrant.Distance, q, d []float32) float32 {
	var s float64
	switch dist {
	case qdrant.Distance_Euclid:
		for i := range q {
			diff := float64(q[i]) - float64(d[i])
			s += diff * diff
		}
		return float32(math.Sqrt(s))
	case qdrant.Distance_Manhattan:
		for i := range q {
			s += math.Abs(float64(q[i]) - float64(d[i]))
		}
		return float32(s)
	}
	for i := range q {
		s += float64(q[i]) * float64(d[i])
	}
	return float32(s)
}

// sparseScore is the dot product of the query (sorted indices, weights)
// and d over shared indices; ok is false when they share none, since
// Qdrant's sparse index only finds points through a shared index.
func sparseScore(indices []uint32, weights []float32, d sparseVec) (float32, bool) {
	var s float64
	shared := false
	i, j := 0, 0
	for i < len(indices) && j < len(d.indices) {
		switch {
		case indices[i] < d.indices[j]:
			i++
		case indices[i] > d.indices[j]:
			j++
		default:
			s += float64(weights[i]) * float64(d.values[j])
			shared = true
			i++
			j++
		}
	}
	return float32(s), shared
}

// selectPayload applies a with_payload selector; a nil selector means def.
func selectPayload(p map[string]*qdrant.Value, sel *qdrant.WithPayloadSelector, def bool) map[string]*qdrant.Value {
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithPayloadSelector_Enable:
		def = s.Enable
	case *qdrant.WithPayloadSelector_Include:
		out := make(map[string]*qdrant.Value)
		for _, f := range s.Include.GetFields() {
			if v, ok := p[f]; ok {
				out[f] = v
			}
		}
		return out
	case *qdrant.WithPayloadSelector_Exclude:
		out := make(map[string]*qdrant.Value, len(p))
		for k, v := range p {
			if !slices.Contains(s.Exclude.GetFields(), k) {
				out[k] = v
			}
		}
		return out
	}
	if def {
		return p
	}
	return nil
}

// selectVectors applies a with_vectors selector; nil means none.
func (col *collection) selectVectors(p *point, sel *qdrant.WithVectorsSelector) *qdrant.VectorsOutput {
	want := func(string) bool { return false }
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		want = func(string) bool { return s.Enable }
	case *qdrant.WithVectorsSelector_Include:
		want = func(name string) bool { return slices.Contains(s.Include.GetNames(), name) }
	}
	named := make(map[string]*qdrant.VectorOutput)
	for name, d := range p.dense {
		if want(name) {
			named[name] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: d}}}
		}
	}
	for name, sp := range p.sparse {
		if want(name) {
			named[name] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{Sparse: &qdrant.SparseVector{Indices: sp.indices, Values: sp.values}}}
		}
	}
	if len(named) == 0 {
		return nil
	}
	if v, ok := named[""]; ok && len(named) == 1 {
		return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{Vector: v}}
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: named}}}
}
