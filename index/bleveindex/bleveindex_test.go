package bleveindex

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

func openTest(t testing.TB, cfg Config) *Index {
	t.Helper()
	ix, err := Open(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func chunk(docID string, ord int, title, text string) quarry.Chunk {
	return quarry.Chunk{
		ID: fmt.Sprintf("%s#%d", docID, ord), DocID: docID, Path: docID + ".md",
		Title: title, Ordinal: ord, Text: text, Tokens: len(strings.Fields(text)), Lang: "en",
	}
}

func zh(docID string, ord int, title, text string) quarry.Chunk {
	c := chunk(docID, ord, title, text)
	c.Lang = "zh"
	return c
}

func upsert(t testing.TB, ix *Index, chunks ...quarry.Chunk) {
	t.Helper()
	if err := ix.Upsert(context.Background(), chunks); err != nil {
		t.Fatal(err)
	}
}

func ids(hits []index.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.ID
	}
	return out
}

func query(t testing.TB, ix *Index, q string, k int) []string {
	t.Helper()
	hits, err := ix.Search(context.Background(), q, k)
	if err != nil {
		t.Fatalf("Search(%q): %v", q, err)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Fatalf("Search(%q): hits not sorted by score: %v", q, hits)
		}
	}
	return ids(hits)
}

var helpCentre = []quarry.Chunk{
	chunk("refund", 0, "Refund policy", "We refund every order returned within 30 days. Refunds reach the original payment method within 5 business days."),
	chunk("shipping", 0, "Shipping", "Orders ship from our warehouse in two days. Express shipping costs 9 dollars."),
	chunk("warranty", 0, "Warranty", "The customer's warranty covers hardware defects for two years."),
	chunk("running", 0, "Setup", "Keep the hub running while the app pairs each sensor."),
	chunk("account", 0, "Account security", "Turn on two-factor authentication to protect your account."),
	zh("cn-refund", 0, "退货退款政策", "退款政策：退款将在3个工作日内原路退回。"),
	zh("cn-invoice", 0, "发票开具", "电子发票在订单完成后开具，税务信息请在账户中填写。"),
	zh("cn-delivery", 0, "配送范围", "我们的配送范围覆盖中国大陆所有城市，偏远地区除外。"),
	zh("tw-warranty", 0, "門鎖保固", "門鎖的電子零件保固兩年。"),
}

func TestSearch(t *testing.T) {
	ix := openTest(t, Config{})
	upsert(t, ix, helpCentre...)
	tests := []struct {
		name  string
		query string
		top   string   // expected first hit ("" for no hits)
		not   []string // chunks that must not be returned
	}{
		{"stemming plural", "refunds", "refund#0", nil},
		{"stemming verb", "run", "running#0", nil},
		{"case", "REFUND", "refund#0", nil},
		{"possessive", "customer warranty", "warranty#0", nil},
		{"possessive in query", "customer's", "warranty#0", nil},
		{"only stop words", "the and of", "", nil},
		{"stop words ignored", "the refund of an order", "refund#0", nil},
		{"title field", "security", "account#0", nil},
		{"zh bigram prefix", "退款", "cn-refund#0", []string{"cn-invoice#0", "refund#0"}},
		{"zh phrase", "退款政策", "cn-refund#0", []string{"refund#0"}},
		{"zh single character inside a word", "税", "cn-invoice#0", nil},
		{"zh question", "配送范围包括哪些城市？", "cn-delivery#0", nil},
		{"zh fullwidth latin", "ＲＥＦＵＮＤ", "refund#0", nil},
		{"simplified query, traditional text", "门锁保固几年", "tw-warranty#0", nil},
		{"traditional query, simplified text", "退貨退款", "cn-refund#0", nil},
		{"traditional query, simplified text 2", "發票開具", "cn-invoice#0", nil},
		{"traditional query, traditional text", "電子零件", "tw-warranty#0", nil},
		{"en query in mixed index", "refund policy", "refund#0", []string{"cn-refund#0"}},
		{"mixed scripts", "refund 退款", "", nil}, // both refund docs, checked below
		{"unknown word", "xylophone", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := query(t, ix, tc.query, 10)
			switch {
			case tc.name == "mixed scripts":
				if !slices.Contains(got, "refund#0") || !slices.Contains(got, "cn-refund#0") {
					t.Errorf("Search(%q) = %v, want both refund chunks", tc.query, got)
				}
			case tc.top == "":
				if len(got) != 0 {
					t.Errorf("Search(%q) = %v, want nothing", tc.query, got)
				}
			case len(got) == 0 || got[0] != tc.top:
				t.Errorf("Search(%q) = %v, want %s first", tc.query, got, tc.top)
			}
			for _, n := range tc.not {
				if slices.Contains(got, n) {
					t.Errorf("Search(%q) = %v, must not contain %s", tc.query, got, n)
				}
			}
		})
	}
}

