package ingest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/quarry-kb/quarry"
)

// batchSink is a memSink that also takes documents in batches, all or
// none, and records each batch's size in chunks.
type batchSink struct {
	*memSink
	batches []int // chunks per PutBatch call
	failAt  int   // the PutBatch call (1-based) that fails; 0 never
}

func (s *batchSink) PutBatch(ctx context.Context, docs []quarry.Document, chunks [][]quarry.Chunk) error {
	n := 0
	for _, cs := range chunks {
		n += len(cs)
	}
	s.batches = append(s.batches, n)
	if len(s.batches) == s.failAt {
		return quarry.Errorf(quarry.CodeUnavailable, "index is down")
	}
	for i, d := range docs {
		s.docs[d.Path] = d
		s.chunks[d.Path] = chunks[i]
		s.puts = append(s.puts, d.Path)
		s.embedded += int64(len(chunks[i]))
	}
	return nil
}

func TestSyncBatches(t *testing.T) {
	tests := []struct {
		name        string
		batchChunks int
		wantCalls   func(int) bool
	}{
		{"one document a batch", 1, func(n int) bool { return n == len(goodPaths) }},
		{"all in one batch", 1 << 20, func(n int) bool { return n == 1 }},
		{"a few chunks a batch", 3, func(n int) bool { return n > 1 && n < len(goodPaths) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &batchSink{memSink: newMemSink()}
			var progress []string
			sum, err := Sync(context.Background(), testFolder(t), sink, Options{
				BatchChunks: tc.batchChunks,
				Progress:    func(p Progress) { progress = append(progress, p.Path) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := sink.sortedPaths(); !slices.Equal(got, goodPaths) {
				t.Errorf("sink holds %q, want %q", got, goodPaths)
			}
			if !tc.wantCalls(len(sink.batches)) {
				t.Errorf("%d PutBatch calls (chunks %v)", len(sink.batches), sink.batches)
			}
			total := 0
			for _, n := range sink.batches {
				total += n
			}
			if sum.Added != len(goodPaths) || sum.Chunks != total || sum.ChunksEmbedded != total {
				t.Errorf("summary %+v; batches wrote %d chunks", sum, total)
			}
			if len(progress) != 9 {
				t.Errorf("progress called %d times, want 9 (every file once)", len(progress))
			}
		})
	}
}

func TestSyncBatchFailure(t *testing.T) {
	sink := &batchSink{memSink: newMemSink(), failAt: 2}
	sum, err := Sync(context.Background(), testFolder(t), sink, Options{Workers: 1, BatchChunks: 1})
	if !errors.Is(err, quarry.ErrUnavailable) {
		t.Fatalf("err = %v, want the sink's unavailable error", err)
	}
	// The failed batch counts for nothing; the one before it for all.
	if len(sink.docs) != 1 || sum.Added != 1 {
		t.Errorf("sink holds %d documents, summary says %d added; want 1 and 1", len(sink.docs), sum.Added)
	}
	if len(sink.removes) != 0 {
		t.Errorf("removals ran after a failure: %q", sink.removes)
	}
}
