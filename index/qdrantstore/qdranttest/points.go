package qdranttest

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// point is one stored point. Cosine vectors are stored normalised, as
// Qdrant stores them; sparse vectors are stored sorted by index.
type point struct {
	id      *qdrant.PointId
	key     string // idKey(id): orders numeric ids before UUIDs, like Qdrant
	payload map[string]*qdrant.Value
	dense   map[string][]float32
	sparse  map[string]sparseVec
}

type sparseVec struct {
	indices []uint32
	values  []float32
}

// has reports whether v holds index i.
func (v sparseVec) has(i uint32) bool {
	_, ok := slices.BinarySearch(v.indices, i)
	return ok
}

// idKey returns a canonical, sortable key for id and the canonical id.
func idKey(id *qdrant.PointId) (string, *qdrant.PointId, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return fmt.Sprintf("n:%020d", v.Num), id, nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return "", nil, status.Errorf(codes.InvalidArgument, "Unable to parse UUID: %s", v.Uuid)
		}
		return "u:" + u.String(), qdrant.NewIDUUID(u.String()), nil
	}
	return "", nil, status.Error(codes.InvalidArgument, "Validation error in body: point id is empty")
}

// pointsService implements the Points service; methods outside the
// fake's subset fall through to the embedded Unimplemented server.
type pointsService struct {
	qdrant.UnimplementedPointsServer
	s *Server
}

func (ps pointsService) Upsert(_ context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	if req.UpdateFilter != nil || (req.UpdateMode != nil && *req.UpdateMode != qdrant.UpdateMode_Upsert) {
		return nil, unimplemented("conditional upsert")
	}
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	// Validate every point before storing any: a bad batch changes nothing.
	pts := make([]*point, 0, len(req.GetPoints()))
	for i, in := range req.GetPoints() {
		p, err := col.newPoint(in)
		if err != nil {
			st, _ := status.FromError(err)
			return nil, status.Errorf(st.Code(), "point %d: %s", i, st.Message())
		}
		pts = append(pts, p)
	}
	for _, p := range pts {
		col.points[p.key] = p
	}
	return &qdrant.PointsOperationResponse{Result: s.nextOp()}, nil
}

