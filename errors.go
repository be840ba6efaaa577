package quarry

import (
	"context"
	"errors"
	"fmt"
)

// Code classifies an error for callers: the HTTP layer maps codes to
// statuses in one place, the CLI to exit messages.
type Code string

// Error codes.
const (
	CodeInvalid     Code = "invalid"     // the caller's input is wrong
	CodeNotFound    Code = "not_found"   // the thing asked for does not exist
	CodeConflict    Code = "conflict"    // the request conflicts with existing state (e.g. mixing embedders)
	CodeTooLarge    Code = "too_large"   // input over a limit
	CodeUnsupported Code = "unsupported" // a file type or feature Quarry does not handle
	CodeUnavailable Code = "unavailable" // a backend is down or not ready; retrying may help
	CodeTimeout     Code = "timeout"     // a deadline passed
	CodeCanceled    Code = "canceled"    // the caller went away
	CodeInternal    Code = "internal"    // a bug or an unexpected failure

	CodeUnauthenticated Code = "unauthenticated" // no API key, or one that is unknown, revoked or expired
	CodeForbidden       Code = "forbidden"       // the key lacks a scope, a knowledge base or the origin the request needs
	CodeRateLimited     Code = "rate_limited"    // too many requests; retry after a while
)

// Error is an error with a Code. Match codes with errors.Is against the
// sentinels below: errors.Is(err, quarry.ErrNotFound).
type Error struct {
	Code    Code
	Message string // the whole text of the error, cause included
	Err     error  // the cause, for errors.Is and errors.As
}

func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return string(e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel for e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels, one per code, for errors.Is.
var (
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrConflict    = &Error{Code: CodeConflict}
	ErrTooLarge    = &Error{Code: CodeTooLarge}
	ErrUnsupported = &Error{Code: CodeUnsupported}
	ErrUnavailable = &Error{Code: CodeUnavailable}
	ErrTimeout     = &Error{Code: CodeTimeout}
	ErrCanceled    = &Error{Code: CodeCanceled}
	ErrInternal    = &Error{Code: CodeInternal}

	ErrUnauthenticated = &Error{Code: CodeUnauthenticated}
	ErrForbidden       = &Error{Code: CodeForbidden}
	ErrRateLimited     = &Error{Code: CodeRateLimited}
)

// Errorf returns an *Error with the given code; format may use %w to
// wrap a cause.
func Errorf(code Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain. Context
// errors map to CodeCanceled and CodeTimeout; anything else is
// CodeInternal. A nil error has no code ("").
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	return CodeInternal
}

// ErrorMessage returns a message for err that is safe to show a caller:
// the error text for coded errors, a generic text for internal ones.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return err.Error()
	}
	switch ErrorCode(err) {
	case CodeTimeout:
		return "the request timed out"
	case CodeCanceled:
		return "the request was canceled"
	}
	return "internal error"
}
