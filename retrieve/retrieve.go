// Package retrieve is Quarry's hybrid retriever: it runs the keyword
// (BM25) leg and the vector leg of a query in parallel under one time
// budget, fuses their ranked lists (normalised score fusion or
// reciprocal rank fusion, both pure functions in fusion.go), caps how
// many passages one document may contribute, and can explain every
// fused score. A leg that fails degrades the result to the other leg
// with a note instead of failing the search.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// KeywordSearcher is the keyword leg (index.KeywordIndex satisfies it).
type KeywordSearcher interface {
	Search(ctx context.Context, query string, k int) ([]index.Hit, error)
}

// VectorSearcher is the vector leg (index.VectorStore satisfies it).
type VectorSearcher interface {
	Search(ctx context.Context, v index.Vector, k int, f index.Filter) ([]index.Hit, error)
}

// QueryEmbedder turns the query into a vector for the vector leg
// (index.Embedder satisfies it).
type QueryEmbedder interface {
	EmbedQuery(ctx context.Context, text string) (index.Vector, error)
}

// Defaults for the zero Config.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultCandidateK = 100
	// DefaultMaxPerDoc is -1, no cap: on the sample help centre a cap
	// of 3 passages per document lost the right passage for 4 of 153
	// questions at rank 5 and 8 at rank 10 (136 and 140 found, against
	// 140 and 148 uncapped), and on the DolphinScheduler guide 2 of 35
	// at rank 5, mostly FAQ pages whose many entries each answer
	// something else (BENCHMARKS.md). Document-level callers set 1.
	DefaultMaxPerDoc     = -1
	DefaultK             = 10
	DefaultMaxK          = 100
	DefaultMaxQueryChars = 4000
	DefaultKeywordWeight = 0.6
	DefaultVectorWeight  = 0.4
)

// Config tunes a Retriever. The zero value of every field means its
// default.
type Config struct {
	// Timeout is the budget of one query, both legs included (query
	// embedding too). A leg still running when it expires is abandoned
	// and reported as failed. Default 5s.
	Timeout time.Duration
	// CandidateK is how many hits each leg is asked for before fusion.
	// More candidates let a chunk that only one leg ranks highly
	// surface, at the cost of time. Raised to the request's K when
	// smaller. Default 100.
	CandidateK int
	// MaxPerDoc caps how many passages of one document a result may
	// hold, so that one long document cannot crowd out the others.
	// Default none (DefaultMaxPerDoc); negative also means no cap.
	MaxPerDoc int
	// DefaultK is the number of passages returned when a request leaves
	// K at 0. Default 10.
	DefaultK int
	// MaxK is the largest K a request may ask for; a larger K is
	// rejected with quarry.ErrTooLarge (not clamped, so the caller knows
	// it got fewer than it asked for). Default 100.
	MaxK int
	// MaxQueryChars is the longest query accepted, in characters
	// (runes); a longer one is quarry.ErrTooLarge. Default 4000.
	MaxQueryChars int
	// Fusion is MethodWeighted (default) or MethodRRF.
	Fusion string
	// KeywordWeight and VectorWeight weigh the legs in hybrid fusion
	// (both methods). Defaults 0.6 and 0.4. To use one leg alone, ask
	// for ModeKeyword or ModeVector rather than zeroing a weight (zero
	// means default); negative weights are rejected.
	KeywordWeight float64
	VectorWeight  float64
	// RRFK is the rank constant of reciprocal rank fusion. Default 60.
	RRFK float64
}

