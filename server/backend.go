package server

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/quarry-kb/quarry"
)

// Searcher returns the passages that best match a query.
type Searcher interface {
	Search(ctx context.Context, req quarry.SearchRequest) (quarry.SearchResult, error)
}

// Asker answers a question grounded in retrieved passages. It streams
// its progress through send, in the order passages, deltas, citations,
// done; an error from send means the client is gone (or the stream
// broke) and Ask should stop and return.
type Asker interface {
	Ask(ctx context.Context, req quarry.AskRequest, send func(quarry.Event) error) (quarry.Answer, error)
}

// Backend is what one request is served by: one knowledge base's
// searcher and asker. Either may be nil when the knowledge base does not
// offer it (for example no language model is configured); the matching
// route then answers 503.
type Backend struct {
	Searcher Searcher
	Asker    Asker
}

// ResolveFunc picks the backend for a request. The server calls it once
// per request, after routing (so chi URL parameters are available), and
// never caches the result: a resolver that reads a value swapped at run
// time makes an index rebuild take effect without a restart. Its error
// is answered like any other (a quarry.ErrNotFound becomes 404).
type ResolveFunc func(r *http.Request) (Backend, error)

// Live holds a Backend that can be replaced while the server runs, for
// example when an index has been rebuilt. Requests already running keep
// the backend they started with; the next request sees the new one.
// Closing the old backend is the caller's business: wait until requests
// that may still use it have finished (see Config.Timeout and
// Config.StreamTimeout).
type Live struct {
	p atomic.Pointer[Backend]
}

// NewLive returns a Live holding b.
func NewLive(b Backend) *Live {
	l := &Live{}
	l.p.Store(&b)
	return l
}

// Load returns the current backend.
func (l *Live) Load() Backend {
	if b := l.p.Load(); b != nil {
		return *b
	}
	return Backend{}
}

// Swap replaces the backend and returns the previous one.
func (l *Live) Swap(b Backend) (old Backend) {
	if o := l.p.Swap(&b); o != nil {
		return *o
	}
	return Backend{}
}

// Resolve is a ResolveFunc that returns the current backend.
func (l *Live) Resolve(*http.Request) (Backend, error) { return l.Load(), nil }
