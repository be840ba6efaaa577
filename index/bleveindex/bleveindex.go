// Package bleveindex is Quarry's keyword index: an index.KeywordIndex
// over chunks, stored on disk with Bleve (scorch) and ranked with BM25F,
// scored the way Lucene scores BM25 (see bm25.go for why and how).
//
// One index holds English and Chinese side by side. English text is
// lower-cased, stripped of possessives and stop words and stemmed; CJK
// text is width-folded and split into overlapping character pairs
// (bigrams), with single characters indexed as well, so "refund policy"
// and "退款政策" are both answered from the same index.
//
// Analysis settings (Config.Analyzer) are fixed when an index is created;
// ranking settings (Config.Scoring) apply at query time and may change
// from one Open to the next, or per call with SearchScored.
package bleveindex

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/collector"
	bindex "github.com/blevesearch/bleve_index_api"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Config configures an Index. The zero value means the defaults.
type Config struct {
	// Scoring holds the ranking parameters (K1, B, TitleBoost,
	// HeadingBoost), used at query time. They are per index: bleve's
	// process-wide search.BM25_k1/BM25_b are neither read nor written.
	Scoring
	// Analyzer holds the analysis settings, fixed at creation.
	Analyzer Analyzer
	// BatchSize is how many chunks go into one bleve batch. Default 512.
	BatchSize int
	// MaxQueryTerms caps the distinct terms taken from one query (the
	// first ones are kept), bounding the work a huge query can cause.
	// Default 1024.
	MaxQueryTerms int
	// LockTimeout is how long Open waits for another holder of the index
	// (another process, or another open Index) to let go before failing
	// with quarry.ErrUnavailable. Default 2s.
	LockTimeout time.Duration
	// PostingsCacheBytes bounds the memory of decoded posting lists kept
	// for queries, least recently used out first (see postings.go).
	// Default 128 MiB; negative disables the cache.
	PostingsCacheBytes int64
	// ReadOnly opens an existing index for searching only, with a shared
	// lock: any number of read-only opens (a server and quarry ask or
	// search on the same data directory) coexist. Writes fail.
	ReadOnly bool
}

// Defaults.
const (
	DefaultBatchSize     = 512
	DefaultMaxQueryTerms = 1024
	DefaultK             = 10 // results when Search is asked for k ≤ 0
	DefaultPostingsCache = 128 << 20
	defaultLockTimeout   = 2 * time.Second
)

// Keys of the internal values Quarry keeps in the bleve index, written
// when it is created.
var (
	formatKey   = []byte("quarry.format")
	analysisKey = []byte("quarry.analysis")
)

// format identifies the document layout and scoring statistics of this
// package; an index of another format must be rebuilt.
const format = "quarry-bleve-bm25f-1"

// Index is a keyword index in a directory. It is safe for concurrent
// use: searches run while writes are applied, and see each write either
// whole (per batch of Config.BatchSize chunks) or not at all.
type Index struct {
	idx      bleve.Index
	scoring  Scoring // with defaults
	analyzer Analyzer
	query    analysis.Analyzer // query-side analyser from the stored mapping
	terms    analysis.Analyzer // index-side analyser, for field lengths
	cfg      Config

	writeMu  sync.Mutex    // serialises writers: statistics are read, changed and written back
	lens     lensCache     // field lengths of the segments, for scoring
	postings postingsCache // decoded long posting lists, for scoring
	slots    chan struct{} // bounds the queries holding a score array (topk.go)
	pruned   atomic.Int64  // queries whose common terms were only looked up (prune.go)
	decoded  atomic.Int64  // postings decoded from the segments since their pages were dropped (drop.go)

	mu     sync.RWMutex // guards closed; held for reading by every operation
	closed bool
}

var _ index.KeywordIndex = (*Index)(nil)

