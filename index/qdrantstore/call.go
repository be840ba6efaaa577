package qdrantstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxBackoff caps one back-off wait.
const maxBackoff = 10 * time.Second

// call runs fn with the per-call timeout, retrying it with back-off while
// it fails in a way that may pass (Unavailable, ResourceExhausted, a call
// that timed out while ctx did not). The error it returns carries a
// quarry code and names op. fn must be safe to repeat.
func (s *Store) call(ctx context.Context, op string, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return translate(ctx, s.addr, op, err)
	}
	for attempt := 0; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err := fn(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt >= s.cfg.MaxRetries || !retryable(err) {
			return translate(ctx, s.addr, op, err)
		}
		t := time.NewTimer(backoff(s.cfg.RetryBackoff, attempt, err))
		select {
		case <-ctx.Done():
			t.Stop()
			return translate(ctx, s.addr, op, err)
		case <-t.C:
		}
	}
}

func retryable(err error) bool {
	var re *qdrant.QdrantResourceExhaustedError
	if errors.As(err, &re) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		return true
	}
	return false
}

// backoff is base·2^attempt (capped at maxBackoff) scaled by a random
// factor in [0.5, 1.5), so that clients retrying together spread out; a
// server's retry-after, when longer, wins.
func backoff(base time.Duration, attempt int, err error) time.Duration {
	d := base << min(attempt, 16)
	if d <= 0 || d > maxBackoff {
		d = maxBackoff
	}
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	var re *qdrant.QdrantResourceExhaustedError
	if errors.As(err, &re) {
		if after := time.Duration(re.RetryAfterS) * time.Second; after > d {
			d = after
		}
	}
	return d
}

// translate turns an error from a call to Qdrant at addr into a quarry
// error naming op. ctx is the caller's context: when it has ended, the
// error is about that whatever the last attempt returned.
func translate(ctx context.Context, addr, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		code := quarry.CodeCanceled
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			code = quarry.CodeTimeout
		}
		if st, ok := status.FromError(err); errors.Is(err, ctxErr) || ok && (st.Code() == codes.Canceled || st.Code() == codes.DeadlineExceeded) {
			return quarry.Errorf(code, "qdrantstore: %s: %w", op, ctxErr)
		}
		return quarry.Errorf(code, "qdrantstore: %s: %w (after: %v)", op, ctxErr, err)
	}
	var re *qdrant.QdrantResourceExhaustedError
	if errors.As(err, &re) {
		return quarry.Errorf(quarry.CodeUnavailable, "qdrantstore: %s: qdrant at %s is overloaded, retry after %ds: %w", op, addr, re.RetryAfterS, err)
	}
	st, ok := status.FromError(err)
	if !ok {
		return quarry.Errorf(quarry.CodeInternal, "qdrantstore: %s: %w", op, err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return quarry.Errorf(quarry.CodeUnavailable, "qdrantstore: %s: qdrant at %s is unavailable: %w", op, addr, err)
	case codes.ResourceExhausted:
		return quarry.Errorf(quarry.CodeUnavailable, "qdrantstore: %s: qdrant at %s is overloaded: %w", op, addr, err)
	case codes.Unauthenticated, codes.PermissionDenied:
		return quarry.Errorf(quarry.CodeUnavailable, "qdrantstore: %s: qdrant at %s rejected the API key (check the configured key): %w", op, addr, err)
	case codes.InvalidArgument:
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: %s: %w", op, err)
	case codes.NotFound:
		return quarry.Errorf(quarry.CodeNotFound, "qdrantstore: %s: %w", op, err)
	case codes.AlreadyExists:
		return quarry.Errorf(quarry.CodeConflict, "qdrantstore: %s: %w", op, err)
	case codes.DeadlineExceeded:
		return quarry.Errorf(quarry.CodeTimeout, "qdrantstore: %s: qdrant at %s did not answer in time: %w", op, addr, err)
	case codes.Canceled:
		return quarry.Errorf(quarry.CodeCanceled, "qdrantstore: %s: %w", op, err)
	}
	return quarry.Errorf(quarry.CodeInternal, "qdrantstore: %s: %w", op, err)
}
