package ingest

import (
	"context"
	"fmt"

	"github.com/quarry-kb/quarry"
)

// BatchSink is a Sink that writes many documents at once. Sync gives it
// the parsed documents in batches of about Options.BatchChunks chunks,
// so that the index side makes one write (one segment, one sync) per
// batch instead of one or two per document. index.Writer implements it.
type BatchSink interface {
	Sink
	// PutBatch indexes docs[i] with chunks[i] for every i, as Put would
	// each. When it fails, none of the documents counts as written.
	PutBatch(ctx context.Context, docs []quarry.Document, chunks [][]quarry.Chunk) error
}

// Batching defaults.
const (
	// DefaultBatchChunks is how many chunks Sync gathers before it hands
	// a batch to a BatchSink.
	DefaultBatchChunks = 2048
	// maxBatchFiles bounds the files of one batch (unchanged and skipped
	// ones count), so that progress keeps moving on a run that writes
	// little.
	maxBatchFiles = 1024
)

// applyAll is process's writing side: it gathers the outcomes the
// workers send into batches and applies each batch to sink on a second
// goroutine, so that parsing goes on while a batch is written. Progress
// is reported, and sum changed, by that goroutine only. After an error
// it keeps draining results (so that no worker blocks) and returns the
// first error.
func applyAll(ctx context.Context, cancel context.CancelCauseFunc, results <-chan outcome, total int,
	known map[string]string, opts Options, sink Sink, sum *Summary) error {
	limit := opts.BatchChunks
	if limit <= 0 {
		limit = DefaultBatchChunks
	}
	bs, batched := sink.(BatchSink)
	if !batched {
		limit = 1 // each document is put on its own anyway
	}
	batches := make(chan []outcome, 1)
	written := make(chan error, 1)
	go func() {
		var err error
		done := 0
		for b := range batches {
			if err != nil {
				continue
			}
			if err = applyBatch(ctx, b, known, bs, sink, sum, func(path string) {
				done++
				if opts.Progress != nil {
					opts.Progress(Progress{Done: done, Total: total, Path: path})
				}
			}); err != nil {
				cancel(err)
			}
		}
		written <- err
	}()

	var pending []outcome
	chunks := 0
	for o := range results {
		pending = append(pending, o)
		chunks += len(o.chunks)
		if chunks >= limit || len(pending) >= maxBatchFiles {
			batches <- pending
			pending, chunks = nil, 0
		}
	}
	if len(pending) > 0 {
		batches <- pending
	}
	close(batches)
	return <-written
}

// applyBatch applies a batch of outcomes to sink in order, the parsed
// documents with one PutBatch when bs is set, and calls done after each.
func applyBatch(ctx context.Context, b []outcome, known map[string]string, bs BatchSink, sink Sink,
	sum *Summary, done func(path string)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", context.Cause(ctx))
	}
	put := func(o outcome) bool { return !o.unchanged && o.skip == "" }
	if bs != nil {
		var docs []quarry.Document
		var chunks [][]quarry.Chunk
		for _, o := range b {
			if put(o) {
				docs = append(docs, o.doc)
				chunks = append(chunks, o.chunks)
			}
		}
		if len(docs) > 0 {
			if err := bs.PutBatch(ctx, docs, chunks); err != nil {
				return fmt.Errorf("sync: %w", err)
			}
		}
	}
	for _, o := range b {
		if bs != nil && put(o) {
			count(o, sum)
		} else if err := apply(ctx, o, known, sink, sum); err != nil {
			return err
		}
		done(o.path)
	}
	return nil
}

// count adds a document that was put to the summary.
func count(o outcome, sum *Summary) {
	if o.added {
		sum.Added++
	} else {
		sum.Updated++
	}
	sum.Chunks += len(o.chunks)
}

// PutBatch puts docs[i] with chunks[i] into sink: with one call when it
// is a BatchSink, else one document at a time. Sinks that wrap another
// sink use it to pass batches on.
func PutBatch(ctx context.Context, sink Sink, docs []quarry.Document, chunks [][]quarry.Chunk) error {
	if bs, ok := sink.(BatchSink); ok {
		return bs.PutBatch(ctx, docs, chunks)
	}
	for i, d := range docs {
		if err := sink.Put(ctx, d, chunks[i]); err != nil {
			return fmt.Errorf("put %s: %w", d.Path, err)
		}
	}
	return nil
}