// Open opens the index in dir, creating it (and dir) if there is none.
// A directory that holds something else is quarry.ErrConflict, as is an
// index built with other analysis settings than those cfg sets.
func Open(dir string, cfg Config) (*Index, error) {
	if err := cfg.Scoring.validate(); err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "bleveindex: scoring: %w", err)
	}
	if err := cfg.Analyzer.validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxQueryTerms <= 0 {
		cfg.MaxQueryTerms = DefaultMaxQueryTerms
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = defaultLockTimeout
	}
	if cfg.PostingsCacheBytes == 0 {
		cfg.PostingsCacheBytes = DefaultPostingsCache
	}

	exists, err := indexExists(dir)
	if err != nil {
		return nil, err
	}
	ix := &Index{cfg: cfg, scoring: cfg.Scoring.withDefaults(), postings: postingsCache{budget: cfg.PostingsCacheBytes},
		slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	if !exists && cfg.ReadOnly {
		return nil, quarry.Errorf(quarry.CodeNotFound, "bleveindex: %s holds no index", dir)
	}
	if exists {
		err = ix.open(dir)
	} else {
		err = ix.create(dir)
	}
	if err != nil {
		return nil, err
	}
	m := ix.idx.Mapping()
	ix.query = m.AnalyzerNamed(queryAnalyzer)
	ix.terms = m.AnalyzerNamed(indexAnalyzer)
	if ix.query == nil || ix.terms == nil {
		_ = ix.idx.Close()
		return nil, quarry.Errorf(quarry.CodeConflict, "bleveindex: %s: index mapping lacks Quarry's analysers", dir)
	}
	return ix, nil
}

// indexExists tells whether dir holds a bleve index, and refuses a
// directory that holds other files.
func indexExists(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, quarry.Errorf(quarry.CodeUnavailable, "bleveindex: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err == nil {
		return true, nil
	}
	if len(entries) > 0 {
		return false, quarry.Errorf(quarry.CodeConflict, "bleveindex: %s is not empty and holds no bleve index", dir)
	}
	return false, nil
}

func (ix *Index) create(dir string) error {
	ix.analyzer = ix.cfg.Analyzer.withDefaults()
	m, err := newMapping(ix.analyzer)
	if err != nil {
		return quarry.Errorf(quarry.CodeInternal, "bleveindex: %w", err)
	}
	idx, err := bleve.NewUsing(dir, m, scorch.Name, scorch.Name, map[string]any{
		"bolt_timeout": ix.cfg.LockTimeout.String(),
	})
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "bleveindex: create %s: %w", dir, err)
	}
	a, _ := json.Marshal(ix.analyzer)
	b := idx.NewBatch()
	b.SetInternal(formatKey, []byte(format))
	b.SetInternal(analysisKey, a)
	if err := idx.Batch(b); err != nil {
		_ = idx.Close()
		return quarry.Errorf(quarry.CodeUnavailable, "bleveindex: create %s: %w", dir, err)
	}
	ix.idx = idx
	return nil
}

func (ix *Index) open(dir string) error {
	rc := map[string]any{"bolt_timeout": ix.cfg.LockTimeout.String()}
	if ix.cfg.ReadOnly {
		rc["read_only"] = true
	}
	idx, err := bleve.OpenUsing(dir, rc)
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return quarry.Errorf(quarry.CodeUnavailable, "bleveindex: open %s: in use by another process: %w", dir, err)
		}
		return quarry.Errorf(quarry.CodeUnavailable, "bleveindex: open %s: %w", dir, err)
	}
	fail := func(code quarry.Code, format string, args ...any) error {
		_ = idx.Close()
		return quarry.Errorf(code, format, args...)
	}
	f, err := idx.GetInternal(formatKey)
	if err != nil {
		return fail(quarry.CodeUnavailable, "bleveindex: open %s: %w", dir, err)
	}
	if string(f) != format {
		return fail(quarry.CodeConflict, "bleveindex: %s holds a bleve index of format %q, not %q: rebuild it", dir, f, format)
	}
	a, err := idx.GetInternal(analysisKey)
	if err != nil {
		return fail(quarry.CodeUnavailable, "bleveindex: open %s: %w", dir, err)
	}
	var stored Analyzer
	if err := json.Unmarshal(a, &stored); err != nil {
		return fail(quarry.CodeConflict, "bleveindex: %s: unreadable analysis settings: %w", dir, err)
	}
	want := ix.cfg.Analyzer.fill(stored)
	if want != stored {
		return fail(quarry.CodeConflict,
			"bleveindex: %s was built with analysis %+v, asked for %+v: rebuild the index to change analysis", dir, stored, want)
	}
	ix.analyzer = stored
	ix.idx = idx
	return nil
}

