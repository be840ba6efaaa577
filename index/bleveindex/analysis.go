package bleveindex

import (
	"bytes"
	"fmt"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	"github.com/blevesearch/bleve/v2/analysis/token/stop"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/analysis/tokenmap"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/hanfold"
)

// Analysis settings. They decide which terms are indexed, so they are
// fixed when an index is created and stored in it; opening an index with
// different settings is quarry.ErrConflict (rebuild the index instead).
const (
	StemmerPorter   = "porter"   // original Porter algorithm (Lucene's PorterStemFilter); the default
	StemmerSnowball = "snowball" // Snowball English ("Porter2")
	StemmerNone     = "none"

	StopLucene   = "lucene"   // Lucene's 33-word English stop set (EnglishAnalyzer); the default
	StopSnowball = "snowball" // the Snowball English list (about 170 words, bleve's stop_en)
	StopNone     = "none"

	// CJKBigramUnigram indexes every CJK character and every pair of
	// adjacent characters, and queries with pairs only (a lone character
	// in a query is searched as itself). Multi-character queries score as
	// with bigrams alone; single-character queries still find text where
	// the character sits inside a word. The default.
	CJKBigramUnigram = "bigram+unigram"
	// CJKBigram indexes pairs only (Lucene's CJKAnalyzer): a smaller index,
	// but a one-character query only finds the character where it stands
	// alone in the text.
	CJKBigram = "bigram"
)

// Analyzer chooses how English and CJK text are turned into terms. The
// zero value means the defaults for a new index, and "whatever the index
// was built with" when opening an existing one; a field that is set must
// match the index.
type Analyzer struct {
	Stemmer   string `json:"stemmer"`    // StemmerPorter (default), StemmerSnowball or StemmerNone
	StopWords string `json:"stop_words"` // StopLucene (default), StopSnowball or StopNone
	CJK       string `json:"cjk"`        // CJKBigramUnigram (default) or CJKBigram
}

func (a Analyzer) withDefaults() Analyzer {
	if a.Stemmer == "" {
		a.Stemmer = StemmerPorter
	}
	if a.StopWords == "" {
		a.StopWords = StopLucene
	}
	if a.CJK == "" {
		a.CJK = CJKBigramUnigram
	}
	return a
}

// fill takes unset fields from the settings an index was built with.
func (a Analyzer) fill(stored Analyzer) Analyzer {
	if a.Stemmer == "" {
		a.Stemmer = stored.Stemmer
	}
	if a.StopWords == "" {
		a.StopWords = stored.StopWords
	}
	if a.CJK == "" {
		a.CJK = stored.CJK
	}
	return a
}

func (a Analyzer) validate() error {
	switch a.Stemmer {
	case "", StemmerPorter, StemmerSnowball, StemmerNone:
	default:
		return quarry.Errorf(quarry.CodeInvalid, "bleveindex: unknown stemmer %q (want %q, %q or %q)",
			a.Stemmer, StemmerPorter, StemmerSnowball, StemmerNone)
	}
	switch a.StopWords {
	case "", StopLucene, StopSnowball, StopNone:
	default:
		return quarry.Errorf(quarry.CodeInvalid, "bleveindex: unknown stop word list %q (want %q, %q or %q)",
			a.StopWords, StopLucene, StopSnowball, StopNone)
	}
	switch a.CJK {
	case "", CJKBigramUnigram, CJKBigram:
	default:
		return quarry.Errorf(quarry.CodeInvalid, "bleveindex: unknown CJK mode %q (want %q or %q)",
			a.CJK, CJKBigramUnigram, CJKBigram)
	}
	return nil
}

// luceneStopWords is Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, the
// list behind the published BM25 baselines (Anserini/Pyserini).
var luceneStopWords = []string{
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
	"into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the",
	"their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
}

// Names of the analysis components defined in the index mapping. They are
// stored with the mapping, so they are part of the on-disk format.
const (
	indexAnalyzer  = "quarry_index"
	queryAnalyzer  = "quarry_query"
	stopMapLucene  = "quarry_stop_lucene"
	stopLucene     = "quarry_stop"
	bigramUnigrams = "quarry_cjk_bigram_unigram"
	bigramOnly     = "quarry_cjk_bigram"
	// hanFold folds traditional Chinese characters into simplified ones
	// (see internal/hanfold), before bigramming. Indexes created before
	// it existed keep their stored analysers, without it.
	hanFold = "quarry_han_fold"
)

func init() {
	registry.RegisterTokenFilter(hanFold, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return hanFoldFilter{}, nil
	})
}

// hanFoldFilter replaces each traditional Chinese character of a token
// by its simplified form.
type hanFoldFilter struct{}

