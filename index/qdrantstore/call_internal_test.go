package qdrantstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// qdrantErr wraps err the way the high-level client does, to check that
// codes survive wrapping.
type qdrantErr struct{ err error }

func (e qdrantErr) Error() string { return "Query() failed: coll: " + e.err.Error() }
func (e qdrantErr) Unwrap() error { return e.err }

func TestTranslate(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	bg := context.Background()

	for _, tc := range []struct {
		name    string
		ctx     context.Context
		err     error
		want    quarry.Code
		mention string // the message must contain it
	}{
		{"unavailable", bg, status.Error(codes.Unavailable, "connection refused"), quarry.CodeUnavailable, "host:6334"},
		{"resource exhausted", bg, status.Error(codes.ResourceExhausted, "too many requests"), quarry.CodeUnavailable, "overloaded"},
		{"retry-after", bg, &qdrant.QdrantResourceExhaustedError{Reason: "rate", RetryAfterS: 7}, quarry.CodeUnavailable, "retry after 7s"},
		{"invalid argument", bg, status.Error(codes.InvalidArgument, "Wrong input: Vector dimension error"), quarry.CodeInvalid, "dimension"},
		{"not found", bg, status.Error(codes.NotFound, "Collection `c` doesn't exist!"), quarry.CodeNotFound, "doesn't exist"},
		{"already exists", bg, status.Error(codes.AlreadyExists, "Collection `c` already exists!"), quarry.CodeConflict, "already exists"},
		{"deadline exceeded", bg, status.Error(codes.DeadlineExceeded, "deadline"), quarry.CodeTimeout, "did not answer in time"},
		{"canceled", bg, status.Error(codes.Canceled, "canceled"), quarry.CodeCanceled, "canceled"},
		{"unauthenticated", bg, status.Error(codes.Unauthenticated, "Must provide an API key"), quarry.CodeUnavailable, "API key"},
		{"permission denied", bg, status.Error(codes.PermissionDenied, "read-only key"), quarry.CodeUnavailable, "API key"},
		{"internal", bg, status.Error(codes.Internal, "panic"), quarry.CodeInternal, "panic"},
		{"unimplemented", bg, status.Error(codes.Unimplemented, "old server"), quarry.CodeInternal, "old server"},
		{"failed precondition", bg, status.Error(codes.FailedPrecondition, "x"), quarry.CodeInternal, "x"},
		{"wrapped status", bg, qdrantErr{status.Error(codes.NotFound, "gone")}, quarry.CodeNotFound, "gone"},
		{"plain error", bg, errors.New("boom"), quarry.CodeInternal, "boom"},
		{"caller canceled", canceled, status.Error(codes.Canceled, "context canceled"), quarry.CodeCanceled, "context canceled"},
		{"caller canceled during back-off", canceled, status.Error(codes.Unavailable, "down"), quarry.CodeCanceled, "down"},
		{"caller deadline", expired, status.Error(codes.DeadlineExceeded, "deadline"), quarry.CodeTimeout, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := translate(tc.ctx, "host:6334", "search \"c\"", tc.err)
			if got := quarry.ErrorCode(err); got != tc.want {
				t.Errorf("code = %q, want %q (error %q)", got, tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), `search "c"`) {
				t.Errorf("error %q should name the operation and mention %q", err, tc.mention)
			}
			if tc.ctx == bg && !errors.Is(err, tc.err) {
				t.Errorf("error %q does not wrap the cause", err)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unavailable, ""), true},
		{status.Error(codes.ResourceExhausted, ""), true},
		{status.Error(codes.DeadlineExceeded, ""), true},
		{qdrantErr{status.Error(codes.Unavailable, "")}, true},
		{&qdrant.QdrantResourceExhaustedError{RetryAfterS: 1}, true},
		{status.Error(codes.InvalidArgument, ""), false},
		{status.Error(codes.NotFound, ""), false},
		{status.Error(codes.AlreadyExists, ""), false},
		{status.Error(codes.Unauthenticated, ""), false},
		{status.Error(codes.Canceled, ""), false},
		{status.Error(codes.Internal, ""), false},
		{errors.New("plain"), false},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			if got := retryable(tc.err); got != tc.want {
				t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	base := 200 * time.Millisecond
	for _, tc := range []struct {
		name     string
		attempt  int
		err      error
		min, max time.Duration
	}{
		{"first", 0, nil, 100 * time.Millisecond, 300 * time.Millisecond},
		{"second doubles", 1, nil, 200 * time.Millisecond, 600 * time.Millisecond},
		{"fourth", 3, nil, 800 * time.Millisecond, 2400 * time.Millisecond},
		{"capped", 40, nil, maxBackoff / 2, maxBackoff * 3 / 2},
		{"retry-after wins", 0, &qdrant.QdrantResourceExhaustedError{RetryAfterS: 5}, 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 100 { // the jitter is random: every draw must be in range
				if d := backoff(base, tc.attempt, tc.err); d < tc.min || d > tc.max {
					t.Fatalf("backoff(%v, %d) = %v, want within [%v, %v]", base, tc.attempt, d, tc.min, tc.max)
				}
			}
		})
	}
}

func TestChunkOfRejects(t *testing.T) {
	good := func() map[string]*qdrant.Value {
		return payloadOf(quarry.Chunk{ID: "d#0", DocID: "d", Page: 2})
	}
	for _, tc := range []struct {
		name   string
		mutate func(map[string]*qdrant.Value)
		ok     bool
	}{
		{"good", func(map[string]*qdrant.Value) {}, true},
		{"page as double", func(p map[string]*qdrant.Value) { p["page"] = qdrant.NewValueDouble(2) }, true},
		{"only ids", func(p map[string]*qdrant.Value) {
			for k := range p {
				if k != "chunk_id" && k != "doc_id" {
					delete(p, k)
				}
			}
		}, true},
		{"no chunk id", func(p map[string]*qdrant.Value) { delete(p, "chunk_id") }, false},
		{"no doc id", func(p map[string]*qdrant.Value) { delete(p, "doc_id") }, false},
		{"text as number", func(p map[string]*qdrant.Value) { p["text"] = qdrant.NewValueInt(3) }, false},
		{"page as string", func(p map[string]*qdrant.Value) { p["page"] = qdrant.NewValueString("2") }, false},
		{"fractional page", func(p map[string]*qdrant.Value) { p["page"] = qdrant.NewValueDouble(2.5) }, false},
		{"huge double", func(p map[string]*qdrant.Value) { p["ordinal"] = qdrant.NewValueDouble(1e300) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.mutate(p)
			_, err := chunkOf(p)
			if (err == nil) != tc.ok {
				t.Fatalf("chunkOf: err = %v, want ok = %v", err, tc.ok)
			}
		})
	}
}

// FuzzChunkPayload: a chunk that checkChunk accepts survives the trip
// through a payload and the protobuf wire format; one it rejects has a
// reason to be rejected.
func FuzzChunkPayload(f *testing.F) {
	f.Add("docs/a.md#0", "docs/a.md", "Title", "A > B", 0, 0, "text", 5, "en")
	f.Add("指南.md#12", "指南.md", "退款指南", "政策 > 退款", 3, 12, "退款须在购买后 30 天内申请。", 42, "zh")
	f.Add("x#1", "x", "", "", -1, 1<<40, "\x00\n\t\"", 0, "")
	f.Add("bad#0", "bad", "", "", 0, 0, "\xff\xfe", 0, "en")
	f.Add("", "doc", "", "", 0, 0, "", 0, "")
	f.Fuzz(func(t *testing.T, id, doc, title, heading string, page, ordinal int, text string, tokens int, lang string) {
		c := quarry.Chunk{ID: id, DocID: doc, Path: doc, Title: title, Heading: heading,
			Page: page, Ordinal: ordinal, Text: text, Tokens: tokens, Lang: lang}
		if err := checkChunk(c); err != nil {
			valid := true
			for _, s := range []string{id, doc, title, heading, text, lang} {
				valid = valid && utf8.ValidString(s)
			}
			if id != "" && doc != "" && valid {
				t.Fatalf("checkChunk rejected %+v: %v", c, err)
			}
			return
		}
		wire := make(map[string]*qdrant.Value)
		for k, v := range payloadOf(c) {
			b, err := proto.Marshal(v)
			if err != nil {
				t.Fatalf("marshal payload field %s of an accepted chunk: %v", k, err)
			}
			var back qdrant.Value
			if err := proto.Unmarshal(b, &back); err != nil {
				t.Fatalf("unmarshal payload field %s: %v", k, err)
			}
			wire[k] = &back
		}
		got, err := chunkOf(wire)
		if err != nil {
			t.Fatalf("chunkOf(payloadOf(%+v)): %v", c, err)
		}
		if got != c {
			t.Fatalf("round trip changed the chunk:\n got %+v\nwant %+v", got, c)
		}
		if PointID(id) != PointID(id) {
			t.Fatal("PointID is not deterministic")
		}
	})
}

// FuzzParseAddr: ParseAddr never panics, and what it accepts names a
// host and a valid port.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"localhost:6334", "qdrant", "[::1]:6334", "::1", ":1", "a:b:c", "h:99999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		host, port, err := ParseAddr(addr)
		if err != nil {
			if quarry.ErrorCode(err) != quarry.CodeInvalid {
				t.Fatalf("ParseAddr(%q): %v has code %q", addr, err, quarry.ErrorCode(err))
			}
			return
		}
		if host == "" || port < 1 || port > 65535 {
			t.Fatalf("ParseAddr(%q) = %q, %d", addr, host, port)
		}
	})
}