// withDefaults returns c with every zero field set to its default, and
// an error if a field is out of range.
func (c Config) withDefaults() (Config, error) {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.CandidateK == 0 {
		c.CandidateK = DefaultCandidateK
	}
	if c.MaxPerDoc == 0 {
		c.MaxPerDoc = DefaultMaxPerDoc
	}
	if c.DefaultK == 0 {
		c.DefaultK = DefaultK
	}
	if c.MaxK == 0 {
		c.MaxK = DefaultMaxK
	}
	if c.MaxQueryChars == 0 {
		c.MaxQueryChars = DefaultMaxQueryChars
	}
	if c.Fusion == "" {
		c.Fusion = MethodWeighted
	}
	if c.KeywordWeight == 0 {
		c.KeywordWeight = DefaultKeywordWeight
	}
	if c.VectorWeight == 0 {
		c.VectorWeight = DefaultVectorWeight
	}
	if c.RRFK == 0 {
		c.RRFK = DefaultRRFK
	}
	var errs []string
	if c.Timeout < 0 {
		errs = append(errs, fmt.Sprintf("Timeout %v is negative", c.Timeout))
	}
	if c.CandidateK < 0 || c.DefaultK < 0 || c.MaxK < 0 || c.MaxQueryChars < 0 {
		errs = append(errs, "CandidateK, DefaultK, MaxK and MaxQueryChars must not be negative")
	}
	if c.DefaultK > c.MaxK {
		errs = append(errs, fmt.Sprintf("DefaultK %d is above MaxK %d", c.DefaultK, c.MaxK))
	}
	if c.Fusion != MethodWeighted && c.Fusion != MethodRRF {
		errs = append(errs, fmt.Sprintf("unknown Fusion %q (want %q or %q)", c.Fusion, MethodWeighted, MethodRRF))
	}
	if c.KeywordWeight < 0 || c.VectorWeight < 0 || c.RRFK < 0 {
		errs = append(errs, "KeywordWeight, VectorWeight and RRFK must not be negative")
	}
	if len(errs) > 0 {
		return c, quarry.Errorf(quarry.CodeInvalid, "retrieve: bad config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// Validate reports whether c is usable (quarry.ErrInvalid if not), so
// that wiring code can fail at start-up rather than on the first query.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// Retriever answers searches by fusing a keyword and a vector leg. It is
// safe for concurrent use if its legs are.
type Retriever struct {
	cfg    Config
	cfgErr error // returned by every Search when the Config is invalid
	kw     KeywordSearcher
	kwr    index.RankingIndex // kw, when it can rank before reading chunks
	vs     VectorSearcher
	emb    QueryEmbedder
}

// New returns a Retriever over the given legs. kw may be nil (no keyword
// leg); vs or emb nil means no vector leg. A hybrid search over a
// retriever with one leg missing returns that leg's results with a note.
// An invalid cfg makes every Search fail with quarry.ErrInvalid; call
// cfg.Validate first to catch it early.
func New(cfg Config, kw KeywordSearcher, vs VectorSearcher, emb QueryEmbedder) *Retriever {
	c, err := cfg.withDefaults()
	r := &Retriever{cfg: c, cfgErr: err, kw: kw, vs: vs, emb: emb}
	r.kwr, _ = kw.(index.RankingIndex)
	if vs == nil || emb == nil {
		r.vs, r.emb = nil, nil
	}
	return r
}

// legResult is what one leg's goroutine reports.
type legResult struct {
	leg  string
	hits []index.Hit
	// load reads the whole chunk of hits[i] when the leg returned chunk
	// IDs only (an index.Ranking); nil when hits are whole.
	load    func(i int) (quarry.Chunk, error)
	release func() // lets go of what load reads from; nil if nothing
	err     error
}

// free releases what the leg holds, once.
func (l *legResult) free() {
	if l.release != nil {
		l.release()
		l.release = nil
	}
}

// Search returns the K passages that best match req.Query.
//
// Errors: an empty or invalid-UTF-8 query, a negative K or an unknown
// mode is quarry.ErrInvalid; a query or K over its limit is
// quarry.ErrTooLarge; a mode whose leg is not configured is
// quarry.ErrUnsupported; when every leg used fails the error is
// quarry.ErrUnavailable (quarry.ErrTimeout if they all ran out of
// time), wrapping each leg's error; a canceled ctx is quarry.ErrCanceled.
func (r *Retriever) Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error) {
	if r.cfgErr != nil {
		return quarry.SearchResult{}, r.cfgErr
	}
	q := strings.TrimSpace(req.Query)
	switch {
	case !utf8.ValidString(q):
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeInvalid, "retrieve: query is not valid UTF-8")
	case q == "":
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeInvalid, "retrieve: empty query")
	case utf8.RuneCountInString(q) > r.cfg.MaxQueryChars:
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeTooLarge, "retrieve: query is %d characters, the limit is %d",
			utf8.RuneCountInString(q), r.cfg.MaxQueryChars)
	case req.K < 0:
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeInvalid, "retrieve: k is %d, must be positive", req.K)
	case req.K > r.cfg.MaxK:
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeTooLarge, "retrieve: k is %d, the limit is %d", req.K, r.cfg.MaxK)
	}
	k := req.K
	if k == 0 {
		k = r.cfg.DefaultK
	}

	mode := req.Mode
	if mode == "" {
		mode = quarry.ModeHybrid
	}
	var notes []string
	useKW, useVec := false, false
	switch mode {
	case quarry.ModeHybrid:
		useKW, useVec = r.kw != nil, r.vs != nil
		switch {
		case !useKW && !useVec:
			return quarry.SearchResult{}, quarry.Errorf(quarry.CodeUnsupported, "retrieve: no retrieval leg is configured")
		case !useKW:
			notes = append(notes, "keyword leg not configured; results are vector-only")
		case !useVec:
			notes = append(notes, "vector leg not configured; results are keyword-only")
		}
	case quarry.ModeKeyword:
		if r.kw == nil {
			return quarry.SearchResult{}, quarry.Errorf(quarry.CodeUnsupported, "retrieve: keyword search is not configured")
		}
		useKW = true
	case quarry.ModeVector:
		if r.vs == nil {
			return quarry.SearchResult{}, quarry.Errorf(quarry.CodeUnsupported, "retrieve: vector search is not configured")
		}
		useVec = true
	default:
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeInvalid, "retrieve: unknown mode %q (want %q, %q or %q)",
			req.Mode, quarry.ModeHybrid, quarry.ModeKeyword, quarry.ModeVector)
	}

	kwRes, vecRes, err := r.runLegs(ctx, q, max(r.cfg.CandidateK, k), useKW, useVec)
	if err != nil {
		return quarry.SearchResult{}, err
	}
	defer kwRes.free()

	var legs []Leg
	// The keyword leg's hits carry IDs only when it ranked them without
	// reading their chunks (kwRes.load reads them).
	kwLeg := func(weight float64) Leg {
		return Leg{Name: LegKeyword, Weight: weight, Hits: kwRes.hits, idsOnly: kwRes.load != nil}
	}
	switch {
	case useKW && useVec:
		switch {
		case kwRes.err == nil && vecRes.err == nil:
			legs = []Leg{
				kwLeg(r.cfg.KeywordWeight),
				{Name: LegVector, Weight: r.cfg.VectorWeight, Hits: vecRes.hits},
			}
		case kwRes.err == nil:
			notes = append(notes, fmt.Sprintf("vector leg failed: %v; results are keyword-only", vecRes.err))
			legs = []Leg{kwLeg(1)}
		case vecRes.err == nil:
			notes = append(notes, fmt.Sprintf("keyword leg failed: %v; results are vector-only", kwRes.err))
			legs = []Leg{{Name: LegVector, Weight: 1, Hits: vecRes.hits}}
		default:
			return quarry.SearchResult{}, allFailed(kwRes, vecRes)
		}
	case useKW:
		if kwRes.err != nil {
			return quarry.SearchResult{}, allFailed(kwRes)
		}
		legs = []Leg{kwLeg(1)}
	default:
		if vecRes.err != nil {
			return quarry.SearchResult{}, allFailed(vecRes)
		}
		legs = []Leg{{Name: LegVector, Weight: 1, Hits: vecRes.hits}}
	}

	var fs []fused
	if r.cfg.Fusion == MethodRRF {
		fs = fuse(legs, rrfTerms(r.cfg.RRFK))
	} else {
		fs = fuse(legs, weightedTerms)
	}
	fs, err = capPerDoc(fs, r.cfg.MaxPerDoc, k, func(f *fused) error {
		if !legs[f.leg].idsOnly {
			return nil
		}
		if f.whole != nil {
			// The vector leg holds the same chunk, written by the same
			// batch: no need to read it from the keyword index.
			*f.chunk = *f.whole
			return nil
		}
		c, err := kwRes.load(f.hit)
		if err != nil {
			return err
		}
		if c.ID != f.chunk.ID {
			return fmt.Errorf("%s leg: read chunk %q for hit %q", legs[f.leg].Name, c.ID, f.chunk.ID)
		}
		*f.chunk = c
		return nil
	})
	if err != nil {
		return quarry.SearchResult{}, quarry.Errorf(quarry.CodeUnavailable, "retrieve: %w", err)
	}
	res := quarry.SearchResult{Passages: make([]quarry.Passage, len(fs)), Notes: notes}
	for i, f := range fs {
		res.Passages[i] = quarry.Passage{Chunk: *f.chunk, Score: f.score}
		if req.Explain {
			res.Passages[i].Explain = explain(r.cfg.Fusion, r.cfg.RRFK, f)
		}
	}
	return res, nil
}

