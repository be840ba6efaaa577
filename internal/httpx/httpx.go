// Package httpx is the HTTP plumbing Quarry's model adapters share (the
// OpenAI-compatible and Ollama chat and embedding clients): one request
// loop with per-attempt timeouts, retries with exponential back-off and
// jitter on 429, 5xx and network errors, Retry-After honoured (and
// capped), error responses turned into quarry error codes, and bounded
// batching for embedders. Adapters never import each other; what they
// have in common lives here.
//
// The package never logs and never puts request headers (API keys) into
// errors.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
)

// Defaults for Client and Policy fields left zero.
const (
	DefaultTimeout       = 2 * time.Minute
	DefaultMaxRetries    = 3
	DefaultBaseDelay     = 500 * time.Millisecond
	DefaultMaxDelay      = 20 * time.Second
	DefaultMaxRetryAfter = time.Minute
	// MaxErrorBody is how much of an error response is read for its message.
	MaxErrorBody = 64 << 10
)

// Policy says when and how long to wait before retrying. The zero Policy
// retries three times with back-off starting at half a second.
type Policy struct {
	// MaxRetries is the number of retries after the first attempt: 0
	// means DefaultMaxRetries, a negative value means none.
	MaxRetries int
	// BaseDelay is the back-off before the first retry; it doubles with
	// every retry, up to MaxDelay, and is jittered to between half and
	// all of that.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter caps how long a server's Retry-After may make us
	// wait (0 means DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Sleep waits for d or until ctx is done; nil means a real timer.
	// Tests inject a recorder so that they do not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for HTTP-date Retry-After values; nil means
	// time.Now.
	Now func() time.Time
	// Jitter returns a number in [0, 1); nil means math/rand/v2.
	Jitter func() float64
}

