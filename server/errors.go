package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/quarry-kb/quarry"
)

// StatusClientClosedRequest is the status recorded when the client went
// away before the response was written (nginx's 499). Nobody is left to
// read it; it exists so access logs tell a disconnect from a failure.
const StatusClientClosedRequest = 499

// Codes of errors found in a request before it reaches a route (see
// conn.go): they are about the HTTP message itself, not about Quarry.
const (
	// CodeHeadersTooLarge: the request line and headers are over
	// Config.MaxHeaderBytes (431).
	CodeHeadersTooLarge quarry.Code = "headers_too_large"
	// CodeBadRequest: the HTTP message is malformed (400), or uses a
	// protocol or transfer coding the server does not speak (505, 501).
	CodeBadRequest quarry.Code = "bad_request"
)

// statusOf maps a quarry error code to an HTTP status. It is the only
// place that does.
func statusOf(code quarry.Code) int {
	switch code {
	case CodeHeadersTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case CodeBadRequest:
		return http.StatusBadRequest
	case quarry.CodeInvalid:
		return http.StatusBadRequest
	case quarry.CodeNotFound:
		return http.StatusNotFound
	case quarry.CodeConflict:
		return http.StatusConflict
	case quarry.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case quarry.CodeUnsupported:
		return http.StatusUnsupportedMediaType
	case quarry.CodeUnavailable:
		return http.StatusServiceUnavailable
	case quarry.CodeTimeout:
		return http.StatusGatewayTimeout
	case quarry.CodeCanceled:
		return StatusClientClosedRequest
	case quarry.CodeUnauthenticated:
		return http.StatusUnauthorized
	case quarry.CodeForbidden:
		return http.StatusForbidden
	case quarry.CodeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// connErrorCode is the code of an error response written before any
// route ran, by net/http itself (which picks the status: 431, 400, 501,
// 505) or by the connection guard (408 for headers that came too
// slowly). Their statuses are net/http's; the codes say the same in the
// API's terms.
func connErrorCode(status int) quarry.Code {
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		return CodeHeadersTooLarge
	case http.StatusRequestTimeout:
		return quarry.CodeTimeout
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return quarry.CodeUnsupported
	}
	return CodeBadRequest
}

// errorJSON is the body of every error response and of the SSE error
// event.
type errorJSON struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    quarry.Code `json:"code"`
	Message string      `json:"message"`
}

// errorBody returns what a caller may see of err: its code and a message
// that never carries internals (quarry.ErrorMessage hides the text of
// internal errors).
func errorBody(err error) errorJSON {
	code := quarry.ErrorCode(err)
	return errorJSON{Error: errorDetail{Code: code, Message: quarry.ErrorMessage(err)}}
}

// classify returns the error to report for err, returned by work done
// under ctx. When ctx has ended, the backend's error is most likely a
// symptom of that (a canceled RPC, a broken stream), so the context's
// cause — the request timeout, the server shutting down, the client going
// away — is the better explanation. Errors the backend classified as the
// caller's fault are kept.
func classify(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	switch quarry.ErrorCode(err) {
	case quarry.CodeCanceled, quarry.CodeTimeout, quarry.CodeInternal, quarry.CodeUnavailable:
		return context.Cause(ctx)
	}
	return err
}

// fail answers r with err as a JSON error and logs what the caller is not
// shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	body := errorBody(err)
	status := statusOf(body.Error.Code)
	s.logError(r, status, err)
	s.writeJSON(w, r, status, body)
}

// logError logs a failed request: internal errors with their real text
// (which the caller never sees), other server-side failures as warnings,
// the caller's mistakes at debug level.
func (s *Server) logError(r *http.Request, status int, err error) {
	level := slog.LevelDebug
	switch {
	case status == http.StatusInternalServerError:
		level = slog.LevelError
	case status >= 500:
		level = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), level, "request failed",
		slog.String("request_id", RequestID(r.Context())),
		slog.Int("status", status),
		slog.String("code", string(quarry.ErrorCode(err))),
		slog.String("error", err.Error()),
	)
}

// errNoBackend is returned when the resolved backend lacks what a route
// needs.
func errNoBackend(what string) error {
	return quarry.Errorf(quarry.CodeUnavailable, "%s is not available on this server", what)
}
