// Package qdrantstore implements index.VectorStore on a Qdrant server,
// through Qdrant's official Go client over gRPC.
//
// One Store serves one collection (one knowledge base and generation,
// e.g. "quarry_default_g0003") for exactly one index.Space. New creates
// the collection when it is missing, with a named vector matching the
// space ("dense" with the space's size and distance, or "sparse" with
// Modifier.Idf when the space asks for IDF), keyword payload indexes on
// doc_id and lang, and the space recorded in the collection's metadata;
// opening an existing collection made for another space fails with
// quarry.ErrConflict. A chunk is stored as one point whose ID is a UUID
// derived from the chunk ID and whose payload holds every quarry.Chunk
// field.
//
// Every call has a timeout and is retried with exponential back-off and
// jitter when Qdrant is unavailable, overloaded or slow; gRPC status
// codes are translated into quarry error codes at this boundary. For
// zero-downtime rebuilds, a Store can be opened on an alias, and
// SwitchAlias repoints an alias at a new collection atomically.
package qdrantstore

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Defaults for the zero values of Config fields.
const (
	DefaultHost         = "localhost"
	DefaultPort         = 6334
	DefaultBatchSize    = 128
	DefaultMaxRetries   = 3
	DefaultRetryBackoff = 200 * time.Millisecond
	DefaultTimeout      = 30 * time.Second
)

// Names of the vectors in a Quarry collection.
const (
	DenseVectorName  = "dense"
	SparseVectorName = "sparse"
)

// deleteBatch bounds the doc ids in one delete-by-filter request.
const deleteBatch = 256

// Config configures a Store. The zero value of every field but Collection
// and Space means its default.
type Config struct {
	Host   string // default "localhost"
	Port   int    // gRPC port; default 6334
	APIKey string // sent in the api-key header; use with UseTLS
	UseTLS bool

	// Collection is the collection (or alias) to serve, e.g.
	// "quarry_default_g0003". Required.
	Collection string
	// Space is the space of the vectors stored. Required.
	Space index.Space
	// NoCreate makes New fail with quarry.ErrNotFound rather than create a
	// missing collection, as a server opening an alias should.
	NoCreate bool

	BatchSize    int           // points per upsert request; default 128
	MaxRetries   int           // retries after a failed attempt; default 3, negative for none
	RetryBackoff time.Duration // first back-off, doubled per retry, with jitter; default 200ms
	Timeout      time.Duration // per gRPC call; default 30s
}

func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// ParseAddr splits "host:port" (as in QUARRY_QDRANT_ADDR) for Config.
// A missing port means DefaultPort.
func ParseAddr(addr string) (host string, port int, err error) {
	if addr == "" {
		return "", 0, quarry.Errorf(quarry.CodeInvalid, "qdrant address is empty")
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: the whole address is the host (an IPv6 literal must be
		// bracketed to carry a port, so it cannot get here ambiguously).
		if _, _, err2 := net.SplitHostPort(addr + ":0"); err2 != nil {
			return "", 0, quarry.Errorf(quarry.CodeInvalid, "qdrant address %q: %w", addr, err)
		}
		return addr, DefaultPort, nil
	}
	if host == "" {
		return "", 0, quarry.Errorf(quarry.CodeInvalid, "qdrant address %q has no host", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, quarry.Errorf(quarry.CodeInvalid, "qdrant address %q: port must be a number from 1 to 65535", addr)
	}
	return host, port, nil
}

// Store is an index.VectorStore on one Qdrant collection. It is safe for
// concurrent use.
type Store struct {
	cfg    Config
	addr   string
	client *qdrant.Client
	vector string // DenseVectorName or SparseVectorName

	closeOnce sync.Once
	closeErr  error
	mu        sync.RWMutex // guards closed against calls in flight
	closed    bool
}

var _ index.VectorStore = (*Store)(nil)

// New connects to Qdrant and opens cfg.Collection, creating it for
// cfg.Space when it is missing (unless cfg.NoCreate). It fails with
// quarry.ErrConflict when the collection exists for another space,
// quarry.ErrUnavailable when Qdrant cannot be reached.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if cfg.Collection == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: Config.Collection is required")
	}
	if err := checkSpace(cfg.Space); err != nil {
		return nil, err
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: Config.Port %d is out of range", cfg.Port)
	}
	client, err := qdrant.NewClient(&qdrant.Config{
		Host:   cfg.Host,
		Port:   cfg.Port,
		APIKey: cfg.APIKey,
		UseTLS: cfg.UseTLS,
		// The check only logs; New runs its own health check instead.
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: client for %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	s := &Store{
		cfg:    cfg,
		addr:   net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		client: client,
		vector: DenseVectorName,
	}
	if cfg.Space.Sparse {
		s.vector = SparseVectorName
	}
	if err := s.open(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

// Space returns the space the store was opened for.
func (s *Store) Space() index.Space { return s.cfg.Space }

// Collection returns the collection (or alias) name the store serves.
func (s *Store) Collection() string { return s.cfg.Collection }

// Close closes the connection to Qdrant. Calls after Close fail with
// quarry.ErrUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if err := s.client.Close(); err != nil {
			s.closeErr = fmt.Errorf("qdrantstore: close: %w", err)
		}
	})
	return s.closeErr
}

