package charngram_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/memvec"
)

var docs = map[string]string{
	"refund":   "Refund policy: customers can request a refund within 30 days of purchase.",
	"shipping": "Shipping takes five business days; international shipping may take longer.",
	"password": "To reset your password, open Settings and choose Security.",
	"invoice":  "Invoices are emailed monthly and can be downloaded from the billing page.",
	"warranty": "The hardware warranty covers manufacturing defects for two years.",
	"zh-退款":    "退款政策：购买后三十天内可以申请退款。",
	"zh-配送":    "配送通常需要五个工作日，国际配送时间更长。",
}

// index builds an in-memory store of docs, one chunk each.
func buildIndex(t testing.TB) (*charngram.Embedder, *memvec.Store) {
	t.Helper()
	ctx := context.Background()
	e, err := charngram.New(charngram.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := memvec.Open("", e.Space(), memvec.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ids, texts []string
	for id, text := range docs {
		ids = append(ids, id)
		texts = append(texts, text)
	}
	vs, err := e.EmbedPassages(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]index.Record, len(ids))
	for i, id := range ids {
		recs[i] = index.Record{Chunk: quarry.Chunk{ID: id + "#0", DocID: id, Text: texts[i]}, Vector: vs[i]}
	}
	if err := s.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return e, s
}

// Queries whose words never appear verbatim in the right passage (an
// inflection, a typo, a derived form) still find it first: what the
// character leg adds to word-level BM25.
func TestRetrievalSanity(t *testing.T) {
	e, s := buildIndex(t)
	defer s.Close()
	ctx := context.Background()
	for _, tc := range []struct{ query, want string }{
		{"is my order refundable?", "refund"},
		{"shiping time", "shipping"},
		{"resetting passwords", "password"},
		{"invoicing", "invoice"},
		{"warranties", "warranty"},
		{"manufacturer defect", "warranty"},
		{"怎么退款", "zh-退款"},
		{"配送要多久", "zh-配送"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := e.EmbedQuery(ctx, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			hits, err := s.Search(ctx, q, 3, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) == 0 || hits[0].Chunk.DocID != tc.want {
				var got []string
				for _, h := range hits {
					got = append(got, fmt.Sprintf("%s=%.3f", h.Chunk.DocID, h.Score))
				}
				t.Fatalf("top hits %v, want %s first", got, tc.want)
			}
			if len(hits) > 1 && hits[1].Score >= hits[0].Score {
				t.Fatalf("no margin: %v", hits)
			}
		})
	}
}
