package httpx

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// Batches splits the items [0, n) into consecutive batches of at most
// size and calls fn for each, at most limit at a time. The first error
// cancels the context the other calls get and is returned; a batch
// whose call had not started by then is skipped. fn writes its results
// into slots of its own (lo to hi), so the output order is the input
// order whatever order batches finish in. A panic in fn is returned as
// an error rather than crashing the process.
func Batches(ctx context.Context, n, size, limit int, fn func(ctx context.Context, lo, hi int) error) error {
	if n <= 0 {
		return nil
	}
	size = max(size, 1)
	limit = max(limit, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		if gctx.Err() != nil {
			break
		}
		g.Go(func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("batch %d-%d: panic: %v", lo, hi, r)
				}
			}()
			if gctx.Err() != nil {
				return gctx.Err()
			}
			return fn(gctx, lo, hi)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
