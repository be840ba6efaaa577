package bleveindex

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

// FuzzSearch: any query string either searches without error or, when it
// has no text at all, is quarry.ErrInvalid; it never panics, and hits
// come sorted with finite positive scores.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		"refund policy", "退款政策", "税", `+foo:bar`, `"`, `title:"x" AND y~2^3`, "*?[]{}()",
		"", " ", "\x00", "\xff\xfe", "ＲＥＦＵＮＤ", "customer's", "the of and", "😀🙃",
		"a\u200bb", "e\u0301", "ﾃｽﾄ", "한국어 검색", "refund 退款 返金",
	} {
		f.Add(s)
	}
	ix, err := Open(f.TempDir(), Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), helpCentre); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		hits, err := ix.Search(context.Background(), q, 5)
		if strings.TrimSpace(q) == "" {
			if !errors.Is(err, quarry.ErrInvalid) {
				t.Fatalf("Search(%q): err = %v, want ErrInvalid", q, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		for i, h := range hits {
			if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) || h.Score <= 0 {
				t.Fatalf("Search(%q): hit %d score %v", q, i, h.Score)
			}
			if i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("Search(%q): unsorted hits", q)
			}
			if h.Chunk.DocID == "" {
				t.Fatalf("Search(%q): hit without chunk", q)
			}
		}
	})
}
