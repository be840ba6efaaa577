package qdranttest

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// collection is one in-memory collection. Points are immutable once
// stored (an upsert replaces the whole point), so responses may share
// their payload maps.
type collection struct {
	name     string
	dense    map[string]*qdrant.VectorParams // "" is the unnamed default vector
	sparse   map[string]qdrant.Modifier
	metadata map[string]*qdrant.Value
	schema   map[string]qdrant.PayloadSchemaType
	points   map[string]*point // by idKey
}

// collectionsService implements the Collections service; methods outside
// the fake's subset fall through to the embedded Unimplemented server.
type collectionsService struct {
	qdrant.UnimplementedCollectionsServer
	s *Server
}

// validName applies Qdrant's rules for collection and alias names.
func validName(kind, name string) error {
	switch {
	case name == "":
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [%s_name: length is 0]", kind)
	case len(name) > 255:
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [%s_name: length is %d, max 255]", kind, len(name))
	case strings.ContainsAny(name, `<>:"/\|?*`+"\x00"):
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [%s_name: %q contains a forbidden character]", kind, name)
	}
	return nil
}

func (c collectionsService) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	name := req.GetCollectionName()
	if err := validName("collection", name); err != nil {
		return nil, err
	}
	col := &collection{
		name:     name,
		dense:    make(map[string]*qdrant.VectorParams),
		sparse:   make(map[string]qdrant.Modifier),
		metadata: maps.Clone(req.GetMetadata()),
		schema:   make(map[string]qdrant.PayloadSchemaType),
		points:   make(map[string]*point),
	}
	if vc := req.GetVectorsConfig(); vc != nil {
		if p := vc.GetParams(); p != nil {
			col.dense[""] = p
		} else if m := vc.GetParamsMap(); m != nil {
			maps.Copy(col.dense, m.GetMap())
		}
	}
	for name, p := range col.dense {
		if p.GetSize() == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "Validation error in body: [vectors_config.%s.size: value 0 invalid, must be from 1 to 65536]", name)
		}
		switch p.GetDistance() {
		case qdrant.Distance_Cosine, qdrant.Distance_Dot, qdrant.Distance_Euclid, qdrant.Distance_Manhattan:
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: unknown distance %v for vector %q", p.GetDistance(), name)
		}
		if p.MultivectorConfig != nil {
			return nil, unimplemented("multivector config")
		}
	}
	for name, p := range req.GetSparseVectorsConfig().GetMap() {
		if _, dup := col.dense[name]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: vector name %q is used by both a dense and a sparse vector", name)
		}
		col.sparse[name] = p.GetModifier()
	}

	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.collections[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", name)
	}
	if _, ok := s.aliases[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Alias with the same name `%s` already exists!", name)
	}
	s.collections[name] = col
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func (c collectionsService) Get(_ context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	return &qdrant.GetCollectionInfoResponse{Result: col.info()}, nil
}

func (col *collection) info() *qdrant.CollectionInfo {
	params := &qdrant.CollectionParams{ShardNumber: 1}
	if p, ok := col.dense[""]; ok && len(col.dense) == 1 {
		params.VectorsConfig = qdrant.NewVectorsConfig(p)
	} else if len(col.dense) > 0 {
		params.VectorsConfig = qdrant.NewVectorsConfigMap(maps.Clone(col.dense))
	}
	if len(col.sparse) > 0 {
		m := make(map[string]*qdrant.SparseVectorParams, len(col.sparse))
		for name, mod := range col.sparse {
			m[name] = &qdrant.SparseVectorParams{Modifier: qdrant.PtrOf(mod)}
		}
		params.SparseVectorsConfig = qdrant.NewSparseVectorsConfig(m)
	}
	schema := make(map[string]*qdrant.PayloadSchemaInfo, len(col.schema))
	for field, typ := range col.schema {
		n := uint64(0)
		for _, p := range col.points {
			if _, ok := p.payload[field]; ok {
				n++
			}
		}
		schema[field] = &qdrant.PayloadSchemaInfo{DataType: typ, Points: &n}
	}
	count := uint64(len(col.points))
	return &qdrant.CollectionInfo{
		Status:        qdrant.CollectionStatus_Green,
		SegmentsCount: 1,
		Config: &qdrant.CollectionConfig{
			Params:   params,
			Metadata: maps.Clone(col.metadata),
		},
		PayloadSchema:       schema,
		PointsCount:         &count,
		IndexedVectorsCount: &count,
	}
}