func (hanFoldFilter) Filter(input analysis.TokenStream) analysis.TokenStream {
	for _, tok := range input {
		if tok.Type != analysis.Ideographic {
			continue
		}
		rs := bytes.Runes(tok.Term)
		changed := false
		for i, r := range rs {
			if f := hanfold.FoldRune(r); f != r {
				rs[i], changed = f, true
			}
		}
		if changed {
			tok.Term = analysis.BuildTermFromRunes(rs)
		}
	}
	return input
}

// Field names in the bleve documents.
const (
	fieldText    = "text"
	fieldTitle   = "title"
	fieldHeading = "heading"
	fieldDocID   = "doc_id"
	fieldPath    = "path"
	fieldPage    = "page"
	fieldOrdinal = "ordinal"
	fieldTokens  = "tokens"
	fieldLang    = "lang"
	// fieldLens holds "text title heading" analysed lengths as one keyword
	// term with doc values: BM25F needs every field's length of a matching
	// chunk, also of fields the query terms do not occur in.
	fieldLens = "lens"
)

// searchFields are the analysed fields, in the order of lens.
var searchFields = [...]string{fieldText, fieldTitle, fieldHeading}

// newMapping builds the index mapping: the analysers for a (defaulted)
// Analyzer and a static document mapping for chunks.
func newMapping(a Analyzer) (*mapping.IndexMappingImpl, error) {
	im := mapping.NewIndexMapping()
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false

	if err := im.AddCustomTokenMap(stopMapLucene, map[string]any{
		"type":   tokenmap.Name,
		"tokens": toAny(luceneStopWords),
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomTokenFilter(stopLucene, map[string]any{
		"type":           stop.Name,
		"stop_token_map": stopMapLucene,
	}); err != nil {
		return nil, err
	}
	for name, uni := range map[string]bool{bigramUnigrams: true, bigramOnly: false} {
		if err := im.AddCustomTokenFilter(name, map[string]any{
			"type":           cjk.BigramName,
			"output_unigram": uni,
		}); err != nil {
			return nil, err
		}
	}

	// The order follows Lucene's EnglishAnalyzer (possessive, lower case,
	// stop, stem) with CJKAnalyzer's width folding (and traditional to
	// simplified folding) first and bigramming last, so stemmers only ever see whole words and single CJK runes
	// (which they leave alone).
	filters := []string{cjk.WidthName, hanFold, en.PossessiveName, lowercase.Name}
	switch a.StopWords {
	case StopLucene:
		filters = append(filters, stopLucene)
	case StopSnowball:
		filters = append(filters, en.StopName)
	}
	switch a.Stemmer {
	case StemmerPorter:
		filters = append(filters, porter.Name)
	case StemmerSnowball:
		filters = append(filters, en.SnowballStemmerName)
	}
	indexBigram := bigramUnigrams
	if a.CJK == CJKBigram {
		indexBigram = bigramOnly
	}
	for name, last := range map[string]string{indexAnalyzer: indexBigram, queryAnalyzer: bigramOnly} {
		if err := im.AddCustomAnalyzer(name, map[string]any{
			"type":          custom.Name,
			"tokenizer":     unicode.Name,
			"token_filters": toAny(append(filters[:len(filters):len(filters)], last)),
		}); err != nil {
			return nil, err
		}
	}
	im.DefaultAnalyzer = indexAnalyzer

	doc := mapping.NewDocumentStaticMapping()
	for _, f := range searchFields {
		fm := mapping.NewTextFieldMapping()
		fm.Analyzer = indexAnalyzer
		fm.Store = true
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		fm.DocValues = false
		doc.AddFieldMappingsAt(f, fm)
	}
	keywordField := func(store, docValues bool) *mapping.FieldMapping {
		fm := mapping.NewKeywordFieldMapping()
		fm.Analyzer = keyword.Name
		fm.Store = store
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		fm.DocValues = docValues
		return fm
	}
	doc.AddFieldMappingsAt(fieldDocID, keywordField(true, false))
	doc.AddFieldMappingsAt(fieldLens, keywordField(true, true))
	for _, f := range []string{fieldPath, fieldLang} {
		fm := keywordField(true, false)
		fm.Index = false
		doc.AddFieldMappingsAt(f, fm)
	}
	for _, f := range []string{fieldPage, fieldOrdinal, fieldTokens} {
		fm := mapping.NewNumericFieldMapping()
		fm.Index = false
		fm.Store = true
		fm.IncludeInAll = false
		fm.DocValues = false
		doc.AddFieldMappingsAt(f, fm)
	}
	im.DefaultMapping = doc
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("bleveindex: mapping: %w", err)
	}
	return im, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