// Analysis returns the analysis settings of the index.
func (ix *Index) Analysis() Analyzer { return ix.analyzer }

// Scoring returns the default ranking parameters of the index (those of
// Config, with defaults filled in).
func (ix *Index) Scoring() Scoring { return ix.scoring }

// acquire takes the read side of the close lock, failing once closed.
func (ix *Index) acquire() error {
	ix.mu.RLock()
	if ix.closed {
		ix.mu.RUnlock()
		return quarry.Errorf(quarry.CodeUnavailable, "bleveindex: index is closed")
	}
	return nil
}

// Close flushes and closes the index. It waits for running operations;
// later calls fail with quarry.ErrUnavailable. Closing twice is a no-op.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	if err := ix.idx.Close(); err != nil {
		return quarry.Errorf(quarry.CodeInternal, "bleveindex: close: %w", err)
	}
	return nil
}

// Count returns the number of chunks in the index.
func (ix *Index) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, ctxError(err)
	}
	if err := ix.acquire(); err != nil {
		return 0, err
	}
	defer ix.mu.RUnlock()
	n, err := ix.idx.DocCount()
	if err != nil {
		return 0, translate("count", err)
	}
	return int(n), nil
}

// Search returns at most k chunks (DefaultK when k ≤ 0) for a free-text
// query, best first, scored with the index's default Scoring. The query
// is analysed like the indexed text; no query syntax is interpreted, so
// any string is a valid query. A query with no text is
// quarry.ErrInvalid; one whose words are all stop words finds nothing.
func (ix *Index) Search(ctx context.Context, query string, k int) ([]index.Hit, error) {
	return ix.search(ctx, query, k, ix.scoring)
}

// SearchScored is Search with other ranking parameters (zero fields take
// the defaults, not the index's Config), for tuning without reopening.
func (ix *Index) SearchScored(ctx context.Context, query string, k int, s Scoring) ([]index.Hit, error) {
	if err := s.validate(); err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "bleveindex: scoring: %w", err)
	}
	return ix.search(ctx, query, k, s.withDefaults())
}

// SearchRanking is Search without reading the chunks: its hits carry
// their chunk IDs and scores, in Search's order, and Load reads a hit's
// whole chunk from the same snapshot. A hybrid retriever reads only the
// passages it returns instead of every candidate's stored fields.
func (ix *Index) SearchRanking(ctx context.Context, query string, k int) (index.Ranking, error) {
	return ix.ranking(ctx, query, k, ix.scoring)
}

func (ix *Index) search(ctx context.Context, query string, k int, s Scoring) ([]index.Hit, error) {
	rk, err := ix.ranking(ctx, query, k, s)
	if err != nil {
		return nil, err
	}
	defer rk.Release()
	for i := range rk.Hits {
		c, err := rk.Load(i)
		if err != nil {
			return nil, err
		}
		rk.Hits[i].Chunk = c
	}
	return rk.Hits, nil
}