// live holds a read lock for a call in flight; the caller runs the
// returned release when done. It fails once the store is closed.
func (s *Store) live() (release func(), err error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, quarry.Errorf(quarry.CodeUnavailable, "qdrantstore: store for collection %q is closed", s.cfg.Collection)
	}
	return s.mu.RUnlock, nil
}

// Upsert stores records, replacing those with the same chunk ID (the last
// wins when one appears twice). Every record is checked before anything
// is written. Records go in batches of Config.BatchSize, each written
// with wait=true; if a batch fails, the batches before it are stored and
// the error says which records were not.
func (s *Store) Upsert(ctx context.Context, recs []index.Record) error {
	release, err := s.live()
	if err != nil {
		return err
	}
	defer release()
	for i, r := range recs {
		if err := s.checkRecord(r); err != nil {
			return quarry.Errorf(quarry.ErrorCode(err), "qdrantstore: upsert record %d (chunk %q): %w", i, r.Chunk.ID, err)
		}
	}
	last := make(map[string]int, len(recs))
	for i, r := range recs {
		last[r.Chunk.ID] = i
	}
	points := make([]*qdrant.PointStruct, 0, len(last))
	for i, r := range recs {
		if last[r.Chunk.ID] == i {
			points = append(points, s.pointOf(r))
		}
	}
	batches := (len(points) + s.cfg.BatchSize - 1) / s.cfg.BatchSize
	for b := range batches {
		lo, hi := b*s.cfg.BatchSize, min((b+1)*s.cfg.BatchSize, len(points))
		req := &qdrant.UpsertPoints{
			CollectionName: s.cfg.Collection,
			Wait:           qdrant.PtrOf(true),
			Points:         points[lo:hi],
		}
		op := fmt.Sprintf("upsert batch %d of %d (points %d to %d of %d) into %q", b+1, batches, lo, hi-1, len(points), s.cfg.Collection)
		if err := s.call(ctx, op, func(ctx context.Context) error {
			_, err := s.client.GetPointsClient().Upsert(ctx, req)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteDocs removes every chunk of the given documents. Unknown ids are
// not an error.
func (s *Store) DeleteDocs(ctx context.Context, docIDs ...string) error {
	release, err := s.live()
	if err != nil {
		return err
	}
	defer release()
	for ids := range slices.Chunk(docIDs, deleteBatch) {
		req := &qdrant.DeletePoints{
			CollectionName: s.cfg.Collection,
			Wait:           qdrant.PtrOf(true),
			Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{
				Must: []*qdrant.Condition{qdrant.NewMatchKeywords(fieldDocID, ids...)},
			}),
		}
		op := fmt.Sprintf("delete %d documents from %q", len(ids), s.cfg.Collection)
		if err := s.call(ctx, op, func(ctx context.Context) error {
			_, err := s.client.GetPointsClient().Delete(ctx, req)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// Search returns at most k chunks nearest to v that match f, best first;
// chunks with equal scores are ordered by chunk ID. k <= 0 returns
// nothing.
func (s *Store) Search(ctx context.Context, v index.Vector, k int, f index.Filter) ([]index.Hit, error) {
	release, err := s.live()
	if err != nil {
		return nil, err
	}
	defer release()
	if k <= 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: search %q: k is %d, want at least 1", s.cfg.Collection, k)
	}
	if err := checkVector(s.cfg.Space, v); err != nil {
		return nil, quarry.Errorf(quarry.ErrorCode(err), "qdrantstore: search %q: query: %w", s.cfg.Collection, err)
	}
	var q *qdrant.Query
	if s.cfg.Space.Sparse {
		idx, vals := dropZeros(v.Indices, v.Values)
		if len(idx) == 0 {
			return nil, nil // an empty query shares no index with any chunk
		}
		q = qdrant.NewQuerySparse(idx, vals)
	} else {
		if s.cfg.Space.Distance != "dot" && !slices.ContainsFunc(v.Dense, func(x float32) bool { return x != 0 }) {
			return nil, quarry.Errorf(quarry.CodeInvalid, "qdrantstore: search %q: the query vector is zero, which has no cosine", s.cfg.Collection)
		}
		q = qdrant.NewQueryDense(v.Dense)
	}
	req := &qdrant.QueryPoints{
		CollectionName: s.cfg.Collection,
		Query:          q,
		Using:          qdrant.PtrOf(s.vector),
		Filter:         filterOf(f),
		Limit:          qdrant.PtrOf(uint64(k)),
		WithPayload:    qdrant.NewWithPayload(true),
	}
	var res []*qdrant.ScoredPoint
	op := fmt.Sprintf("search %q", s.cfg.Collection)
	if err := s.call(ctx, op, func(ctx context.Context) error {
		resp, err := s.client.GetPointsClient().Query(ctx, req)
		res = resp.GetResult()
		return err
	}); err != nil {
		return nil, err
	}
	hits := make([]index.Hit, 0, len(res))
	for _, p := range res {
		c, err := chunkOf(p.GetPayload())
		if err != nil {
			return nil, quarry.Errorf(quarry.CodeInternal, "qdrantstore: %s: point %s: %w", op, p.GetId(), err)
		}
		hits = append(hits, index.Hit{Chunk: c, Score: float64(p.GetScore())})
	}
	// Qdrant does not promise an order among equal scores.
	slices.SortStableFunc(hits, func(a, b index.Hit) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.Chunk.ID, b.Chunk.ID)
	})
	return hits, nil
}

// Count returns the exact number of chunks stored.
func (s *Store) Count(ctx context.Context) (int, error) {
	release, err := s.live()
	if err != nil {
		return 0, err
	}
	defer release()
	req := &qdrant.CountPoints{CollectionName: s.cfg.Collection, Exact: qdrant.PtrOf(true)}
	var n uint64
	if err := s.call(ctx, fmt.Sprintf("count %q", s.cfg.Collection), func(ctx context.Context) error {
		resp, err := s.client.GetPointsClient().Count(ctx, req)
		n = resp.GetResult().GetCount()
		return err
	}); err != nil {
		return 0, err
	}
	return int(n), nil
}

func filterOf(f index.Filter) *qdrant.Filter {
	var must []*qdrant.Condition
	if len(f.DocIDs) > 0 {
		must = append(must, qdrant.NewMatchKeywords(fieldDocID, f.DocIDs...))
	}
	if f.Lang != "" {
		must = append(must, qdrant.NewMatchKeyword(fieldLang, f.Lang))
	}
	if must == nil {
		return nil
	}
	return &qdrant.Filter{Must: must}
}

func (s *Store) checkRecord(r index.Record) error {
	if err := checkChunk(r.Chunk); err != nil {
		return err
	}
	return checkVector(s.cfg.Space, r.Vector)
}

// checkChunk reports whether c can be stored: it needs its IDs, and its
// text fields must be valid UTF-8, which protobuf strings require.
func checkChunk(c quarry.Chunk) error {
	if c.ID == "" {
		return quarry.Errorf(quarry.CodeInvalid, "chunk ID is empty")
	}
	if c.DocID == "" {
		return quarry.Errorf(quarry.CodeInvalid, "doc ID is empty")
	}
	for _, f := range []struct{ name, val string }{
		{fieldChunkID, c.ID}, {fieldDocID, c.DocID}, {fieldPath, c.Path}, {fieldTitle, c.Title},
		{fieldHeading, c.Heading}, {fieldText, c.Text}, {fieldLang, c.Lang},
	} {
		if !utf8.ValidString(f.val) {
			return quarry.Errorf(quarry.CodeInvalid, "chunk field %s is not valid UTF-8", f.name)
		}
	}
	return nil
}

// checkVector reports whether v fits sp: a vector of another kind or size
// is quarry.ErrConflict (it comes from another embedder), a malformed one
// quarry.ErrInvalid.
func checkVector(sp index.Space, v index.Vector) error {
	if !sp.Sparse {
		switch {
		case v.Dense == nil && (v.Indices != nil || v.Values != nil):
			return quarry.Errorf(quarry.CodeConflict, "sparse vector for dense space %s", spaceString(sp))
		case len(v.Dense) == 0:
			return quarry.Errorf(quarry.CodeInvalid, "vector is empty")
		case len(v.Dense) != sp.Dim:
			return quarry.Errorf(quarry.CodeConflict, "vector has %d dimensions, space %s has %d", len(v.Dense), spaceString(sp), sp.Dim)
		case v.Indices != nil || v.Values != nil:
			return quarry.Errorf(quarry.CodeInvalid, "vector has both dense and sparse parts")
		}
		return checkFinite(v.Dense)
	}
	switch {
	case v.Dense != nil:
		return quarry.Errorf(quarry.CodeConflict, "dense vector for sparse space %s", spaceString(sp))
	case len(v.Indices) != len(v.Values):
		return quarry.Errorf(quarry.CodeInvalid, "sparse vector has %d indices and %d values", len(v.Indices), len(v.Values))
	}
	seen := make(map[uint32]struct{}, len(v.Indices))
	for _, i := range v.Indices {
		if int64(i) >= int64(sp.Dim) {
			return quarry.Errorf(quarry.CodeInvalid, "sparse index %d is outside space %s (dim %d)", i, spaceString(sp), sp.Dim)
		}
		if _, dup := seen[i]; dup {
			return quarry.Errorf(quarry.CodeInvalid, "sparse index %d is repeated", i)
		}
		seen[i] = struct{}{}
	}
	return checkFinite(v.Values)
}

func checkFinite(xs []float32) error {
	for i, x := range xs {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return quarry.Errorf(quarry.CodeInvalid, "vector value %d is %v", i, x)
		}
	}
	return nil
}

// dropZeros returns a sparse vector without its zero entries: a zero
// scores nothing, and must neither make a chunk share an index with a
// query nor count for the index's document frequency (Quarry's contract,
// which memvec keeps too).
func dropZeros(idx []uint32, vals []float32) ([]uint32, []float32) {
	if !slices.Contains(vals, 0) {
		return idx, vals
	}
	outIdx := make([]uint32, 0, len(idx))
	outVals := make([]float32, 0, len(vals))
	for i, x := range vals {
		if x != 0 {
			outIdx = append(outIdx, idx[i])
			outVals = append(outVals, x)
		}
	}
	return outIdx, outVals
}
