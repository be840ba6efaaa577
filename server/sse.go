package server

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/quarry-kb/quarry"
)

// streamAnswer runs asker and relays its events to the client as
// Server-Sent Events, one event per quarry.Event, each flushed:
//
//	event: delta
//	data: {"type":"delta","delta":"Quarry indexes"}
//
// The stream opens (200, text/event-stream) with the first event, so an
// error before any event is a plain JSON error with its status. The done
// event is written by the server after Ask returns, from the Answer it
// returned, so the stream always ends with exactly one done — or, if Ask
// failed after the stream opened, with one error event carrying the JSON
// error body. A failed write (the client left) cancels the context given
// to Ask and makes send return an error.
func (s *Server) streamAnswer(w http.ResponseWriter, r *http.Request, asker Asker, req quarry.AskRequest) {
	ctx, cancelTimeout := s.withTimeout(r.Context(), s.cfg.StreamTimeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	st := &eventStream{newSSEStream(w, cancel)}
	// Sends from goroutines the Asker leaves behind (even after a panic)
	// must never touch a finished response.
	defer st.close()
	send := func(ev quarry.Event) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		switch ev.Type {
		case quarry.EventPassages:
			return st.send(ev.Type, passagesEventJSON{Type: ev.Type, Passages: toPassages(ev.Passages)})
		case quarry.EventDelta:
			return st.send(ev.Type, deltaEventJSON{Type: ev.Type, Delta: ev.Delta})
		case quarry.EventCitations:
			return st.send(ev.Type, citationsEventJSON{Type: ev.Type, Citations: toCitations(ev.Citations)})
		case quarry.EventDone:
			return st.markDone()
		case quarry.EventError:
			return quarry.Errorf(quarry.CodeInternal, "asker sent an error event: return the error from Ask instead")
		}
		if !validEventName(ev.Type) {
			return quarry.Errorf(quarry.CodeInternal, "asker sent an event with invalid type %q", ev.Type)
		}
		return st.send(ev.Type, ev) // a newer event type, relayed as it is
	}

	ans, err := asker.Ask(ctx, req, send)
	started := st.close()
	if err != nil {
		err = classify(ctx, err)
		if !started {
			s.fail(w, r, err)
			return
		}
		body := errorBody(err)
		s.logError(r, statusOf(body.Error.Code), err)
		st.final(quarry.EventError, body)
		return
	}
	st.final(quarry.EventDone, doneEventJSON{Type: quarry.EventDone, Answer: toAnswer(ans)})
}

// errStreamClosed is what send returns once Ask has returned: the
// response is finished and must not be written to.
var errStreamClosed = quarry.Errorf(quarry.CodeInternal, "event sent after Ask returned")

// sseStream is what both streaming APIs share: a response that opens on
// its first write, whose life is Asker sending, then done, then Ask
// returned (closed), and that dies on the first failed write. Its
// methods are safe for concurrent use, since an Asker may send from its
// own goroutines; the ...Locked ones expect mu held.
type sseStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	started bool  // headers are out
	done    bool  // the Asker sent done: nothing may follow
	closed  bool  // Ask returned
	err     error // the first write error; the stream is dead
	buf     []byte
}

func newSSEStream(w http.ResponseWriter, cancel context.CancelCauseFunc) sseStream {
	return sseStream{w: w, rc: http.NewResponseController(w), cancel: cancel}
}

// usableLocked reports why an event named what may not be sent now, or
// the stream's write error.
func (st *sseStream) usableLocked(what string) error {
	switch {
	case st.closed:
		return errStreamClosed
	case st.done:
		return quarry.Errorf(quarry.CodeInternal, "%s event sent after done", what)
	}
	return st.err
}

func (st *sseStream) markDone() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return errStreamClosed
	}
	st.done = true
	return st.err
}

// close stops further sends and reports whether the stream has opened.
func (st *sseStream) close() (started bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	return st.started
}

// writeRawLocked writes p (whole events), sending the headers first if
// they are not out, and flushes. A failure kills the stream: it is
// recorded, cancels the request's work, and every later write returns
// it. what names the event in that error.
func (st *sseStream) writeRawLocked(p []byte, what string) error {
	if st.err != nil {
		return st.err
	}
	if !st.started {
		h := st.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		h.Del("Content-Length")
		st.w.WriteHeader(http.StatusOK)
		st.started = true
	}
	_, err := st.w.Write(p)
	if err == nil {
		if ferr := st.rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
			err = ferr
		}
	}
	if err != nil {
		st.err = quarry.Errorf(quarry.CodeCanceled, "write %s: %w", what, err)
		st.cancel(st.err)
		return st.err
	}
	return nil
}

// eventStream writes the SSE events of /v1/ask.
type eventStream struct {
	sseStream
}

func (st *eventStream) send(name string, v any) error {
	data, err := marshal(v)
	if err != nil {
		return quarry.Errorf(quarry.CodeInternal, "encode %s event: %w", name, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.usableLocked(name); err != nil {
		return err
	}
	return st.writeLocked(name, data)
}

// final writes the last event, after close.
func (st *eventStream) final(name string, v any) {
	data, err := marshal(v)
	if err != nil {
		data, _ = marshal(errorBody(quarry.ErrInternal))
		name = quarry.EventError
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	_ = st.writeLocked(name, data) // a failure means the client is gone
}

func (st *eventStream) writeLocked(name string, data []byte) error {
	if st.err != nil {
		return st.err
	}
	// data is one line of JSON ending in "\n" (JSON escapes newlines in
	// strings), so one data line suffices; the blank line ends the event.
	st.buf = append(st.buf[:0], "event: "...)
	st.buf = append(st.buf, name...)
	st.buf = append(st.buf, "\ndata: "...)
	st.buf = append(st.buf, data...)
	st.buf = append(st.buf, '\n')
	return st.writeRawLocked(st.buf, name+" event")
}

// validEventName accepts the names an SSE event line can carry safely.
func validEventName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