func (col *collection) newPoint(ps *qdrant.PointStruct) (*point, error) {
	key, id, err := idKey(ps.GetId())
	if err != nil {
		return nil, err
	}
	p := &point{
		id:      id,
		key:     key,
		payload: ps.GetPayload(),
		dense:   make(map[string][]float32),
		sparse:  make(map[string]sparseVec),
	}
	named := map[string]*qdrant.Vector{}
	switch v := ps.GetVectors().GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		named[""] = v.Vector
	case *qdrant.Vectors_Vectors:
		named = v.Vectors.GetVectors()
	}
	if _, ok := col.dense[""]; ok && named[""] == nil {
		return nil, status.Error(codes.InvalidArgument, "Wrong input: the collection's default vector is missing")
	}
	for name, v := range named {
		dense, sparse, err := vectorOf(v)
		if err != nil {
			return nil, err
		}
		if dense != nil {
			if p.dense[name], err = col.checkDense(name, dense); err != nil {
				return nil, err
			}
		} else {
			if p.sparse[name], err = col.checkSparse(name, sparse); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// vectorOf unpacks v into a dense or a sparse vector, reading the
// deprecated flat fields too.
func vectorOf(v *qdrant.Vector) ([]float32, *qdrant.SparseVector, error) {
	if d := v.GetDense(); d != nil {
		return nonNil(d.GetData()), nil, nil
	}
	if sp := v.GetSparse(); sp != nil {
		return nil, sp, nil
	}
	switch {
	case v.GetMultiDense() != nil:
		return nil, nil, unimplemented("multi-dense vectors")
	case v.GetDocument() != nil, v.GetImage() != nil, v.GetObject() != nil:
		return nil, nil, unimplemented("server-side inference")
	case v.GetIndices() != nil:
		return nil, &qdrant.SparseVector{Indices: v.GetIndices().GetData(), Values: v.GetData()}, nil
	}
	return nonNil(v.GetData()), nil, nil
}

func nonNil(v []float32) []float32 {
	if v == nil {
		return []float32{}
	}
	return v
}

// checkDense validates a dense vector for the named vector and returns
// the form it is stored and scored in.
func (col *collection) checkDense(name string, v []float32) ([]float32, error) {
	params, ok := col.dense[name]
	if !ok {
		if _, sparse := col.sparse[name]; sparse {
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Conversion between sparse and regular vectors failed for vector %q", name)
		}
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Not existing vector name error: %s", name)
	}
	if uint64(len(v)) != params.GetSize() {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", params.GetSize(), len(v))
	}
	if params.GetDistance() == qdrant.Distance_Cosine {
		return normalize(v), nil
	}
	return slices.Clone(v), nil
}

// checkSparse validates a sparse vector for the named vector and returns
// it sorted by index.
func (col *collection) checkSparse(name string, v *qdrant.SparseVector) (sparseVec, error) {
	if _, ok := col.sparse[name]; !ok {
		if _, dense := col.dense[name]; dense {
			return sparseVec{}, status.Errorf(codes.InvalidArgument, "Wrong input: Conversion between sparse and regular vectors failed for vector %q", name)
		}
		return sparseVec{}, status.Errorf(codes.InvalidArgument, "Wrong input: Not existing vector name error: %s", name)
	}
	idx, val := v.GetIndices(), v.GetValues()
	if len(idx) != len(val) {
		return sparseVec{}, status.Errorf(codes.InvalidArgument, "Validation error in body: [%s: indices (%d) and values (%d) must be the same length]", name, len(idx), len(val))
	}
	order := make([]int, len(idx))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmpUint32(idx[a], idx[b]) })
	out := sparseVec{indices: make([]uint32, len(idx)), values: make([]float32, len(idx))}
	for i, j := range order {
		if i > 0 && idx[j] == out.indices[i-1] {
			return sparseVec{}, status.Errorf(codes.InvalidArgument, "Validation error in body: [%s: indices must be unique, %d is repeated]", name, idx[j])
		}
		out.indices[i], out.values[i] = idx[j], val[j]
	}
	return out, nil
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (ps pointsService) Delete(_ context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	switch sel := req.GetPoints().GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		for _, id := range sel.Points.GetIds() {
			key, _, err := idKey(id)
			if err != nil {
				return nil, err
			}
			delete(col.points, key)
		}
	case *qdrant.PointsSelector_Filter:
		var doomed []string
		for key, p := range col.points {
			ok, err := matchFilter(sel.Filter, p)
			if err != nil {
				return nil, err
			}
			if ok {
				doomed = append(doomed, key)
			}
		}
		for _, key := range doomed {
			delete(col.points, key)
		}
	default:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: points selector is empty")
	}
	return &qdrant.PointsOperationResponse{Result: s.nextOp()}, nil
}

func (ps pointsService) Count(_ context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, p := range col.points {
		ok, err := matchFilter(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}}, nil
}

func (ps pointsService) Get(_ context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	resp := &qdrant.GetResponse{}
	for _, id := range req.GetIds() {
		key, _, err := idKey(id)
		if err != nil {
			return nil, err
		}
		if p, ok := col.points[key]; ok {
			resp.Result = append(resp.Result, col.retrieved(p, req.GetWithPayload(), req.GetWithVectors()))
		}
	}
	return resp, nil
}