func TestAnalyzerSettings(t *testing.T) {
	docs := []quarry.Chunk{
		chunk("a", 0, "", "The refund would arrive soon."),
		zh("b", 0, "", "税务信息"),
	}
	tests := []struct {
		analyzer Analyzer
		query    string
		found    bool
	}{
		{Analyzer{}, "refunds", true},
		{Analyzer{Stemmer: StemmerSnowball}, "refunds", true},
		{Analyzer{Stemmer: StemmerNone}, "refunds", false},
		{Analyzer{}, "the", false},
		{Analyzer{StopWords: StopNone}, "the", true},
		{Analyzer{}, "would", true}, // not in Lucene's list
		{Analyzer{StopWords: StopSnowball}, "would", false},
		{Analyzer{}, "税", true},
		{Analyzer{CJK: CJKBigram}, "税", false}, // bigrams alone miss a character inside a word
		{Analyzer{CJK: CJKBigram}, "税务", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%+v/%s", tc.analyzer, tc.query), func(t *testing.T) {
			ix := openTest(t, Config{Analyzer: tc.analyzer})
			upsert(t, ix, docs...)
			if got := len(query(t, ix, tc.query, 10)) > 0; got != tc.found {
				t.Errorf("found = %v, want %v", got, tc.found)
			}
		})
	}
}

