package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"

	"github.com/quarry-kb/quarry"
)

// decodeJSON reads r's body, at most limit bytes, as exactly one JSON
// object into dst, refusing unknown fields. Its errors are coded and name
// the problem: the caller sees their text.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	return decodeBody(w, r, limit, dst, true)
}

// decodeBody reads one JSON object into dst; strict refuses unknown
// fields.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any, strict bool) error {
	if r.ContentLength > limit {
		// Refuse before reading: a client that sent "Expect:
		// 100-continue" then never sends the body, and one that did not
		// is not cut off mid-body (a connection reset instead of the 413).
		return quarry.Errorf(quarry.CodeTooLarge, "request body is larger than the limit of %d bytes", limit)
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		isJSON := err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
		// curl -d sends a JSON body as a form; take it when it is JSON.
		if !isJSON && err == nil && mt == "application/x-www-form-urlencoded" {
			br := bufio.NewReader(body)
			body, isJSON = br, startsObject(br)
		}
		if !isJSON {
			return quarry.Errorf(quarry.CodeUnsupported, "request body must be JSON (Content-Type: application/json), got Content-Type %q", ct)
		}
	}
	dec := json.NewDecoder(body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, dst)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return quarry.Errorf(quarry.CodeInvalid, "request body must hold one JSON object, found more JSON after it")
	default:
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err, dst)
		}
		return quarry.Errorf(quarry.CodeInvalid, "request body must hold one JSON object, found trailing data after it")
	}
}

// decodeError turns an encoding/json error into a coded error that says
// what is wrong with the body.
func decodeError(err error, dst any) error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.Is(err, io.EOF):
		return quarry.Errorf(quarry.CodeInvalid, "request body is empty: send a JSON object")
	case errors.As(err, &tooLarge):
		return quarry.Errorf(quarry.CodeTooLarge, "request body is larger than the limit of %d bytes", tooLarge.Limit)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return quarry.Errorf(quarry.CodeInvalid, "request body is not valid JSON: it ends in the middle of a value")
	case errors.As(err, &syntax):
		return quarry.Errorf(quarry.CodeInvalid, "request body is not valid JSON (at byte %d): %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return quarry.Errorf(quarry.CodeInvalid, "request body must be a JSON object, not %s", article(typ.Value))
		}
		return quarry.Errorf(quarry.CodeInvalid, "field %q must be %s, got %s", typ.Field, article(jsonKind(typ.Type)), typ.Value)
	case errors.As(err, &unmarshal):
		// A programming error (dst not a pointer), not the caller's.
		return fmt.Errorf("decode request into %T: %w", dst, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return quarry.Errorf(quarry.CodeInvalid, "request body has an unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	// Reading the body failed. The error's text names the connection's
	// socket addresses: the caller sees a message of its own.
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return quarry.Errorf(quarry.CodeTimeout, "the request body did not arrive in time")
	}
	return quarry.Errorf(quarry.CodeInvalid, "the request body could not be read (the connection failed)")
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// article prefixes a JSON type name with "a" or "an".
func article(kind string) string {
	switch {
	case kind == "":
		return "a value"
	case strings.ContainsRune("aeiou", rune(kind[0])):
		return "an " + kind
	}
	return "a " + kind
}

// startsObject reports whether the body's first non-space byte is "{".
func startsObject(r *bufio.Reader) bool {
	for n := 1; n <= 64; n++ {
		b, err := r.Peek(n)
		if len(b) < n {
			return false
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			if err != nil {
				return false
			}
			continue
		default:
			return c == '{'
		}
	}
	return false
}
