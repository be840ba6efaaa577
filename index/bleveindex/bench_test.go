package bleveindex

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

// synthetic makes n chunks of about words words each from a Zipf-like
// vocabulary, deterministically.
func synthetic(n, words int, seed uint64) []quarry.Chunk {
	r := rand.New(rand.NewPCG(seed, 7))
	z := rand.NewZipf(r, 1.1, 3, 20000)
	word := func() string { return fmt.Sprintf("w%x", z.Uint64()) }
	out := make([]quarry.Chunk, n)
	for i := range out {
		var text, title strings.Builder
		for j := 0; j < words; j++ {
			text.WriteString(word())
			text.WriteByte(' ')
		}
		for j := 0; j < 6; j++ {
			title.WriteString(word())
			title.WriteByte(' ')
		}
		doc := fmt.Sprintf("doc%d-%d", seed, i/4)
		out[i] = quarry.Chunk{
			ID: fmt.Sprintf("%s#%d", doc, i%4), DocID: doc, Path: doc + ".md", Ordinal: i % 4,
			Title: title.String(), Heading: "Section " + word(), Text: text.String(), Tokens: words, Lang: "en",
		}
	}
	return out
}

// BenchmarkSearch: one query of 8 words over 5,000 chunks of 150 words.
func BenchmarkSearch(b *testing.B) {
	ix := openTest(b, Config{})
	upsert(b, ix, synthetic(5000, 150, 1)...)
	queries := make([]string, 64)
	for i, c := range synthetic(len(queries), 8, 2) {
		queries[i] = c.Text
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Search(ctx, queries[i%len(queries)], 10); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKnown: the vocabulary lookup of an 8-word question (some
// words unknown) over 5,000 chunks of 150 words.
func BenchmarkKnown(b *testing.B) {
	ix := openTest(b, Config{})
	upsert(b, ix, synthetic(5000, 150, 1)...)
	questions := make([][]string, 64)
	for i, c := range synthetic(len(questions), 8, 3) {
		questions[i] = strings.Fields(c.Text)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Known(ctx, questions[i%len(questions)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchSciFact: the SciFact test queries over its 5,183
// abstracts (skipped without the benchmark data).
func BenchmarkSearchSciFact(b *testing.B) {
	data := loadBEIR(b, benchDir(b, "scifact"), "test", "en")
	ix := openBenchIndex(b, data, Config{})
	var queries []string
	for q := range data.qrels {
		queries = append(queries, data.queries[q])
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Search(ctx, queries[i%len(queries)], 10); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpsert: one op writes 100 new chunks of 150 words into an
// index that grows as the benchmark runs.
func BenchmarkUpsert(b *testing.B) {
	ix := openTest(b, Config{})
	ctx := context.Background()
	batches := make([][]quarry.Chunk, 16)
	for i := range batches {
		batches[i] = synthetic(100, 150, uint64(10+i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		n += 100
		batch := batches[i%len(batches)]
		if i >= len(batches) { // new ids, so the index keeps growing
			batch = append([]quarry.Chunk(nil), batch...)
			for j := range batch {
				batch[j].ID = fmt.Sprintf("%s/%d", batch[j].ID, i)
			}
		}
		if err := ix.Upsert(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "chunks/s")
}

var (
	benchIndex   = flag.String("bench-index", "", "BenchmarkSearchDir: an index directory (the keyword folder of a generation)")
	benchQueries = flag.String("bench-queries", "", "BenchmarkSearchDir: a file of queries, one a line")
)

// BenchmarkSearchDir: the keyword leg on an existing index, top 100 (the
// retriever's candidates), the fast path against bleve's searcher, side
// by side. -bench-index names the index directory (the keyword folder of
// a generation, e.g. of a corpus `quarry bench --data DIR` built) and
// -bench-queries a file of queries, one a line; skipped without:
//
//	go test -run XXX -bench SearchDir -benchtime 1000x ./index/bleveindex \
//		-args -bench-index DIR/kb/default/g000001/keyword -bench-queries q.txt
func BenchmarkSearchDir(b *testing.B) {
	dir, qfile := *benchIndex, *benchQueries
	if dir == "" || qfile == "" {
		b.Skip("-bench-index and -bench-queries are not set")
	}
	data, err := os.ReadFile(qfile)
	if err != nil {
		b.Fatal(err)
	}
	queries := strings.Split(strings.TrimSpace(string(data)), "\n")
	start := time.Now()
	ix, err := Open(dir, Config{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	opened := time.Since(start)
	ctx := context.Background()
	if _, err := ix.Search(ctx, queries[0], 100); err != nil {
		b.Fatal(err)
	}
	b.Logf("open %v, then first search (field lengths read) %v", opened, time.Since(start)-opened)
	b.Run("topk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ix.Search(ctx, queries[i%len(queries)], 100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ranking", func(b *testing.B) {
		// What a hybrid search pays before it reads its passages.
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rk, err := ix.SearchRanking(ctx, queries[i%len(queries)], 100)
			if err != nil {
				b.Fatal(err)
			}
			rk.Release()
		}
	})
	b.Run("searcher", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r, err := ix.reader()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ix.searchBleve(ctx, r, ix.queryTerms(queries[i%len(queries)]), ix.scoring, 100); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
}
