package qdrantstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// metaSpace is the collection metadata key holding the index.Space (as
// JSON) the collection was created for.
const metaSpace = "quarry_space"

// indexedFields get keyword payload indexes, for the filters Quarry uses.
var indexedFields = []string{fieldDocID, fieldLang}

// checkSpace reports whether sp can be stored in Qdrant.
func checkSpace(sp index.Space) error {
	switch {
	case sp.Dim <= 0:
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: space %s: Dim must be positive", spaceString(sp))
	case sp.Sparse && sp.Distance != "" && sp.Distance != "dot":
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: space %s: sparse vectors are scored by dot product, not %q", spaceString(sp), sp.Distance)
	case !sp.Sparse && sp.IDF:
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: space %s: IDF applies to sparse vectors only", spaceString(sp))
	case !sp.Sparse && sp.Distance != "" && sp.Distance != "cosine" && sp.Distance != "dot":
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: space %s: distance must be \"cosine\" or \"dot\"", spaceString(sp))
	}
	return nil
}

// spaceString names a space in messages: "emb" dense 384 cosine.
func spaceString(sp index.Space) string {
	if sp.Sparse {
		s := fmt.Sprintf("%q sparse %d", sp.Embedder, sp.Dim)
		if sp.IDF {
			s += " idf"
		}
		return s
	}
	dist := sp.Distance
	if dist == "" {
		dist = "cosine"
	}
	return fmt.Sprintf("%q dense %d %s", sp.Embedder, sp.Dim, dist)
}

func distanceOf(sp index.Space) qdrant.Distance {
	if sp.Distance == "dot" {
		return qdrant.Distance_Dot
	}
	return qdrant.Distance_Cosine
}

// open checks that Qdrant answers, then opens the collection, creating it
// when missing.
func (s *Store) open(ctx context.Context) error {
	if err := s.call(ctx, "health check", func(ctx context.Context) error {
		_, err := s.client.GetQdrantClient().HealthCheck(ctx, &qdrant.HealthCheckRequest{})
		return err
	}); err != nil {
		return err
	}
	info, err := s.info(ctx)
	if errors.Is(err, quarry.ErrNotFound) && !s.cfg.NoCreate {
		created, err := s.create(ctx)
		if err != nil {
			return err
		}
		if created {
			return s.ensureIndexes(ctx, nil)
		}
		// Someone else created it meanwhile: check it as any other.
		info, err = s.info(ctx)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := s.checkCollection(info); err != nil {
		return err
	}
	if _, ok := info.GetConfig().GetMetadata()[metaSpace]; !ok {
		// Made by an older Quarry or by hand, and its vectors fit: record
		// the space so that the next open checks the embedder too.
		req := &qdrant.UpdateCollection{CollectionName: s.cfg.Collection, Metadata: s.metadata()}
		if err := s.call(ctx, fmt.Sprintf("record space in collection %q", s.cfg.Collection), func(ctx context.Context) error {
			_, err := s.client.GetCollectionsClient().Update(ctx, req)
			return err
		}); err != nil {
			return err
		}
	}
	return s.ensureIndexes(ctx, info.GetPayloadSchema())
}

func (s *Store) info(ctx context.Context) (*qdrant.CollectionInfo, error) {
	var info *qdrant.CollectionInfo
	err := s.call(ctx, fmt.Sprintf("get collection %q", s.cfg.Collection), func(ctx context.Context) error {
		resp, err := s.client.GetCollectionsClient().Get(ctx, &qdrant.GetCollectionInfoRequest{CollectionName: s.cfg.Collection})
		info = resp.GetResult()
		return err
	})
	return info, err
}

func (s *Store) metadata() map[string]*qdrant.Value {
	sp := s.cfg.Space
	if !sp.Sparse && sp.Distance == "" {
		sp.Distance = "cosine"
	}
	raw, _ := json.Marshal(sp) // a struct of strings, ints and bools always marshals
	return map[string]*qdrant.Value{metaSpace: qdrant.NewValueString(string(raw))}
}

// create creates the collection; created is false when it already
// existed (another process won the race).
func (s *Store) create(ctx context.Context) (created bool, err error) {
	sp := s.cfg.Space
	req := &qdrant.CreateCollection{CollectionName: s.cfg.Collection, Metadata: s.metadata()}
	if sp.Sparse {
		params := &qdrant.SparseVectorParams{}
		if sp.IDF {
			params.Modifier = qdrant.Modifier_Idf.Enum()
		}
		req.SparseVectorsConfig = qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{SparseVectorName: params})
	} else {
		req.VectorsConfig = qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			DenseVectorName: {Size: uint64(sp.Dim), Distance: distanceOf(sp)},
		})
	}
	err = s.call(ctx, fmt.Sprintf("create collection %q", s.cfg.Collection), func(ctx context.Context) error {
		_, err := s.client.GetCollectionsClient().Create(ctx, req)
		return err
	})
	if errors.Is(err, quarry.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// checkCollection fails with quarry.ErrConflict unless the collection was
// made for the store's space: its recorded space (when there is one) must
// equal it, and its vector layout must fit it.
func (s *Store) checkCollection(info *qdrant.CollectionInfo) error {
	want := s.cfg.Space
	conflict := func(format string, args ...any) error {
		return quarry.Errorf(quarry.CodeConflict, "qdrantstore: collection %q %s; a store for space %s needs a new collection",
			s.cfg.Collection, fmt.Sprintf(format, args...), spaceString(want))
	}
	if raw, ok := info.GetConfig().GetMetadata()[metaSpace]; ok {
		var got index.Space
		if err := json.Unmarshal([]byte(raw.GetStringValue()), &got); err != nil {
			return conflict("has unreadable %s metadata %s", metaSpace, strconv.Quote(raw.String()))
		}
		if !got.Equal(want) {
			return conflict("was made for space %s", spaceString(got))
		}
	}
	params := info.GetConfig().GetParams()
	if want.Sparse {
		p, ok := params.GetSparseVectorsConfig().GetMap()[SparseVectorName]
		switch {
		case !ok:
			return conflict("has no sparse vector %q", SparseVectorName)
		case (p.GetModifier() == qdrant.Modifier_Idf) != want.IDF:
			return conflict("has sparse vector %q with modifier %v", SparseVectorName, p.GetModifier())
		}
		return nil
	}
	p, ok := params.GetVectorsConfig().GetParamsMap().GetMap()[DenseVectorName]
	switch {
	case !ok:
		return conflict("has no dense vector %q", DenseVectorName)
	case p.GetSize() != uint64(want.Dim):
		return conflict("has %d-dimensional vectors", p.GetSize())
	case p.GetDistance() != distanceOf(want):
		return conflict("scores by %v distance", p.GetDistance())
	}
	return nil
}

// ensureIndexes creates the keyword payload indexes missing from schema.
func (s *Store) ensureIndexes(ctx context.Context, schema map[string]*qdrant.PayloadSchemaInfo) error {
	for _, field := range indexedFields {
		if schema[field].GetDataType() == qdrant.PayloadSchemaType_Keyword {
			continue
		}
		req := &qdrant.CreateFieldIndexCollection{
			CollectionName: s.cfg.Collection,
			Wait:           qdrant.PtrOf(true),
			FieldName:      field,
			FieldType:      qdrant.FieldType_FieldTypeKeyword.Enum(),
		}
		if err := s.call(ctx, fmt.Sprintf("index payload field %s of %q", field, s.cfg.Collection), func(ctx context.Context) error {
			_, err := s.client.GetPointsClient().CreateFieldIndex(ctx, req)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