func (ix *Index) ranking(ctx context.Context, query string, k int, s Scoring) (index.Ranking, error) {
	if strings.TrimSpace(query) == "" {
		return index.Ranking{}, quarry.Errorf(quarry.CodeInvalid, "bleveindex: empty query")
	}
	if k <= 0 {
		k = DefaultK
	}
	if err := ctx.Err(); err != nil {
		return index.Ranking{}, ctxError(err)
	}
	if err := ix.acquire(); err != nil {
		return index.Ranking{}, err
	}
	defer ix.mu.RUnlock()

	terms := ix.queryTerms(query)
	if len(terms) == 0 {
		return loaded([]index.Hit{}), nil
	}
	// The query runs on one snapshot of the index, and the hits' stored
	// fields are read from that snapshot by their internal numbers (see
	// loadDoc), when asked for: bleve's own loading looks every hit up
	// again by its ID and builds a document of field objects, which cost
	// as much as the scoring itself, and decompressing the stored fields
	// of every candidate cost a fifth of a query when a hybrid search
	// returns a tenth of them.
	r, err := ix.reader()
	if err != nil {
		return index.Ranking{}, translate("search", err)
	}
	// Equal scores are ordered by chunk ID, so results do not depend on
	// how segments happen to be laid out. The fast path (topk.go) scores
	// from the segments' postings; bleve's searcher and collector serve
	// any other reader.
	if snap, ok := r.(*scorch.IndexSnapshot); ok {
		top, ok, err := ix.topK(ctx, snap, terms, s, k)
		if err != nil {
			_ = r.Close()
			return index.Ranking{}, translate("search", err)
		}
		if ok {
			rk, err := snapshotRanking(snap, top)
			if err != nil {
				_ = r.Close()
				return index.Ranking{}, translate("search", err)
			}
			return rk, nil
		}
	}
	defer func() { _ = r.Close() }()
	hits, err := ix.searchBleve(ctx, r, terms, s, k)
	if err != nil {
		return index.Ranking{}, err
	}
	sortHits(hits)
	return loaded(hits), nil
}

// sortHits orders hits best first, equal scores by chunk ID.
func sortHits(hits []index.Hit) {
	slices.SortStableFunc(hits, hitOrder)
}

// hitOrder compares hits best first, equal scores by chunk ID.
func hitOrder(a, b index.Hit) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return strings.Compare(a.Chunk.ID, b.Chunk.ID)
}

// loaded is the ranking of hits whose chunks are already read.
func loaded(hits []index.Hit) index.Ranking {
	chunks := make([]quarry.Chunk, len(hits))
	for i, h := range hits {
		chunks[i] = h.Chunk
	}
	return index.Ranking{
		Hits:    hits,
		Load:    func(i int) (quarry.Chunk, error) { return chunks[i], nil },
		Release: func() {},
	}
}

// snapshotRanking is the ranking of docs, the top documents of snap:
// their chunk IDs (kept uncompressed in front of the stored fields, so
// reading them decompresses nothing) and scores, best first; Load reads
// a chunk from snap, which Release closes.
func snapshotRanking(snap *scorch.IndexSnapshot, docs []scoredDoc) (index.Ranking, error) {
	segs := snap.Segments()
	offsets := segmentOffsets(segs)
	type ranked struct {
		hit index.Hit
		num uint64
	}
	rs := make([]ranked, len(docs))
	for i, d := range docs {
		seg, local, err := locate(offsets, d.num)
		if err != nil {
			return index.Ranking{}, err
		}
		id, err := segs[seg].DocID(local)
		if err != nil {
			return index.Ranking{}, err
		}
		if id == nil {
			return index.Ranking{}, fmt.Errorf("document number %d has no ID", d.num)
		}
		rs[i] = ranked{hit: index.Hit{Chunk: quarry.Chunk{ID: string(id)}, Score: d.score}, num: d.num}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return hitOrder(a.hit, b.hit) })
	hits := make([]index.Hit, len(rs))
	order := make([]uint64, len(rs))
	for i, r := range rs {
		hits[i], order[i] = r.hit, r.num
	}
	var once sync.Once
	return index.Ranking{
		Hits: hits,
		Load: func(i int) (quarry.Chunk, error) {
			if i < 0 || i >= len(order) {
				return quarry.Chunk{}, quarry.Errorf(quarry.CodeInvalid, "bleveindex: no hit %d of %d", i, len(order))
			}
			c, err := loadDoc(segs, offsets, order[i])
			if err != nil {
				return quarry.Chunk{}, translate("search", err)
			}
			return c, nil
		},
		Release: func() { once.Do(func() { _ = snap.Close() }) },
	}, nil
}