// runLegs runs the chosen legs in parallel under the query budget. A
// leg's failure is recorded in its legResult and never cancels the
// other leg. A leg that has not answered when the budget expires is
// abandoned: it finishes on its own, and what it holds is released when
// it reports. The returned error is set only when the caller's ctx
// itself is done.
func (r *Retriever) runLegs(ctx context.Context, q string, cand int, useKW, useVec bool) (kwRes, vecRes legResult, err error) {
	bctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()

	ch := make(chan legResult, 2)
	pending := map[string]bool{}
	if useKW {
		pending[LegKeyword] = true
		go runLeg(bctx, ch, LegKeyword, func(ctx context.Context, res *legResult) (err error) {
			if r.kwr == nil {
				res.hits, err = r.kw.Search(ctx, q, cand)
				return err
			}
			rk, err := r.kwr.SearchRanking(ctx, q, cand)
			if err != nil {
				return err
			}
			res.hits, res.load, res.release = rk.Hits, rk.Load, rk.Release
			return nil
		})
	}
	if useVec {
		pending[LegVector] = true
		go runLeg(bctx, ch, LegVector, func(ctx context.Context, res *legResult) error {
			v, err := r.emb.EmbedQuery(ctx, q)
			if err != nil {
				return fmt.Errorf("embed query: %w", err)
			}
			res.hits, err = r.vs.Search(ctx, v, cand, index.Filter{})
			return err
		})
	}

	got := map[string]legResult{}
	abandoned := 0
	defer func() {
		if err != nil {
			for _, res := range got {
				res.free()
			}
		}
		if abandoned > 0 {
			// The abandoned legs still report on ch.
			go func() {
				for range abandoned {
					res := <-ch
					res.free()
				}
			}()
		}
	}()
	for len(pending) > 0 {
		select {
		case res := <-ch:
			delete(pending, res.leg)
			got[res.leg] = res
		case <-bctx.Done():
			abandoned = len(pending)
			if cerr := ctx.Err(); cerr != nil {
				return legResult{}, legResult{}, ctxError(cerr)
			}
			for leg := range pending {
				got[leg] = legResult{leg: leg, err: quarry.Errorf(quarry.CodeTimeout, "no answer within %v", r.cfg.Timeout)}
			}
			clear(pending)
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return legResult{}, legResult{}, ctxError(cerr)
	}
	for leg, res := range got {
		if res.err != nil && errors.Is(res.err, context.DeadlineExceeded) && bctx.Err() != nil {
			// The leg noticed the budget itself; say so plainly.
			res.err = quarry.Errorf(quarry.CodeTimeout, "no answer within %v: %w", r.cfg.Timeout, res.err)
			got[leg] = res
		}
	}
	return got[LegKeyword], got[LegVector], nil
}

// runLeg runs one leg, turning a panic into an error, and always
// reports on ch.
func runLeg(ctx context.Context, ch chan<- legResult, leg string, search func(context.Context, *legResult) error) {
	res := legResult{leg: leg}
	defer func() {
		if p := recover(); p != nil {
			res.free()
			res.hits, res.load, res.err = nil, nil, quarry.Errorf(quarry.CodeInternal, "panic: %v", p)
		}
		ch <- res
	}()
	if res.err = search(ctx, &res); res.err != nil {
		res.free()
		res.hits, res.load = nil, nil
	}
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return quarry.Errorf(quarry.CodeTimeout, "retrieve: %w", err)
	}
	return quarry.Errorf(quarry.CodeCanceled, "retrieve: %w", err)
}

