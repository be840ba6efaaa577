// Package index holds the contracts every index backend implements: a
// keyword index, a vector store and an embedder. Implementations live in
// subpackages (bleve, memvec, qdrant, embedders) and never import each
// other; cmd/quarry wires them. Every vector store passes the shared
// conformance suite in index/vectortest.
package index

import (
	"context"

	"github.com/quarry-kb/quarry"
)

// Hit is one chunk returned by a retrieval leg with the leg's raw score
// (higher is better). Backends return the whole chunk (text and
// metadata), so that results from either leg can be shown and cited
// without another lookup.
type Hit struct {
	Chunk quarry.Chunk
	Score float64
}

// KeywordIndex is a full-text (BM25) index over chunks.
type KeywordIndex interface {
	// Upsert adds chunks, replacing any with the same chunk ID.
	Upsert(ctx context.Context, chunks []quarry.Chunk) error
	// DeleteDocs removes every chunk of the given documents. Unknown ids
	// are not an error.
	DeleteDocs(ctx context.Context, docIDs ...string) error
	// Search returns at most k chunks for a free-text query, best first.
	Search(ctx context.Context, query string, k int) ([]Hit, error)
	// Count returns the number of chunks indexed.
	Count(ctx context.Context) (int, error)
	Close() error
}

// Ranking is a keyword search whose chunks are read only when asked
// for. A retriever that fuses legs needs every candidate's chunk ID and
// score, but whole chunks only for the few passages it returns; reading
// (and decompressing) the stored text of every candidate cost a
// keyword search as much as its postings did.
type Ranking struct {
	// Hits are best first, as Search would return them; each Chunk
	// carries only its ID.
	Hits []Hit
	// Load returns the whole chunk of Hits[i], read from the same view
	// of the index the ranking was made from, so it is the chunk Search
	// would have returned even if the index has changed since. It is not
	// safe for concurrent use.
	Load func(i int) (quarry.Chunk, error)
	// Release lets go of that view; Load must not be called after it.
	// It must be called exactly once.
	Release func()
}

// RankingIndex is a keyword index that can rank chunks before reading
// them. SearchRanking's hits, loaded, are those of Search, in the same
// order with the same scores.
type RankingIndex interface {
	SearchRanking(ctx context.Context, query string, k int) (Ranking, error)
}

// Vector is an embedding: dense (Dense set) or sparse (Indices and
// Values set, same length, indices unique).
type Vector struct {
	Dense   []float32 `json:"dense,omitempty"`
	Indices []uint32  `json:"indices,omitempty"`
	Values  []float32 `json:"values,omitempty"`
}

// IsSparse reports whether v is a sparse vector.
func (v Vector) IsSparse() bool { return v.Dense == nil && v.Indices != nil }

// Space describes the vectors an embedder produces. A vector store is
// created for exactly one Space and refuses vectors of another
// (quarry.ErrConflict): mixing embedders in one index silently ruins
// retrieval, so changing the embedder means building a new index.
type Space struct {
	// Embedder names the embedder, its model and any setting that changes
	// its vectors, e.g. "quarry-charngram-v1" or "openai/text-embedding-3-small".
	Embedder string `json:"embedder"`
	// Dim is the dense dimension, or for sparse vectors the size of the
	// index space (every index is < Dim).
	Dim int `json:"dim"`
	// Sparse vectors are scored by dot product over shared indices.
	Sparse bool `json:"sparse,omitempty"`
	// IDF (sparse only) asks the store to weight each index by its
	// inverse document frequency at query time, with Qdrant's formula
	// ln(1 + (N - n + 0.5) / (n + 0.5)), as Qdrant's Modifier.Idf does.
	IDF bool `json:"idf,omitempty"`
	// Distance for dense vectors: "cosine" (default) or "dot".
	Distance string `json:"distance,omitempty"`
}

// Equal reports whether two spaces produce interchangeable vectors.
func (s Space) Equal(o Space) bool {
	return s.Embedder == o.Embedder && s.Dim == o.Dim && s.Sparse == o.Sparse &&
		s.IDF == o.IDF && s.distance() == o.distance()
}

func (s Space) distance() string {
	if s.Distance == "" && !s.Sparse {
		return "cosine"
	}
	return s.Distance
}

// Record is a chunk with its vector, as stored in a vector store.
type Record struct {
	Chunk  quarry.Chunk
	Vector Vector
}

// Filter narrows a vector search. The zero Filter matches everything.
type Filter struct {
	DocIDs []string // only chunks of these documents
	Lang   string   // only chunks in this language
}

// VectorStore stores chunk vectors and finds the nearest to a query.
type VectorStore interface {
	// Space returns the space the store was created for.
	Space() Space
	// Upsert adds records, replacing any with the same chunk ID. A vector
	// that does not fit the store's Space is quarry.ErrConflict (another
	// embedder) or quarry.ErrInvalid (malformed).
	Upsert(ctx context.Context, recs []Record) error
	// DeleteDocs removes every chunk of the given documents.
	DeleteDocs(ctx context.Context, docIDs ...string) error
	// Search returns at most k chunks nearest to v that match f, best first.
	Search(ctx context.Context, v Vector, k int, f Filter) ([]Hit, error)
	// Count returns the number of chunks stored.
	Count(ctx context.Context) (int, error)
	Close() error
}

// Embedder turns text into vectors. Passages and queries are embedded by
// separate calls because many models treat them differently (prefixes,
// asymmetric weighting).
type Embedder interface {
	Space() Space
	EmbedPassages(ctx context.Context, texts []string) ([]Vector, error)
	EmbedQuery(ctx context.Context, text string) (Vector, error)
}