// searchBleve is search through bleve's searcher and collector, for
// readers other than a scorch snapshot with cached lengths.
func (ix *Index) searchBleve(ctx context.Context, r bindex.IndexReader, terms []queryTerm, s Scoring, k int) ([]index.Hit, error) {
	// Sorting every candidate by ID would load each one's ID; instead
	// ask for one hit more than needed: if it scores below the k-th, the
	// top k are settled and only need sorting; if it ties, search again
	// sorted by ID.
	q := &bm25Query{terms: terms, scoring: s, lens: &ix.lens}
	found, err := ix.collect(ctx, r, q, k+1, false)
	if err != nil {
		return nil, translate("search", err)
	}
	if len(found) > k && found[k].Score == found[k-1].Score {
		if found, err = ix.collect(ctx, r, q, k, true); err != nil {
			return nil, translate("search", err)
		}
	}
	found = found[:min(k, len(found))]
	hits, err := loadChunks(r, found)
	if err != nil {
		return nil, translate("search", err)
	}
	return hits, nil
}

// collect runs q on r and returns the top size hits by score (then by
// chunk ID when byID), with their IDs.
func (ix *Index) collect(ctx context.Context, r bindex.IndexReader, q *bm25Query, size int, byID bool) (search.DocumentMatchCollection, error) {
	sr, err := q.Searcher(ctx, r, ix.idx.Mapping(), search.SearcherOptions{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = sr.Close() }()
	order := search.SortOrder{&search.SortScore{Desc: true}}
	if byID {
		order = append(order, &search.SortDocID{})
	}
	coll := collector.NewTopNCollector(size, 0, order)
	if err := coll.Collect(ctx, sr, r); err != nil {
		return nil, err
	}
	return coll.Results(), nil
}

// loadChunks rebuilds the chunks of hits from their stored fields. On a
// scorch snapshot it visits each hit's stored fields in its segment
// directly; any other reader goes through Document.
func loadChunks(r bindex.IndexReader, found search.DocumentMatchCollection) ([]index.Hit, error) {
	hits := make([]index.Hit, 0, len(found))
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		for _, h := range found {
			d, err := r.Document(h.ID)
			if err != nil {
				return nil, err
			}
			f := map[string]any{}
			if d != nil {
				d.VisitFields(func(fl bindex.Field) {
					switch v := fl.(type) {
					case bindex.TextField:
						f[fl.Name()] = v.Text()
					case bindex.NumericField:
						f[fl.Name()], _ = v.Number()
					}
				})
			}
			hits = append(hits, index.Hit{Chunk: chunkFromFields(h.ID, f), Score: h.Score})
		}
		return hits, nil
	}
	docs := make([]scoredDoc, len(found))
	for i, h := range found {
		docs[i] = scoredDoc{num: h.IndexInternalID.Value(), score: h.Score}
	}
	return loadDocs(snap, docs)
}

// loadDocs rebuilds the chunks of documents of snap from their stored
// fields, visiting each in its segment.
func loadDocs(snap *scorch.IndexSnapshot, docs []scoredDoc) ([]index.Hit, error) {
	hits := make([]index.Hit, 0, len(docs))
	segs := snap.Segments()
	offsets := segmentOffsets(segs)
	for _, h := range docs {
		c, err := loadDoc(segs, offsets, h.num)
		if err != nil {
			return nil, err
		}
		hits = append(hits, index.Hit{Chunk: c, Score: h.score})
	}
	return hits, nil
}

// segmentOffsets returns the first document number of each segment.
func segmentOffsets(segs []*scorch.SegmentSnapshot) []uint64 {
	offsets := make([]uint64, len(segs))
	var running uint64
	for i, sg := range segs {
		offsets[i] = running
		running += sg.Segment().Count()
	}
	return offsets
}

// locate returns the segment of document number num and its number
// within that segment.
func locate(offsets []uint64, num uint64) (seg int, local uint64, err error) {
	i := sort.Search(len(offsets), func(x int) bool { return offsets[x] > num }) - 1
	if i < 0 {
		return 0, 0, fmt.Errorf("document number %d is in no segment", num)
	}
	return i, num - offsets[i], nil
}