func TestHitsCarryWholeChunks(t *testing.T) {
	ix := openTest(t, Config{})
	want := quarry.Chunk{
		ID: "doc-7#3", DocID: "doc-7", Path: "manuals/hub.pdf", Title: "Hub manual",
		Heading: "Setup > Pairing", Page: 4, Ordinal: 3, Text: "Hold the pairing button for five seconds.",
		Tokens: 9, Lang: "en",
	}
	upsert(t, ix, want)
	hits, err := ix.Search(context.Background(), "pairing button", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 {
		t.Fatalf("got %d hits, want 1", len(hits))
	}
	if !reflect.DeepEqual(hits[0].Chunk, want) {
		t.Errorf("chunk = %+v\nwant    %+v", hits[0].Chunk, want)
	}
	if hits[0].Score <= 0 {
		t.Errorf("score = %v, want > 0", hits[0].Score)
	}
}

func TestKDefaultsAndLimits(t *testing.T) {
	ix := openTest(t, Config{})
	var cs []quarry.Chunk
	for i := range 25 {
		cs = append(cs, chunk(fmt.Sprintf("d%02d", i), 0, "", strings.Repeat("lamp ", i+1)))
	}
	upsert(t, ix, cs...)
	for _, tc := range []struct{ k, want int }{{0, DefaultK}, {-3, DefaultK}, {3, 3}, {100, 25}} {
		if got := len(query(t, ix, "lamp", tc.k)); got != tc.want {
			t.Errorf("k=%d: %d hits, want %d", tc.k, got, tc.want)
		}
	}
}

// Equal scores are ordered by chunk ID, also across the k boundary and
// whatever order (and segments) the chunks were written in.
func TestTiesOrderedByID(t *testing.T) {
	ix := openTest(t, Config{})
	for i := 11; i >= 0; i-- {
		upsert(t, ix, chunk(fmt.Sprintf("t%02d", i), 0, "", "same lamp text"))
	}
	upsert(t, ix, chunk("best", 0, "Lamp", "lamp lamp"))
	tests := []struct {
		k    int
		want []string
	}{
		{1, []string{"best#0"}},
		{2, []string{"best#0", "t00#0"}},
		{5, []string{"best#0", "t00#0", "t01#0", "t02#0", "t03#0"}},
	}
	for _, tc := range tests {
		if got := query(t, ix, "lamp", tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("k=%d: %v, want %v", tc.k, got, tc.want)
		}
	}
	hits, err := ix.Search(context.Background(), "same lamp", 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(hits); i++ {
		a, b := hits[i-1], hits[i]
		if a.Score == b.Score && a.Chunk.ID > b.Chunk.ID {
			t.Errorf("tie out of ID order: %s before %s", a.Chunk.ID, b.Chunk.ID)
		}
	}
	if len(hits) != 13 || hits[0].Score != hits[11].Score || hits[12].Chunk.ID != "best#0" {
		t.Errorf("identical chunks should score exactly alike: %v", hits)
	}
}

func TestUpsertReplaces(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{})
	upsert(t, ix, chunk("d", 0, "", "apple orchard"), chunk("d", 1, "", "pear tree"))
	upsert(t, ix, chunk("d", 0, "", "banana plantation"))
	if got := query(t, ix, "apple", 10); len(got) != 0 {
		t.Errorf("old text still found: %v", got)
	}
	if got := query(t, ix, "banana", 10); !slices.Equal(got, []string{"d#0"}) {
		t.Errorf("new text: %v", got)
	}
	if n, _ := ix.Count(ctx); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	// Within one call the last chunk with an ID wins.
	upsert(t, ix, chunk("e", 0, "", "first"), chunk("e", 0, "", "second"))
	if got := query(t, ix, "first", 10); len(got) != 0 {
		t.Errorf("first version kept: %v", got)
	}
	if got := query(t, ix, "second", 10); !slices.Equal(got, []string{"e#0"}) {
		t.Errorf("second version: %v", got)
	}
}

func TestUpsertRejectsBadChunksWhole(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{})
	good := chunk("d", 0, "", "kept")
	for name, bad := range map[string]quarry.Chunk{
		"no id":        {DocID: "d", Text: "x"},
		"no doc id":    {ID: "d#1", Text: "x"},
		"neg page":     {ID: "d#1", DocID: "d", Page: -1},
		"neg ordinal":  {ID: "d#1", DocID: "d", Ordinal: -1},
		"neg tokens":   {ID: "d#1", DocID: "d", Tokens: -2},
		"bad and good": {ID: "", DocID: "d"},
	} {
		err := ix.Upsert(ctx, []quarry.Chunk{good, bad})
		if !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n, _ := ix.Count(ctx); n != 0 {
		t.Errorf("Count = %d after rejected upserts, want 0", n)
	}
	if err := ix.Upsert(ctx, nil); err != nil {
		t.Errorf("empty upsert: %v", err)
	}
}

func TestDeleteDocs(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{BatchSize: 2}) // several batches per call
	upsert(t, ix,
		chunk("a", 0, "", "lamp one"), chunk("a", 1, "", "lamp two"), chunk("a", 2, "", "lamp three"),
		chunk("b", 0, "", "lamp four"), chunk("b", 1, "", "lamp five"),
		chunk("c", 0, "", "lamp six"),
	)
	if err := ix.DeleteDocs(ctx, "a", "unknown", "c", "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := ix.Count(ctx); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	got := query(t, ix, "lamp", 10)
	slices.Sort(got)
	if !slices.Equal(got, []string{"b#0", "b#1"}) {
		t.Errorf("after delete: %v", got)
	}
	if err := ix.DeleteDocs(ctx, "nothing-here"); err != nil {
		t.Errorf("unknown id: %v", err)
	}
	if err := ix.DeleteDocs(ctx); err != nil {
		t.Errorf("no ids: %v", err)
	}
	if err := ix.DeleteDocs(ctx, "b", ""); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("empty id: err = %v, want ErrInvalid", err)
	}
	if n, _ := ix.Count(ctx); n != 2 {
		t.Errorf("Count = %d after rejected delete, want 2", n)
	}
}