func (p Policy) maxRetries() int {
	switch {
	case p.MaxRetries < 0:
		return 0
	case p.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return p.MaxRetries
}

func (p Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Backoff returns the wait before retry number n (0 for the first
// retry): BaseDelay·2ⁿ capped at MaxDelay, jittered to between half and
// all of that so that many clients do not retry in step.
func (p Policy) Backoff(n int) time.Duration {
	base, maxd := p.BaseDelay, p.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if maxd <= 0 {
		maxd = DefaultMaxDelay
	}
	d := base
	for i := 0; i < n && d < maxd; i++ {
		d *= 2
	}
	d = min(d, maxd)
	j := rand.Float64
	if p.Jitter != nil {
		j = p.Jitter
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

func (p Policy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseRetryAfter reads a Retry-After header value: a number of seconds
// or an HTTP date. A date in the past means no wait. ok is false when v
// is empty or malformed.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) { // absurd; avoid overflow
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryAfter returns the wait a response asks for (Retry-After, or the
// Retry-After-Ms some OpenAI-compatible servers send), capped.
func (p Policy) retryAfter(h http.Header) (time.Duration, bool) {
	limit := p.MaxRetryAfter
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	if ms, err := strconv.ParseInt(strings.TrimSpace(h.Get("Retry-After-Ms")), 10, 64); err == nil && ms >= 0 {
		return min(time.Duration(ms)*time.Millisecond, limit), true
	}
	if d, ok := ParseRetryAfter(h.Get("Retry-After"), p.now()); ok {
		return min(d, limit), true
	}
	return 0, false
}

// Client sends requests to one model service. Its zero value (with
// Service set) is usable; it is safe for concurrent use.
type Client struct {
	// Service names the backend in errors, e.g. "openai" or "ollama".
	Service string
	// HTTP sends the requests; nil means a client of its own. Its own
	// Timeout, if any, applies on top of Timeout below.
	HTTP *http.Client
	// Header is sent with every request (Authorization, for example). It
	// never appears in errors.
	Header http.Header
	// Secret, when set, is blanked out of any error message (some
	// servers echo a wrong API key back).
	Secret string
	// Timeout bounds one attempt, from sending the request to the end
	// of reading the response (a whole stream included); 0 means
	// DefaultTimeout.
	Timeout time.Duration
	Retry   Policy
	// ErrorMessage extracts the message from an error response's body;
	// nil means ErrorMessage (the package function).
	ErrorMessage func(body []byte) string
	// OnRetry, when set, is told about every retry before its wait
	// (attempt counts from 1). cmd/quarry may log it; tests count it.
	OnRetry func(attempt int, wait time.Duration, err error)

	owned *http.Client // made by New; released by Close
}

// Request is one HTTP call. Body is sent as JSON.
type Request struct {
	Method string // "" means POST
	URL    string
	Body   []byte
	Header http.Header // per request, added to Client.Header
}

// retryable marks an error from a read callback that may be retried.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Retryable marks err, returned by a Do read callback, as safe to retry:
// the response failed before anything of it was handed on (a body cut
// short before the first streamed delta, for example). Once the caller
// has received data, return the plain error instead.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryable{err}
}

// Do sends req and hands a successful (2xx) response to read, which must
// consume what it needs of the body; Do closes it. Network errors, 408,
// 429 and 5xx responses (except 501 and 505), and read errors marked
// with Retryable are retried according to c.Retry: the wait honours a
// Retry-After header (capped by Policy.MaxRetryAfter), otherwise it
// backs off exponentially with jitter, and a wait that would outlast
// ctx's deadline is not started. Other statuses fail at once.
//
// Errors are quarry errors: CodeCanceled or CodeTimeout when ctx is done,
// CodeTimeout when an attempt outlasts Timeout, and for failed responses
// see StatusError. Errors read returns unmarked are returned unchanged,
// so an error from a caller's callback reaches the caller as it was.
func (c *Client) Do(ctx context.Context, req Request, read func(*http.Response) error) error {
	retries := c.Retry.maxRetries()
	for attempt := 0; ; attempt++ {
		err, wait, again := c.attempt(ctx, req, attempt+1, read)
		if !again {
			return err
		}
		if attempt >= retries {
			return finalError(err)
		}
		if !wait.ok {
			wait.d = c.Retry.Backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && c.Retry.now().Add(wait.d).After(dl) {
			return finalError(err) // waiting would outlast the caller
		}
		if c.OnRetry != nil {
			c.OnRetry(attempt+1, wait.d, finalError(err))
		}
		if serr := c.Retry.sleep(ctx, wait.d); serr != nil {
			return c.ctxError(ctx, serr)
		}
	}
}

type waitHint struct {
	d  time.Duration
	ok bool // d comes from the server
}

// pending is an error that may still be retried; finalError turns it
// into what Do returns when it gives up.
type pending struct {
	final error
}

func (p *pending) Error() string { return p.final.Error() }

func finalError(err error) error {
	var p *pending
	if errors.As(err, &p) {
		return p.final
	}
	var r *retryable
	if errors.As(err, &r) {
		return r.err
	}
	return err
}

// attempt makes one try. again reports whether a retry may help.
func (c *Client) attempt(ctx context.Context, req Request, n int, read func(*http.Response) error) (err error, wait waitHint, again bool) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(actx, method, req.URL, body)
	if err != nil {
		return quarry.Errorf(quarry.CodeInvalid, "%s: bad request URL: %w", c.Service, err), waitHint{}, false
	}
	for k, vs := range c.Header {
		hreq.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range req.Header {
		hreq.Header[k] = append([]string(nil), vs...)
	}
	if req.Body != nil && hreq.Header.Get("Content-Type") == "" {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if hreq.Header.Get("Accept") == "" {
		hreq.Header.Set("Accept", "application/json")
	}

	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return c.ctxError(ctx, ctx.Err()), waitHint{}, false
		}
		if actx.Err() != nil {
			return quarry.Errorf(quarry.CodeTimeout, "%s: no response within %s", c.Service, timeout), waitHint{}, false
		}
		return &pending{quarry.Errorf(quarry.CodeUnavailable, "%s: cannot reach the server (%d attempts): %w",
			c.Service, n, c.redactErr(err))}, waitHint{}, true
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
		msgf := c.ErrorMessage
		if msgf == nil {
			msgf = ErrorMessage
		}
		msg := c.redact(msgf(raw))
		serr := StatusError(c.Service, resp.StatusCode, msg, n)
		if !retryStatus(resp.StatusCode) {
			return serr, waitHint{}, false
		}
		d, ok := c.Retry.retryAfter(resp.Header)
		return &pending{serr}, waitHint{d, ok}, true
	}

	err = read(resp)
	if err == nil {
		return nil, waitHint{}, false
	}
	var r *retryable
	if errors.As(err, &r) {
		if ctx.Err() != nil {
			return c.ctxError(ctx, ctx.Err()), waitHint{}, false
		}
		if actx.Err() != nil {
			return quarry.Errorf(quarry.CodeTimeout, "%s: no complete response within %s", c.Service, timeout), waitHint{}, false
		}
		return err, waitHint{}, true
	}
	return err, waitHint{}, false
}

// ReadError classifies a failure to read a 2xx response's body. ctx is
// the caller's context; delivered reports whether any of the response
// was already handed on (a streamed delta): before that the failure is
// marked Retryable, after it the error is CodeUnavailable "stream
// interrupted". A done ctx gives CodeCanceled or CodeTimeout, an attempt
// that ran out of time CodeTimeout.
func (c *Client) ReadError(ctx context.Context, resp *http.Response, err error, delivered bool) error {
	if ctx.Err() != nil {
		return c.ctxError(ctx, ctx.Err())
	}
	if resp != nil && resp.Request != nil && resp.Request.Context().Err() != nil {
		return quarry.Errorf(quarry.CodeTimeout, "%s: response not complete within the %s timeout", c.Service, c.timeout())
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if delivered {
		return quarry.Errorf(quarry.CodeUnavailable, "%s: stream interrupted: %w", c.Service, c.redactErr(err))
	}
	return Retryable(quarry.Errorf(quarry.CodeUnavailable, "%s: response interrupted: %w", c.Service, c.redactErr(err)))
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// ReadJSON reads a whole (not streamed) response body of at most limit
// bytes and decodes it into v. A failure to read is classified by
// ReadError; a longer body, or one that is not JSON of v's shape, is
// Malformed.
func (c *Client) ReadJSON(ctx context.Context, resp *http.Response, limit int64, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return c.ReadError(ctx, resp, err, false)
	}
	if int64(len(b)) > limit {
		return c.Malformed(fmt.Errorf("response over %d bytes", limit))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return c.Malformed(err)
	}
	return nil
}

// Malformed returns the error for a response body that is not what the
// API promises.
func (c *Client) Malformed(err error) error {
	return quarry.Errorf(quarry.CodeUnavailable, "%s: malformed response: %w", c.Service, c.redactErr(err))
}

func (c *Client) ctxError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return quarry.Errorf(quarry.CodeTimeout, "%s: %w", c.Service, err)
	}
	return quarry.Errorf(quarry.CodeCanceled, "%s: %w", c.Service, err)
}

func (c *Client) redact(s string) string {
	if c.Secret == "" || len(c.Secret) < 4 {
		return s
	}
	return strings.ReplaceAll(s, c.Secret, "[redacted]")
}

// redactErr keeps err in the chain (for errors.Is) unless its text holds
// the secret.
func (c *Client) redactErr(err error) error {
	if c.Secret == "" || len(c.Secret) < 4 || !strings.Contains(err.Error(), c.Secret) {
		return err
	}
	return errors.New(c.redact(err.Error()))
}

// retryStatus reports whether a response status is worth retrying.
func retryStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500
}

// StatusError turns a failed response into a quarry error. msg is the
// message from its body, attempts how many tries were made.
//
//	400, 422  CodeInvalid      the request was rejected
//	401, 403  CodeUnavailable  "check the API key"
//	404       CodeNotFound     "check the model name and base URL"
//	413       CodeTooLarge
//	429       CodeUnavailable  "rate limited"
//	5xx       CodeUnavailable
func StatusError(service string, status int, msg string, attempts int) error {
	st := strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		st += " " + t
	}
	if msg != "" {
		msg = ": " + msg
	}
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" after %d attempts", attempts)
	}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return quarry.Errorf(quarry.CodeInvalid, "%s: request rejected (%s)%s", service, st, msg)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return quarry.Errorf(quarry.CodeUnavailable, "%s: not authorized (%s)%s; check the API key", service, st, msg)
	case status == http.StatusNotFound:
		return quarry.Errorf(quarry.CodeNotFound, "%s: not found (%s)%s; check the model name and the base URL", service, st, msg)
	case status == http.StatusRequestEntityTooLarge:
		return quarry.Errorf(quarry.CodeTooLarge, "%s: request too large (%s)%s", service, st, msg)
	case status == http.StatusTooManyRequests:
		return quarry.Errorf(quarry.CodeUnavailable, "%s: rate limited (%s)%s%s", service, st, tries, msg)
	case status >= 500:
		return quarry.Errorf(quarry.CodeUnavailable, "%s: server error (%s)%s%s", service, st, tries, msg)
	}
	return quarry.Errorf(quarry.CodeUnavailable, "%s: unexpected response (%s)%s%s", service, st, tries, msg)
}