// loadDoc rebuilds the chunk of document number num from its stored
// fields.
func loadDoc(segs []*scorch.SegmentSnapshot, offsets []uint64, num uint64) (quarry.Chunk, error) {
	i, local, err := locate(offsets, num)
	if err != nil {
		return quarry.Chunk{}, err
	}
	var c quarry.Chunk
	var bad error
	err = segs[i].VisitDocument(local, func(field string, typ byte, val []byte, _ []uint64) bool {
		if typ == 'n' {
			n, err := numeric.PrefixCoded(val).Int64()
			if err != nil {
				bad = fmt.Errorf("chunk %q: field %s: %w", c.ID, field, err)
				return false
			}
			v := int(numeric.Int64ToFloat64(n))
			switch field {
			case fieldPage:
				c.Page = v
			case fieldOrdinal:
				c.Ordinal = v
			case fieldTokens:
				c.Tokens = v
			}
			return true
		}
		if typ != 't' {
			return true
		}
		switch field {
		case "_id":
			c.ID = string(val)
		case fieldText:
			c.Text = string(val)
		case fieldTitle:
			c.Title = string(val)
		case fieldHeading:
			c.Heading = string(val)
		case fieldDocID:
			c.DocID = string(val)
		case fieldPath:
			c.Path = string(val)
		case fieldLang:
			c.Lang = string(val)
		}
		return true
	})
	if err == nil {
		err = bad
	}
	return c, err
}

// queryTerms analyses a query into distinct terms with their counts, in
// order of first appearance.
func (ix *Index) queryTerms(q string) []queryTerm {
	tokens := ix.query.Analyze([]byte(q))
	at := make(map[string]int, len(tokens))
	terms := make([]queryTerm, 0, len(tokens))
	for _, t := range tokens {
		if len(t.Term) == 0 {
			continue
		}
		if i, ok := at[string(t.Term)]; ok {
			terms[i].qtf++
			continue
		}
		if len(terms) == ix.cfg.MaxQueryTerms {
			continue
		}
		at[string(t.Term)] = len(terms)
		terms = append(terms, queryTerm{term: string(t.Term), qtf: 1})
	}
	return terms
}

// ctxError classifies a context error.
func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return quarry.Errorf(quarry.CodeTimeout, "bleveindex: %w", err)
	}
	return quarry.Errorf(quarry.CodeCanceled, "bleveindex: %w", err)
}

// translate turns a bleve error into a coded one.
func translate(op string, err error) error {
	var qe *quarry.Error
	switch {
	case errors.As(err, &qe):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ctxError(err)
	case errors.Is(err, bleve.ErrorIndexClosed):
		return quarry.Errorf(quarry.CodeUnavailable, "bleveindex: %s: %w", op, err)
	}
	return quarry.Errorf(quarry.CodeInternal, "bleveindex: %s: %w", op, err)
}

// reader opens a snapshot reader of the underlying index.
func (ix *Index) reader() (bindex.IndexReader, error) {
	adv, err := ix.idx.Advanced()
	if err != nil {
		return nil, err
	}
	return adv.Reader()
}

// Known reports, for each word, whether the index holds it: whether any
// chunk's text, title or heading has a term the word analyses to. A
// word that analyses to nothing (a stop word, punctuation) is known.
// Answerers use it to notice a question about something the knowledge
// base never mentions (see generate.Vocabulary).
func (ix *Index) Known(ctx context.Context, words []string) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	if err := ix.acquire(); err != nil {
		return nil, err
	}
	defer ix.mu.RUnlock()
	r, err := ix.reader()
	if err != nil {
		return nil, translate("known", err)
	}
	defer func() { _ = r.Close() }()
	out := make([]bool, len(words))
	for i, w := range words {
		tokens := ix.terms.Analyze([]byte(w))
		out[i] = len(tokens) == 0
		for _, t := range tokens {
			if out[i] {
				break
			}
			for _, f := range searchFields {
				n, err := termCount(ctx, r, t.Term, f)
				if err != nil {
					return nil, translate("known", err)
				}
				if n > 0 {
					out[i] = true
					break
				}
			}
		}
	}
	return out, nil
}

// termCount is the number of live chunks whose field f holds term.
func termCount(ctx context.Context, r bindex.IndexReader, term []byte, f string) (uint64, error) {
	tfr, err := r.TermFieldReader(ctx, term, f, false, false, false)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tfr.Close() }()
	return tfr.Count(), nil
}
