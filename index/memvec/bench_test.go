package memvec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// benchChunk is a chunk with a typical amount of text (~1 KB).
func benchChunk(i int) quarry.Chunk {
	c := testChunk(fmt.Sprintf("docs/section-%d/page-%d.md", i/20, i/5), i%5)
	text := make([]byte, 1024)
	for j := range text {
		text[j] = 'a' + byte((i+j)%26)
	}
	c.Text = string(text)
	return c
}

// zipfSparse mimics hashed character n-grams: a few hundred indices per
// passage, drawn from a skewed distribution over 2^18 buckets.
func zipfSparse(rng *rand.Rand, z *rand.Zipf, nnz int) index.Vector {
	seen := map[uint32]bool{}
	v := index.Vector{}
	for len(v.Indices) < nnz {
		ix := uint32(z.Uint64())
		if seen[ix] {
			continue
		}
		seen[ix] = true
		v.Indices = append(v.Indices, ix)
		v.Values = append(v.Values, float32(0.02+0.1*rng.Float64()))
	}
	return v
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func loadDense(b *testing.B, n, dim, workers int) (*Store, float64) {
	sp := index.Space{Embedder: "bench", Dim: dim}
	rng := rand.New(rand.NewPCG(1, 1))
	before := heapInUse()
	s := mustOpen(b, "", sp, Config{Workers: workers})
	for lo := 0; lo < n; lo += 256 {
		recs := make([]index.Record, 0, 256)
		for i := lo; i < min(lo+256, n); i++ {
			recs = append(recs, index.Record{Chunk: benchChunk(i), Vector: randomVector(rng, sp)})
		}
		mustUpsert(b, s, recs...)
	}
	return s, float64(heapInUse()-before) / float64(n)
}

func BenchmarkSearchDense(b *testing.B) {
	const n, dim = 10_000, 384
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("10k×384/workers=%d", workers), func(b *testing.B) {
			s, perChunk := loadDense(b, n, dim, workers)
			q := randomVector(rand.New(rand.NewPCG(9, 9)), s.space)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Search(ctx, q, 10, index.Filter{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perChunk, "heapB/chunk")
		})
	}
}

func BenchmarkSearchSparse(b *testing.B) {
	const docs, nnz, qnnz = 5_000, 300, 60
	sp := index.Space{Embedder: "bench", Dim: 1 << 18, Sparse: true, IDF: true}
	rng := rand.New(rand.NewPCG(2, 2))
	z := rand.NewZipf(rng, 1.1, 8, 1<<18-1)
	before := heapInUse()
	s := mustOpen(b, "", sp, Config{})
	for lo := 0; lo < docs; lo += 256 {
		var recs []index.Record
		for i := lo; i < min(lo+256, docs); i++ {
			recs = append(recs, index.Record{Chunk: benchChunk(i), Vector: zipfSparse(rng, z, nnz)})
		}
		mustUpsert(b, s, recs...)
	}
	perChunk := float64(heapInUse()-before) / docs
	q := zipfSparse(rng, z, qnnz)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Search(ctx, q, 10, index.Filter{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perChunk, "heapB/chunk")
}

func BenchmarkUpsert(b *testing.B) {
	for _, tc := range []struct {
		name string
		dir  bool
		sync bool
	}{{"memory", false, false}, {"disk", true, false}, {"disk-sync", true, true}} {
		b.Run("dense384-batch32/"+tc.name, func(b *testing.B) {
			sp := index.Space{Embedder: "bench", Dim: 384}
			rng := rand.New(rand.NewPCG(3, 3))
			dir := ""
			if tc.dir {
				dir = b.TempDir()
			}
			s := mustOpen(b, dir, sp, Config{SyncWrites: tc.sync, MaxLogBytes: math.MaxInt64})
			defer s.Close()
			batches := make([][]index.Record, 64)
			for i := range batches {
				for j := range 32 {
					batches[i] = append(batches[i], index.Record{Chunk: benchChunk(i*32 + j), Vector: randomVector(rng, sp)})
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Upsert(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*32), "ns/chunk")
		})
	}
}
