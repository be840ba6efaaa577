package bleveindex

import (
	"github.com/blevesearch/bleve/v2/analysis"

	"github.com/quarry-kb/quarry"
)

// QueryTerms returns a function that turns text into the terms a query
// for it searches, with the analysis settings a (zero fields mean the
// defaults): the same width folding, stop words, stemming and CJK
// bigrams as retrieval. Packages that match text outside the index
// (curated answers, blocked topics) use it so that a phrasing matches
// them exactly when it would match a passage. The function is safe for
// concurrent use.
func QueryTerms(a Analyzer) (func(text string) []string, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	m, err := newMapping(a.withDefaults())
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInternal, "bleveindex: %w", err)
	}
	an := m.AnalyzerNamed(queryAnalyzer)
	if an == nil {
		return nil, quarry.Errorf(quarry.CodeInternal, "bleveindex: mapping lacks the query analyser")
	}
	return func(text string) []string { return tokenTerms(an, text) }, nil
}

// QueryTerms analyses text as the index analyses queries.
func (ix *Index) QueryTerms(text string) []string { return tokenTerms(ix.query, text) }

func tokenTerms(an analysis.Analyzer, text string) []string {
	ts := an.Analyze([]byte(text))
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, string(t.Term))
	}
	return out
}
