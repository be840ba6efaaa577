// Package webhook posts signed JSON events to an operator's HTTP
// endpoint, with retries: the hand-offs of a reply strategy go out
// through it.
//
// Every request carries
//
//	X-Quarry-Event:     the event name ("escalation")
//	X-Quarry-Delivery:  the event's id, the same on every attempt (deduplicate on it)
//	X-Quarry-Timestamp: Unix seconds when the attempt was signed
//	X-Quarry-Signature: sha256=HEX, HMAC-SHA256 with the shared secret of
//	                    TIMESTAMP + "." + BODY
//
// so a receiver can check that the body came from Quarry (Verify does)
// and reject old timestamps, which stops replays. A 2xx answer is
// success; 5xx, 408, 429, timeouts and connection errors are retried
// with exponential back-off; any other status is a permanent failure.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Header names.
const (
	HeaderEvent     = "X-Quarry-Event"
	HeaderDelivery  = "X-Quarry-Delivery"
	HeaderTimestamp = "X-Quarry-Timestamp"
	HeaderSignature = "X-Quarry-Signature"
)

// Defaults for the zero values of Config and Target.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxAttempts  = 4
	DefaultBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultCloseTimeout = 10 * time.Second
	DefaultTolerance    = 5 * time.Minute
)

// Target is where and how one event is delivered.
type Target struct {
	URL         string
	Secret      string        // HMAC key; empty sends the event unsigned
	Timeout     time.Duration // per attempt; default 5s
	MaxAttempts int           // default 4
}

// Config configures a Dispatcher; zero values mean defaults.
type Config struct {
	Client       *http.Client // default: a client without a global timeout (attempts have their own)
	Backoff      time.Duration
	MaxBackoff   time.Duration
	CloseTimeout time.Duration // how long Close waits for deliveries in flight
	Logger       *slog.Logger
}

// Stats counts deliveries.
type Stats struct {
	Delivered int64 `json:"delivered"` // events a receiver accepted
	Failed    int64 `json:"failed"`    // events given up on
	Attempts  int64 `json:"attempts"`  // requests sent
	Retries   int64 `json:"retries"`   // attempts after a first one
	Pending   int64 `json:"pending"`   // events being delivered now
}

// Dispatcher delivers events in the background. It is safe for
// concurrent use.
type Dispatcher struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	delivered, failed, attempts, retries, pending atomic.Int64
}

// New returns a Dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel}
}

// Stats returns the counts so far.
func (d *Dispatcher) Stats() Stats {
	return Stats{Delivered: d.delivered.Load(), Failed: d.failed.Load(), Attempts: d.attempts.Load(),
		Retries: d.retries.Load(), Pending: d.pending.Load()}
}

// Post encodes payload as JSON and delivers it in the background.
// Failures are logged and counted (Stats).
func (d *Dispatcher) Post(t Target, event, id string, payload any) {
	body, err := json.Marshal(payload)
	if err != nil {
		d.failed.Add(1)
		d.log.Error("webhook: encode event", "event", event, "id", id, "err", err)
		return
	}
	if d.closed.Load() {
		d.failed.Add(1)
		d.log.Error("webhook: dispatcher closed, event dropped", "event", event, "id", id)
		return
	}
	d.wg.Add(1)
	d.pending.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.pending.Add(-1)
		if err := d.Deliver(d.ctx, t, event, id, body); err != nil {
			d.log.Error("webhook: delivery failed", "event", event, "id", id, "url", redact(t.URL), "err", err)
		}
	}()
}

// Deliver sends body to t, retrying as the package comment says, and
// returns the last error if it never succeeded.
func (d *Dispatcher) Deliver(ctx context.Context, t Target, event, id string, body []byte) error {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	max := t.MaxAttempts
	if max <= 0 {
		max = DefaultMaxAttempts
	}
	var err error
	for attempt := 1; attempt <= max; attempt++ {
		if attempt > 1 {
			d.retries.Add(1)
			if werr := sleep(ctx, d.backoff(attempt-1)); werr != nil {
				err = fmt.Errorf("%w (after: %w)", werr, err)
				break
			}
		}
		d.attempts.Add(1)
		var retry bool
		retry, err = d.attempt(ctx, t, timeout, event, id, body)
		if err == nil {
			d.delivered.Add(1)
			return nil
		}
		d.log.Warn("webhook: attempt failed", "event", event, "id", id, "attempt", attempt, "retry", retry && attempt < max, "err", err)
		if !retry {
			break
		}
	}
	d.failed.Add(1)
	return err
}

func (d *Dispatcher) attempt(ctx context.Context, t Target, timeout time.Duration, event, id string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Quarry-Webhook/1")
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if t.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(t.Secret, ts, body))
	}
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: %w", err) // connection errors and timeouts
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("webhook: %s answered %s", redact(t.URL), resp.Status)
	}
	return false, fmt.Errorf("webhook: %s answered %s (not retried)", redact(t.URL), resp.Status)
}

// backoff is the wait before retry n (1-based): Backoff·2^(n-1), capped,
// with up to 25% jitter.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.Backoff << (n - 1)
	if b > d.cfg.MaxBackoff || b <= 0 {
		b = d.cfg.MaxBackoff
	}
	return b + time.Duration(rand.Int64N(int64(b)/4+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close stops accepting events and waits up to CloseTimeout for those
// in flight, then cancels them.
func (d *Dispatcher) Close() error {
	d.closed.Store(true)
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.CloseTimeout):
		d.cancel()
		<-done
	}
	d.cancel()
	return nil
}

// Wait waits until no event is being delivered (for tests and for an
// orderly shutdown).
func (d *Dispatcher) Wait() { d.wg.Wait() }

// redact drops the query string of a URL (it may carry a token).
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// Sign returns the X-Quarry-Signature value for body signed at ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance (replayed or clock skew)")
)

// Verify checks a received request's signature and timestamp headers
// against body: what a receiver does (in any language: HMAC-SHA256 of
// timestamp + "." + body, compared in constant time, and the timestamp
// within tolerance of now). tolerance 0 means 5 minutes.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: bad timestamp %q", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}