func (c collectionsService) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &qdrant.ListCollectionsResponse{}
	for _, name := range slices.Sorted(maps.Keys(s.collections)) {
		resp.Collections = append(resp.Collections, &qdrant.CollectionDescription{Name: name})
	}
	return resp, nil
}

func (c collectionsService) CollectionExists(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.resolve(req.GetCollectionName())
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: err == nil}}, nil
}

// Update merges metadata, as Qdrant does; other changes are outside the
// fake's subset.
func (c collectionsService) Update(_ context.Context, req *qdrant.UpdateCollection) (*qdrant.CollectionOperationResponse, error) {
	if req.VectorsConfig != nil || req.SparseVectorsConfig != nil || req.Params != nil || req.QuantizationConfig != nil {
		return nil, unimplemented("updating vector or collection parameters")
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	md := maps.Clone(col.metadata)
	if md == nil {
		md = make(map[string]*qdrant.Value)
	}
	maps.Copy(md, req.GetMetadata())
	col.metadata = md
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

// Delete drops a collection and the aliases that point to it. Deleting a
// missing collection answers Result false, as Qdrant does.
func (c collectionsService) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetCollectionName()
	if _, ok := s.collections[name]; !ok {
		return &qdrant.CollectionOperationResponse{Result: false}, nil
	}
	delete(s.collections, name)
	maps.DeleteFunc(s.aliases, func(_, target string) bool { return target == name })
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

// UpdateAliases applies every action or none: the actions run against a
// copy of the alias table that replaces the real one only if all succeed.
func (c collectionsService) UpdateAliases(_ context.Context, req *qdrant.ChangeAliases) (*qdrant.CollectionOperationResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	aliases := maps.Clone(s.aliases)
	for _, op := range req.GetActions() {
		switch a := op.GetAction().(type) {
		case *qdrant.AliasOperations_CreateAlias:
			alias, target := a.CreateAlias.GetAliasName(), a.CreateAlias.GetCollectionName()
			if err := validName("alias", alias); err != nil {
				return nil, err
			}
			if _, ok := s.collections[target]; !ok {
				return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", target)
			}
			if _, ok := s.collections[alias]; ok {
				return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection with the same name `%s` already exists!", alias)
			}
			if _, ok := aliases[alias]; ok {
				return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Alias `%s` already exists!", alias)
			}
			aliases[alias] = target
		case *qdrant.AliasOperations_DeleteAlias:
			alias := a.DeleteAlias.GetAliasName()
			if _, ok := aliases[alias]; !ok {
				return nil, status.Errorf(codes.NotFound, "Not found: Alias `%s` doesn't exist!", alias)
			}
			delete(aliases, alias)
		case *qdrant.AliasOperations_RenameAlias:
			from, to := a.RenameAlias.GetOldAliasName(), a.RenameAlias.GetNewAliasName()
			target, ok := aliases[from]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "Not found: Alias `%s` doesn't exist!", from)
			}
			if err := validName("alias", to); err != nil {
				return nil, err
			}
			if _, ok := aliases[to]; ok {
				return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Alias `%s` already exists!", to)
			}
			if _, ok := s.collections[to]; ok {
				return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection with the same name `%s` already exists!", to)
			}
			delete(aliases, from)
			aliases[to] = target
		default:
			return nil, status.Error(codes.InvalidArgument, "Validation error in body: alias operation has no action")
		}
	}
	s.aliases = aliases
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func (c collectionsService) ListAliases(context.Context, *qdrant.ListAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return &qdrant.ListAliasesResponse{Aliases: s.aliasList("")}, nil
}

func (c collectionsService) ListCollectionAliases(_ context.Context, req *qdrant.ListCollectionAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	col, err := s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	return &qdrant.ListAliasesResponse{Aliases: s.aliasList(col.name)}, nil
}

// aliasList lists aliases (of target, or all when target is ""), sorted.
// The caller holds s.mu.
func (s *Server) aliasList(target string) []*qdrant.AliasDescription {
	var out []*qdrant.AliasDescription
	for _, alias := range slices.Sorted(maps.Keys(s.aliases)) {
		if target == "" || s.aliases[alias] == target {
			out = append(out, &qdrant.AliasDescription{AliasName: alias, CollectionName: s.aliases[alias]})
		}
	}
	return out
}