// The statistics kept through replacements and deletions must equal
// those of an index built from the surviving chunks alone: compare the
// scores of both.
func TestIncrementalStatisticsMatchRebuild(t *testing.T) {
	ctx := context.Background()
	a := openTest(t, Config{BatchSize: 3})
	upsert(t, a, helpCentre...)
	upsert(t, a,
		chunk("refund", 0, "Refunds", "Refunds take 5 business days; store credit is instant."),
		chunk("extra", 0, "Extra", "An extra chunk about refunds and shipping."),
		chunk("extra", 1, "", "Another extra chunk with no title at all, about orders."),
	)
	if err := a.DeleteDocs(ctx, "shipping", "cn-delivery"); err != nil {
		t.Fatal(err)
	}

	var final []quarry.Chunk
	for _, c := range helpCentre {
		if c.DocID != "refund" && c.DocID != "shipping" && c.DocID != "cn-delivery" {
			final = append(final, c)
		}
	}
	final = append(final,
		chunk("refund", 0, "Refunds", "Refunds take 5 business days; store credit is instant."),
		chunk("extra", 0, "Extra", "An extra chunk about refunds and shipping."),
		chunk("extra", 1, "", "Another extra chunk with no title at all, about orders."),
	)
	b := openTest(t, Config{})
	upsert(t, b, final...)

	for _, q := range []string{"refunds", "orders shipping", "extra chunk title", "退款", "account"} {
		ha, err := a.Search(ctx, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.Search(ctx, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(ha) == 0 || len(ha) != len(hb) {
			t.Fatalf("%q: %d vs %d hits", q, len(ha), len(hb))
		}
		score := map[string]float64{}
		for _, h := range hb {
			score[h.Chunk.ID] = h.Score
		}
		for _, h := range ha {
			if s, ok := score[h.Chunk.ID]; !ok || !approxEqual(s, h.Score) {
				t.Errorf("%q: %s scores %v incrementally, %v rebuilt", q, h.Chunk.ID, h.Score, s)
			}
		}
	}
}

// Replace swaps documents' chunks in one batch; the statistics after it
// equal those of an index built from the result alone, and the index is
// never seen without either version (readers run during replaces).
func TestReplace(t *testing.T) {
	ctx := context.Background()
	a := openTest(t, Config{BatchSize: 2}) // Replace ignores the batch size
	upsert(t, a, helpCentre...)
	upsert(t, a, chunk("refund", 1, "", "A second refund chunk that Replace must remove."))
	next := []quarry.Chunk{
		chunk("refund", 0, "Refunds", "Refunds take 5 business days; store credit is instant."),
		chunk("extra", 0, "Extra", "An extra chunk about refunds and shipping."),
		chunk("extra", 1, "", "Another extra chunk with no title at all, about orders."),
		chunk("warranty", 0, "Warranty", "Warranty repairs are free for two years."),
	}
	if err := a.Replace(ctx, []string{"refund", "shipping", "warranty", "unknown"}, next); err != nil {
		t.Fatal(err)
	}
	var final []quarry.Chunk
	for _, c := range helpCentre {
		if c.DocID != "refund" && c.DocID != "shipping" && c.DocID != "warranty" {
			final = append(final, c)
		}
	}
	final = append(final, next...)
	b := openTest(t, Config{})
	upsert(t, b, final...)
	if na, _ := a.Count(ctx); na != len(final) {
		t.Errorf("Count = %d after Replace, want %d", na, len(final))
	}
	for _, q := range []string{"refunds", "orders shipping", "extra chunk title", "warranty repairs", "second refund chunk"} {
		ha, err := a.Search(ctx, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.Search(ctx, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(ha) != len(hb) {
			t.Fatalf("%q: %d hits after Replace, %d rebuilt", q, len(ha), len(hb))
		}
		for i := range ha {
			if ha[i].Chunk.ID != hb[i].Chunk.ID || !approxEqual(ha[i].Score, hb[i].Score) {
				t.Errorf("%q: hit %d is %s %v after Replace, %s %v rebuilt", q, i, ha[i].Chunk.ID, ha[i].Score, hb[i].Chunk.ID, hb[i].Score)
			}
		}
	}

	// Readers never see a document without chunks while it is replaced.
	upsert(t, a, chunk("lampdoc", 1, "", "lamp version zero"))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if got := query(t, a, "lamp", 10); len(got) != 1 {
				t.Errorf("during replaces: %v, want exactly one lamp chunk", got)
				return
			}
		}
	})
	for i := range 20 {
		c := chunk("lampdoc", i%2, "", fmt.Sprintf("lamp version %d", i))
		if err := a.Replace(ctx, []string{"lampdoc"}, []quarry.Chunk{c}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()

	if err := a.Replace(ctx, []string{""}, nil); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("empty document id: err = %v, want ErrInvalid", err)
	}
	if err := a.Replace(ctx, []string{"lampdoc"}, []quarry.Chunk{{DocID: "x"}}); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("chunk without id: err = %v, want ErrInvalid", err)
	}
	if got := query(t, a, "lamp", 10); len(got) != 1 {
		t.Errorf("a rejected Replace changed the index: %v", got)
	}
}

func approxEqual(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "kw")
	ix, err := Open(dir, Config{Analyzer: Analyzer{Stemmer: StemmerSnowball}})
	if err != nil {
		t.Fatal(err)
	}
	upsert(t, ix, helpCentre...)
	before, err := ix.Search(ctx, "refunds 退款", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// A zero Analyzer adopts the stored settings.
	ix, err = Open(dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Analysis(); got.Stemmer != StemmerSnowball || got.StopWords != StopLucene {
		t.Errorf("Analysis() = %+v", got)
	}
	if n, _ := ix.Count(ctx); n != len(helpCentre) {
		t.Errorf("Count after reopen = %d, want %d", n, len(helpCentre))
	}
	after, err := ix.Search(ctx, "refunds 退款", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("results changed across reopen:\n%v\n%v", before, after)
	}
	// Scoring may change between opens; analysis may not.
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(dir, Config{Scoring: Scoring{K1: 1.5, TitleBoost: -1}})
	if err != nil {
		t.Fatalf("reopen with other scoring: %v", err)
	}
	ix.Close()
	_, err = Open(dir, Config{Analyzer: Analyzer{Stemmer: StemmerPorter}})
	if !errors.Is(err, quarry.ErrConflict) {
		t.Errorf("reopen with another stemmer: err = %v, want ErrConflict", err)
	}
}

func TestOpenErrors(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("hi"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		cfg  Config
		want error
	}{
		{"foreign directory", other, Config{}, quarry.ErrConflict},
		{"bad stemmer", t.TempDir(), Config{Analyzer: Analyzer{Stemmer: "lancaster"}}, quarry.ErrInvalid},
		{"bad stop list", t.TempDir(), Config{Analyzer: Analyzer{StopWords: "klingon"}}, quarry.ErrInvalid},
		{"bad cjk mode", t.TempDir(), Config{Analyzer: Analyzer{CJK: "trigram"}}, quarry.ErrInvalid},
		{"b above 1", t.TempDir(), Config{Scoring: Scoring{B: 1.5}}, quarry.ErrInvalid},
		{"negative k1", t.TempDir(), Config{Scoring: Scoring{K1: -1}}, quarry.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := Open(tc.dir, tc.cfg)
			if err == nil {
				ix.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOpenWhileHeld(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	_, err = Open(dir, Config{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, quarry.ErrUnavailable) {
		t.Errorf("second Open: err = %v, want ErrUnavailable", err)
	}
}

func TestOddQueries(t *testing.T) {
	ix := openTest(t, Config{})
	upsert(t, ix, helpCentre...)
	for _, q := range []string{
		`+foo:bar`, `"`, `"unterminated phrase`, `*`, `?`, `title:refund`, `refund~2`, `refund^10`,
		`AND OR NOT`, `(refund`, `\`, `/regex/`, `[a TO z]`, `-refund`, `!!`, `😀 refund`,
		"\x00\x01\x02", "\xff\xfe invalid utf8", strings.Repeat("refund ", 5000),
		strings.Repeat("词", 3000), "ｒｅｆｕｎｄ",
	} {
		if _, err := ix.Search(context.Background(), q, 5); err != nil {
			t.Errorf("Search(%.40q): %v", q, err)
		}
	}
	for _, q := range []string{"", " ", "\t\n "} {
		if _, err := ix.Search(context.Background(), q, 5); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("Search(%q): err = %v, want ErrInvalid", q, err)
		}
	}
	// Query syntax is text: the words in it still count.
	if got := query(t, ix, `+refund^2 "policy`, 5); len(got) == 0 || got[0] != "refund#0" {
		t.Errorf("syntax-looking query: %v", got)
	}
}

func TestMaxQueryTerms(t *testing.T) {
	ix := openTest(t, Config{MaxQueryTerms: 2})
	upsert(t, ix, chunk("a", 0, "", "alpha"), chunk("c", 0, "", "gamma"))
	if got := query(t, ix, "alpha beta gamma", 10); !slices.Equal(got, []string{"a#0"}) {
		t.Errorf("got %v, want only the chunk of the first two terms", got)
	}
}

func TestEmptyIndex(t *testing.T) {
	ix := openTest(t, Config{})
	if got := query(t, ix, "anything", 10); len(got) != 0 {
		t.Errorf("empty index: %v", got)
	}
	if n, err := ix.Count(context.Background()); err != nil || n != 0 {
		t.Errorf("Count = %d, %v", n, err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	ix, err := Open(t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checks := map[string]error{}
	_, checks["Search"] = ix.Search(ctx, "x", 1)
	_, checks["Count"] = ix.Count(ctx)
	checks["Upsert"] = ix.Upsert(ctx, []quarry.Chunk{chunk("a", 0, "", "x")})
	checks["DeleteDocs"] = ix.DeleteDocs(ctx, "a")
	for op, err := range checks {
		if !errors.Is(err, quarry.ErrUnavailable) {
			t.Errorf("%s after Close: err = %v, want ErrUnavailable", op, err)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	ix := openTest(t, Config{})
	upsert(t, ix, helpCentre...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ix.Search(ctx, "refund", 5); !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("Search: err = %v, want ErrCanceled", err)
	}
	if err := ix.Upsert(ctx, []quarry.Chunk{chunk("z", 0, "", "zebra")}); !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("Upsert: err = %v, want ErrCanceled", err)
	}
	if err := ix.DeleteDocs(ctx, "refund"); !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("DeleteDocs: err = %v, want ErrCanceled", err)
	}
	if n, _ := ix.Count(context.Background()); n != len(helpCentre) {
		t.Errorf("Count = %d, want %d: a canceled call changed the index", n, len(helpCentre))
	}
}

// Searches run while chunks are written and deleted; every search must
// succeed and see whole chunks. Run with -race.
func TestConcurrentSearchDuringWrites(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t, Config{BatchSize: 7})
	upsert(t, ix, helpCentre...)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			queries := []string{"lamp", "refund", "退款", "sensor pairing"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				q := queries[(g+i)%len(queries)]
				hits, err := ix.Search(ctx, q, 10)
				if err != nil {
					errs <- fmt.Errorf("search %q: %w", q, err)
					return
				}
				for _, h := range hits {
					if h.Chunk.DocID == "" || h.Chunk.Text == "" {
						errs <- fmt.Errorf("search %q: partial chunk %+v", q, h.Chunk)
						return
					}
				}
				if _, err := ix.Count(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for round := range 15 {
		var cs []quarry.Chunk
		for i := range 20 {
			cs = append(cs, chunk(fmt.Sprintf("w%d", i%5), i, "Lamp", fmt.Sprintf("lamp number %d of round %d", i, round)))
		}
		if err := ix.Upsert(ctx, cs); err != nil {
			t.Fatal(err)
		}
		if err := ix.DeleteDocs(ctx, fmt.Sprintf("w%d", round%5)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestKnown(t *testing.T) {
	ix := openTest(t, Config{})
	ctx := context.Background()
	a := chunk("policies/returns", 0, "Returns policy", "Refunds are issued within 5 business days.")
	a.Heading = "Insurance claims"
	upsert(t, ix, a, zh("cn/invoice", 0, "发票", "电子发票将在3个工作日内发送到您的邮箱。"))
	words := []string{"refunded", "Returns", "insurance", "weigh", "the", "发", "票", "股", "!!", "INSURED"}
	want := []bool{true, true, true, false, true, true, true, false, true, true}
	check := func(want []bool) {
		t.Helper()
		got, err := ix.Known(ctx, words)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range words {
			if got[i] != want[i] {
				t.Errorf("Known(%q) = %v, want %v", w, got[i], want[i])
			}
		}
	}
	// Text, title (Returns) and heading (insurance) words are known, in
	// any form the stemmer maps to the same term; stop words and
	// punctuation analyse to nothing and count as known.
	check(want)
	// Deleting the only chunk that holds a word forgets it.
	if err := ix.DeleteDocs(ctx, "policies/returns"); err != nil {
		t.Fatal(err)
	}
	check([]bool{false, false, false, false, true, true, true, false, true, false})

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ix.Known(cctx, words); !errors.Is(err, quarry.ErrCanceled) {
		t.Errorf("Known on a canceled context: %v, want ErrCanceled", err)
	}
}