// Scroll pages through points in id order. Offset is the first id of the
// page; NextPageOffset the first id of the next one.
func (ps pointsService) Scroll(_ context.Context, req *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
	if req.OrderBy != nil {
		return nil, unimplemented("scroll order_by")
	}
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	start := ""
	if req.Offset != nil {
		if start, _, err = idKey(req.Offset); err != nil {
			return nil, err
		}
	}
	limit := 10
	if req.Limit != nil {
		limit = int(*req.Limit)
	}
	resp := &qdrant.ScrollResponse{}
	for _, key := range slices.Sorted(maps.Keys(col.points)) {
		if key < start {
			continue
		}
		p := col.points[key]
		ok, err := matchFilter(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if len(resp.Result) == limit {
			resp.NextPageOffset = p.id
			break
		}
		resp.Result = append(resp.Result, col.retrieved(p, req.GetWithPayload(), req.GetWithVectors()))
	}
	return resp, nil
}

func (col *collection) retrieved(p *point, wp *qdrant.WithPayloadSelector, wv *qdrant.WithVectorsSelector) *qdrant.RetrievedPoint {
	return &qdrant.RetrievedPoint{
		Id:      p.id,
		Payload: selectPayload(p.payload, wp, true),
		Vectors: col.selectVectors(p, wv),
	}
}

func (ps pointsService) CreateFieldIndex(_ context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	if req.GetFieldName() == "" {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [field_name: length is 0]")
	}
	typ := qdrant.FieldType_FieldTypeKeyword
	if req.FieldType != nil {
		typ = *req.FieldType
	}
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	// FieldType and PayloadSchemaType list the same types; the schema
	// enum starts with an "unknown" entry.
	col.schema[req.GetFieldName()] = qdrant.PayloadSchemaType(typ + 1)
	return &qdrant.PointsOperationResponse{Result: s.nextOp()}, nil
}

func (ps pointsService) DeleteFieldIndex(_ context.Context, req *qdrant.DeleteFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	delete(col.schema, req.GetFieldName())
	return &qdrant.PointsOperationResponse{Result: s.nextOp()}, nil
}

func (ps pointsService) Query(_ context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	if len(req.GetPrefetch()) > 0 {
		return nil, unimplemented("prefetch")
	}
	if req.LookupFrom != nil {
		return nil, unimplemented("lookup_from")
	}
	q := query{
		using:       req.GetUsing(),
		filter:      req.GetFilter(),
		limit:       10,
		offset:      req.GetOffset(),
		threshold:   req.ScoreThreshold,
		withPayload: req.GetWithPayload(),
		withVectors: req.GetWithVectors(),
	}
	if req.Limit != nil {
		q.limit = *req.Limit
	}
	if req.Query != nil {
		nearest := req.GetQuery().GetNearest()
		if nearest == nil {
			return nil, unimplemented(fmt.Sprintf("query %T", req.GetQuery().GetVariant()))
		}
		switch {
		case nearest.GetDense() != nil:
			q.dense = nonNil(nearest.GetDense().GetData())
		case nearest.GetSparse() != nil:
			q.sparse = nearest.GetSparse()
		default:
			return nil, unimplemented(fmt.Sprintf("nearest %T", nearest.GetVariant()))
		}
	}
	res, err := ps.query(req.GetCollectionName(), q)
	if err != nil {
		return nil, err
	}
	return &qdrant.QueryResponse{Result: res}, nil
}

// Search is the pre-Query search API: a dense vector, or a sparse one
// when SparseIndices is set.
func (ps pointsService) Search(_ context.Context, req *qdrant.SearchPoints) (*qdrant.SearchResponse, error) {
	q := query{
		using:       req.GetVectorName(),
		filter:      req.GetFilter(),
		limit:       req.GetLimit(),
		offset:      req.GetOffset(),
		threshold:   req.ScoreThreshold,
		withPayload: req.GetWithPayload(),
		withVectors: req.GetWithVectors(),
	}
	if req.SparseIndices != nil {
		q.sparse = &qdrant.SparseVector{Indices: req.GetSparseIndices().GetData(), Values: req.GetVector()}
	} else {
		q.dense = nonNil(req.GetVector())
	}
	res, err := ps.query(req.GetCollectionName(), q)
	if err != nil {
		return nil, err
	}
	return &qdrant.SearchResponse{Result: res}, nil
}

// query runs q on a collection (or alias) under the server's lock.
func (ps pointsService) query(name string, q query) ([]*qdrant.ScoredPoint, error) {
	s := ps.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	return col.query(q)
}