// allFailed is the error of a search whose every leg failed: with two
// legs, ErrUnavailable wrapping both errors (ErrTimeout when both ran
// out of time); with one, that leg's own code when it has one (say
// ErrInvalid for a query the keyword index cannot parse), else
// ErrUnavailable.
func allFailed(legs ...legResult) error {
	if len(legs) == 1 {
		l := legs[0]
		var qe *quarry.Error
		if errors.As(l.err, &qe) {
			return &quarry.Error{Code: qe.Code, Message: fmt.Sprintf("retrieve: %s leg: %v", l.leg, l.err), Err: l.err}
		}
		return quarry.Errorf(quarry.CodeUnavailable, "retrieve: %s leg: %w", l.leg, l.err)
	}
	code := quarry.CodeTimeout
	parts := make([]string, len(legs))
	errs := make([]error, len(legs))
	for i, l := range legs {
		if quarry.ErrorCode(l.err) != quarry.CodeTimeout {
			code = quarry.CodeUnavailable
		}
		parts[i] = fmt.Sprintf("%s leg: %v", l.leg, l.err)
		errs[i] = l.err
	}
	return &quarry.Error{
		Code:    code,
		Message: "retrieve: every leg failed: " + strings.Join(parts, "; "),
		Err:     errors.Join(errs...),
	}
}

// capPerDoc keeps fs's order, drops passages beyond maxPerDoc per
// document (maxPerDoc < 0: no cap), and stops at k passages. load reads
// the whole chunk of a passage whose leg returned its ID only; it is
// called for the passages kept and, with a cap, those it looks at.
func capPerDoc(fs []fused, maxPerDoc, k int, load func(*fused) error) ([]fused, error) {
	out := fs[:0:0]
	perDoc := map[string]int{}
	for i := range fs {
		if len(out) == k {
			break
		}
		f := &fs[i]
		if err := load(f); err != nil {
			return nil, err
		}
		if maxPerDoc >= 0 && perDoc[f.chunk.DocID] >= maxPerDoc {
			continue
		}
		perDoc[f.chunk.DocID]++
		out = append(out, *f)
	}
	return out, nil
}
