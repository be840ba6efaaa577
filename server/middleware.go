package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
)

// RequestIDHeader carries a request's ID, in the request (honoured when
// well-formed) and in every response.
const RequestIDHeader = "X-Request-ID"

type requestIDKey struct{}

// RequestID returns the ID of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID takes the caller's X-Request-ID when it is a sane token
// (so a proxy's ID ties its logs to ours) and makes one up otherwise.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// validRequestID accepts 1 to 128 printable ASCII characters without
// spaces: enough for UUIDs and tracing IDs, nothing that could forge a
// log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of a response for the access
// log and the recoverer. It unwraps for http.ResponseController, so
// flushing and deadlines reach the real writer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *recorder) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// FlushError flushes the underlying writer; http.ResponseController
// prefers it to Flush, so a broken connection is reported.
func (w *recorder) FlushError() error {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is for code that type-asserts http.Flusher.
func (w *recorder) Flush() { _ = w.FlushError() }

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one line per request: method, path, route, status,
// size, duration and request ID. Never bodies, query strings or headers:
// they may hold questions, personal data or API keys.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			// Nothing to log (quarry serve --log-level warn): no
			// recorder, no attributes.
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if !rec.wrote {
				status = http.StatusOK
				if r.Context().Err() != nil {
					status = StatusClientClosedRequest
				}
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", chi.RouteContext(r.Context()).RoutePattern()),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", RequestID(r.Context())),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// recoverer turns a panic into a JSON 500 (when nothing was written yet)
// and logs it with its stack. http.ErrAbortHandler is re-panicked: it is
// net/http's way to abort a response on purpose.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())),
			)
			if rec, ok := w.(*recorder); ok && rec.wrote {
				// Headers (and maybe an SSE stream) are out: all we can
				// do is end the response.
				return
			}
			err := quarry.Errorf(quarry.CodeInternal, "panic: %v", v)
			s.writeJSON(w, r, http.StatusInternalServerError, errorBody(err))
		}()
		next.ServeHTTP(w, r)
	})
}
