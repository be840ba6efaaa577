package qdrantstore

import (
	"fmt"
	"math"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Payload fields of a point; the names are quarry.Chunk's JSON names.
const (
	fieldChunkID = "chunk_id"
	fieldDocID   = "doc_id"
	fieldPath    = "path"
	fieldTitle   = "title"
	fieldHeading = "heading"
	fieldPage    = "page"
	fieldOrdinal = "ordinal"
	fieldText    = "text"
	fieldTokens  = "tokens"
	fieldLang    = "lang"
)

// pointNamespace seeds the point UUIDs. Changing it would orphan every
// point already stored, so it is fixed forever.
var pointNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/quarry-kb/quarry/chunk"))

// PointID returns the Qdrant point ID (a version 5 UUID) of a chunk ID.
// The same chunk ID always gives the same point, so upserts replace.
func PointID(chunkID string) string {
	return uuid.NewSHA1(pointNamespace, []byte(chunkID)).String()
}

func (s *Store) pointOf(r index.Record) *qdrant.PointStruct {
	var v *qdrant.Vector
	if s.cfg.Space.Sparse {
		idx, vals := dropZeros(r.Vector.Indices, r.Vector.Values)
		v = qdrant.NewVectorSparse(idx, vals)
	} else {
		v = qdrant.NewVectorDense(r.Vector.Dense)
	}
	return &qdrant.PointStruct{
		Id:      qdrant.NewIDUUID(PointID(r.Chunk.ID)),
		Payload: payloadOf(r.Chunk),
		Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{s.vector: v}),
	}
}

// payloadOf holds every field of c. Empty strings and zero numbers are
// stored too, so that every point has the same fields.
func payloadOf(c quarry.Chunk) map[string]*qdrant.Value {
	return map[string]*qdrant.Value{
		fieldChunkID: qdrant.NewValueString(c.ID),
		fieldDocID:   qdrant.NewValueString(c.DocID),
		fieldPath:    qdrant.NewValueString(c.Path),
		fieldTitle:   qdrant.NewValueString(c.Title),
		fieldHeading: qdrant.NewValueString(c.Heading),
		fieldPage:    qdrant.NewValueInt(int64(c.Page)),
		fieldOrdinal: qdrant.NewValueInt(int64(c.Ordinal)),
		fieldText:    qdrant.NewValueString(c.Text),
		fieldTokens:  qdrant.NewValueInt(int64(c.Tokens)),
		fieldLang:    qdrant.NewValueString(c.Lang),
	}
}

// chunkOf reads a chunk back from a payload. Only chunk_id and doc_id are
// required; a field of the wrong type is an error.
func chunkOf(p map[string]*qdrant.Value) (quarry.Chunk, error) {
	var (
		c   quarry.Chunk
		err error
	)
	str := func(field string, dst *string) {
		v, ok := p[field]
		if !ok || err != nil {
			return
		}
		s, isStr := v.GetKind().(*qdrant.Value_StringValue)
		if !isStr {
			err = fmt.Errorf("payload field %s is %T, not a string", field, v.GetKind())
			return
		}
		*dst = s.StringValue
	}
	num := func(field string, dst *int) {
		v, ok := p[field]
		if !ok || err != nil {
			return
		}
		switch k := v.GetKind().(type) {
		case *qdrant.Value_IntegerValue:
			if int64(int(k.IntegerValue)) != k.IntegerValue {
				err = fmt.Errorf("payload field %s is out of range: %d", field, k.IntegerValue)
				return
			}
			*dst = int(k.IntegerValue)
		case *qdrant.Value_DoubleValue: // JSON numbers may come back as doubles
			if k.DoubleValue != math.Trunc(k.DoubleValue) || math.Abs(k.DoubleValue) > 1<<53 {
				err = fmt.Errorf("payload field %s is not an integer: %v", field, k.DoubleValue)
				return
			}
			*dst = int(k.DoubleValue)
		default:
			err = fmt.Errorf("payload field %s is %T, not a number", field, v.GetKind())
		}
	}
	str(fieldChunkID, &c.ID)
	str(fieldDocID, &c.DocID)
	str(fieldPath, &c.Path)
	str(fieldTitle, &c.Title)
	str(fieldHeading, &c.Heading)
	num(fieldPage, &c.Page)
	num(fieldOrdinal, &c.Ordinal)
	str(fieldText, &c.Text)
	num(fieldTokens, &c.Tokens)
	str(fieldLang, &c.Lang)
	switch {
	case err != nil:
		return quarry.Chunk{}, err
	case c.ID == "":
		return quarry.Chunk{}, fmt.Errorf("payload has no %s", fieldChunkID)
	case c.DocID == "":
		return quarry.Chunk{}, fmt.Errorf("payload has no %s", fieldDocID)
	}
	return c, nil
}
