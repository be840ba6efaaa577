package qdrantstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// copyPage is how many points one scroll request of CopyFrom reads.
const copyPage = 256

// CopyFrom copies every point of the collection (or alias) src into the
// store's collection and returns how many it copied. An incremental
// rebuild uses it to start a new generation's collection from the
// serving one. Qdrant's CreateCollection once had init_from for this;
// the client this package uses no longer has it, so the points are read
// with Scroll (payload and vectors) and written with Upsert, a page at a
// time, through the same checks as any other upsert.
//
// src must have been made for the store's space (its recorded space is
// checked): copying another embedder's vectors is quarry.ErrConflict.
// Points already in the store's collection with the same chunk IDs are
// replaced; others are left alone.
func (s *Store) CopyFrom(ctx context.Context, src string) (int, error) {
	if src == "" {
		return 0, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: copy: source collection name is required")
	}
	release, err := s.live()
	if err != nil {
		return 0, err
	}
	var info *qdrant.CollectionInfo
	err = s.call(ctx, fmt.Sprintf("get collection %q", src), func(ctx context.Context) error {
		resp, err := s.client.GetCollectionsClient().Get(ctx, &qdrant.GetCollectionInfoRequest{CollectionName: src})
		info = resp.GetResult()
		return err
	})
	release()
	if err != nil {
		return 0, err
	}
	if raw, ok := info.GetConfig().GetMetadata()[metaSpace]; ok {
		var got index.Space
		if err := json.Unmarshal([]byte(raw.GetStringValue()), &got); err != nil || !got.Equal(s.cfg.Space) {
			return 0, quarry.Errorf(quarry.CodeConflict, "qdrantstore: copy %q into %q: the source was made for space %s, not %s",
				src, s.cfg.Collection, raw.GetStringValue(), spaceString(s.cfg.Space))
		}
	}

	copied := 0
	var offset *qdrant.PointId
	for page := 1; ; page++ {
		req := &qdrant.ScrollPoints{
			CollectionName: src,
			Offset:         offset,
			Limit:          qdrant.PtrOf(uint32(copyPage)),
			WithPayload:    qdrant.NewWithPayload(true),
			WithVectors:    qdrant.NewWithVectorsInclude(s.vector),
		}
		var resp *qdrant.ScrollResponse
		release, err := s.live()
		if err != nil {
			return copied, err
		}
		err = s.call(ctx, fmt.Sprintf("copy %q into %q: scroll page %d", src, s.cfg.Collection, page), func(ctx context.Context) error {
			var err error
			resp, err = s.client.GetPointsClient().Scroll(ctx, req)
			return err
		})
		release()
		if err != nil {
			return copied, err
		}
		recs := make([]index.Record, 0, len(resp.GetResult()))
		for _, p := range resp.GetResult() {
			rec, err := s.recordOf(p)
			if err != nil {
				return copied, quarry.Errorf(quarry.CodeInternal, "qdrantstore: copy %q into %q: point %s: %w", src, s.cfg.Collection, p.GetId(), err)
			}
			recs = append(recs, rec)
		}
		if err := s.Upsert(ctx, recs); err != nil {
			return copied, fmt.Errorf("qdrantstore: copy %q into %q: %w", src, s.cfg.Collection, err)
		}
		copied += len(recs)
		offset = resp.GetNextPageOffset()
		if offset == nil || len(recs) == 0 {
			return copied, nil
		}
	}
}

// recordOf reads a chunk and its vector back from a scrolled point.
func (s *Store) recordOf(p *qdrant.RetrievedPoint) (index.Record, error) {
	c, err := chunkOf(p.GetPayload())
	if err != nil {
		return index.Record{}, err
	}
	out := p.GetVectors().GetVectors().GetVectors()[s.vector]
	if out == nil {
		out = p.GetVectors().GetVector() // a collection with one unnamed vector
	}
	if out == nil {
		return index.Record{}, fmt.Errorf("no vector %q", s.vector)
	}
	var v index.Vector
	switch {
	case out.GetDense() != nil:
		v.Dense = out.GetDense().GetData()
	case out.GetSparse() != nil:
		v.Indices, v.Values = out.GetSparse().GetIndices(), out.GetSparse().GetValues()
	case out.GetIndices() != nil: //nolint:staticcheck // older servers fill only the deprecated fields
		v.Indices, v.Values = out.GetIndices().GetData(), out.GetData() //nolint:staticcheck
	default:
		v.Dense = out.GetData() //nolint:staticcheck
	}
	if s.cfg.Space.Sparse && v.Indices == nil {
		v.Indices, v.Values = []uint32{}, []float32{} // a point whose every value was zero
	}
	return index.Record{Chunk: c, Vector: v}, nil
}

// Admin manages the collections and aliases of a Qdrant server without
// serving one collection: dropping collections of abandoned or pruned
// generations, switching and resolving aliases. It is safe for
// concurrent use.
type Admin struct{ s *Store }

// Dial connects to the Qdrant server of cfg (Collection and Space are
// ignored) and checks that it answers.
func Dial(ctx context.Context, cfg Config) (*Admin, error) {
	cfg = cfg.withDefaults()
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: Config.Port %d is out of range", cfg.Port)
	}
	cfg.Collection, cfg.Space = "", index.Space{}
	client, err := qdrant.NewClient(&qdrant.Config{
		Host: cfg.Host, Port: cfg.Port, APIKey: cfg.APIKey, UseTLS: cfg.UseTLS,
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: client for %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	s := &Store{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), client: client}
	if err := s.call(ctx, "health check", func(ctx context.Context) error {
		_, err := client.GetQdrantClient().HealthCheck(ctx, &qdrant.HealthCheckRequest{})
		return err
	}); err != nil {
		client.Close()
		return nil, err
	}
	return &Admin{s: s}, nil
}

// SwitchAlias is Store.SwitchAlias.
func (a *Admin) SwitchAlias(ctx context.Context, alias, collection string) error {
	return a.s.SwitchAlias(ctx, alias, collection)
}

// ResolveAlias is Store.ResolveAlias.
func (a *Admin) ResolveAlias(ctx context.Context, alias string) (string, error) {
	return a.s.ResolveAlias(ctx, alias)
}

// DeleteAlias is Store.DeleteAlias.
func (a *Admin) DeleteAlias(ctx context.Context, alias string) error {
	return a.s.DeleteAlias(ctx, alias)
}

// DeleteCollection is Store.DeleteCollection.
func (a *Admin) DeleteCollection(ctx context.Context, name string) error {
	return a.s.DeleteCollection(ctx, name)
}

// ListCollections is Store.ListCollections.
func (a *Admin) ListCollections(ctx context.Context, prefix string) ([]string, error) {
	return a.s.ListCollections(ctx, prefix)
}

// Close closes the connection.
func (a *Admin) Close() error { return a.s.Close() }
