package memvec_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora/synth"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/memvec"
)

// The Synth benchmarks measure the store as Quarry uses it by default:
// the synthetic corpus of quarry bench (corpora/synth, one chunk a
// document), embedded by the default embedder (index/charngram), in a
// store on disk. -synth-chunks sets the number of chunks (default
// 20,000); the store is built once per run, in a temporary directory,
// or with -synth-dir in that directory, kept, and reused by later runs
// that give the same directory and number of chunks (so that binaries
// before and after a change measure one store).
//
//	go test -run XXX -bench Synth -benchtime 200x ./index/memvec -args -synth-chunks 100000
//	go test -run XXX -bench Synth -benchtime 200x ./index/memvec -args -synth-chunks 100000 -synth-dir /tmp/synth100k

var synthStore struct {
	once   sync.Once
	dir    string
	n      int
	space  index.Space
	emb    *charngram.Embedder
	corpus *synth.Corpus
	err    error
}

var (
	synthChunks = flag.Int("synth-chunks", 20_000, "chunks in the store of the Synth benchmarks")
	synthKeep   = flag.String("synth-dir", "", "build the Synth benchmarks' store in this directory and keep it; reuse it if it holds one of -synth-chunks chunks")
)

// TestMain removes the Synth benchmarks' store when the run ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if synthStore.dir != "" && *synthKeep == "" {
		os.RemoveAll(synthStore.dir)
	}
	os.Exit(code)
}

// synthDir builds (once) a store of the synthetic corpus and returns its
// directory.
func synthDir(b *testing.B) string {
	b.Helper()
	st := &synthStore
	st.once.Do(func() {
		st.n = max(1, *synthChunks)
		st.corpus = synth.New(synth.Config{Docs: st.n})
		st.emb, st.err = charngram.New(charngram.Config{})
		if st.err != nil {
			return
		}
		st.space = st.emb.Space()
		if *synthKeep != "" {
			st.dir = *synthKeep
			if s, err := memvec.Open(st.dir, st.space, memvec.Config{ReadOnly: true}); err == nil {
				n, err := s.Count(context.Background())
				s.Close()
				if err == nil && n == st.n {
					fmt.Fprintf(os.Stderr, "synth: reusing the store of %d chunks in %s\n", n, st.dir)
					return
				}
				st.err = fmt.Errorf("-synth-dir %s holds a store of %d chunks (error %v), not %d: give an empty directory", st.dir, n, err, st.n)
				return
			}
		} else if st.dir, st.err = os.MkdirTemp("", "memvec-synth-"); st.err != nil {
			return
		}
		start := time.Now()
		st.err = buildSynth(st.dir, st.n)
		fmt.Fprintf(os.Stderr, "synth: built %d chunks in %s\n", st.n, time.Since(start).Round(time.Millisecond))
	})
	if st.err != nil {
		b.Fatal(st.err)
	}
	return st.dir
}

// buildSynth embeds the corpus on every core and writes it in batches
// of 1,000 documents, as an ingest does.
func buildSynth(dir string, n int) error {
	st := &synthStore
	s, err := memvec.Open(dir, st.space, memvec.Config{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	const batch = 1000
	type job struct {
		lo   int
		recs []index.Record
	}
	jobs := make(chan int)
	done := make(chan job, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range jobs {
				var texts []string
				var recs []index.Record
				for i := lo; i < min(lo+batch, n); i++ {
					text := string(st.corpus.Document(i))
					id := synth.Path(i)
					texts = append(texts, text)
					recs = append(recs, index.Record{Chunk: quarry.Chunk{ID: id + "#0", DocID: id, Path: id, Title: id, Text: text, Lang: "en", Tokens: 100}})
				}
				vecs, _ := st.emb.EmbedPassages(ctx, texts)
				for i := range recs {
					recs[i].Vector = vecs[i]
				}
				done <- job{lo, recs}
			}
		}()
	}
	go func() {
		for lo := 0; lo < n; lo += batch {
			jobs <- lo
		}
		close(jobs)
		wg.Wait()
		close(done)
	}()
	var werr error
	for j := range done {
		if werr == nil {
			werr = s.Upsert(ctx, j.recs)
		}
	}
	if err := s.Close(); werr == nil {
		werr = err
	}
	return werr
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSynthOpen opens the store (its snapshot; the log is empty)
// and reports the live heap it holds per 100k chunks.
func BenchmarkSynthOpen(b *testing.B) {
	dir := synthDir(b)
	n := synthStore.n
	b.Run(fmt.Sprintf("chunks=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		var heap uint64
		for b.Loop() {
			before := heapAlloc()
			s, err := memvec.Open(dir, synthStore.space, memvec.Config{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			heap = heapAlloc() - before
			runtime.KeepAlive(s)
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(heap)/float64(n)*100_000/(1<<20), "MiB/100k")
	})
}

// BenchmarkSynthSearch runs the corpus's queries round robin at k = 100,
// the candidates a hybrid search asks each leg for, without a filter and
// with one that every point passes (which adds a check per candidate).
// Besides the latencies it reports the process's CPU time per search
// (cpu-ms/op), which a loaded machine inflates much less than the wall
// time.
func BenchmarkSynthSearch(b *testing.B) {
	dir := synthDir(b)
	s, err := memvec.Open(dir, synthStore.space, memvec.Config{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var qs []index.Vector
	for _, q := range synthStore.corpus.Queries(200, 1) {
		v, err := synthStore.emb.EmbedQuery(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		qs = append(qs, v)
	}
	for _, tc := range []struct {
		name string
		f    index.Filter
	}{{"nofilter", index.Filter{}}, {"lang", index.Filter{Lang: "en"}}} {
		b.Run(fmt.Sprintf("chunks=%d/%s", synthStore.n, tc.name), func(b *testing.B) {
			b.ReportAllocs()
			var lat []time.Duration
			i := 0
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				t0 := time.Now()
				if _, err := s.Search(ctx, qs[i%len(qs)], 100, tc.f); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				i++
			}
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(i), "cpu-ms/op")
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
