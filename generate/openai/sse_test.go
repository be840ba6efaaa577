package openai

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []sseEvent
		final error
	}{
		{"two events", "data: a\n\ndata: b\n\n", []sseEvent{{Data: "a"}, {Data: "b"}}, io.EOF},
		{"CRLF", "data: a\r\n\r\ndata: b\r\n\r\n", []sseEvent{{Data: "a"}, {Data: "b"}}, io.EOF},
		{"multi-line data", "data: a\ndata: b\n\n", []sseEvent{{Data: "a\nb"}}, io.EOF},
		{"no space after colon", "data:x\n\n", []sseEvent{{Data: "x"}}, io.EOF},
		{"only one space stripped", "data:  x\n\n", []sseEvent{{Data: " x"}}, io.EOF},
		{"comments and other fields", ": ping\nid: 3\nretry: 10\ndata: a\n\n", []sseEvent{{Data: "a"}}, io.EOF},
		{"named event", "event: error\ndata: {}\n\n", []sseEvent{{Name: "error", Data: "{}"}}, io.EOF},
		{"event without data is skipped", "event: ping\n\ndata: a\n\n", []sseEvent{{Data: "a"}}, io.EOF},
		{"final event without blank line", "data: a\n\ndata: [DONE]\n", []sseEvent{{Data: "a"}, {Data: "[DONE]"}}, io.EOF},
		{"cut mid-line", "data: a\n\ndata: {\"x", []sseEvent{{Data: "a"}}, io.ErrUnexpectedEOF},
		{"empty", "", nil, io.EOF},
		{"blank lines only", "\n\n\n", nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readEvents(strings.NewReader(tt.in))
			if !errors.Is(err, tt.final) {
				t.Errorf("final error = %v, want %v", err, tt.final)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("events = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSSELineTooLong(t *testing.T) {
	in := "data: " + strings.Repeat("x", maxLine) + "\n\n"
	_, err := readEvents(strings.NewReader(in))
	if !errors.Is(err, errLineTooLong) {
		t.Errorf("err = %v, want line too long", err)
	}
}

func readEvents(r io.Reader) ([]sseEvent, error) {
	s := newSSEReader(r)
	var out []sseEvent
	for {
		ev, err := s.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

// FuzzSSEReader checks that the parser terminates, never invents data
// and does not depend on how the bytes arrive.
func FuzzSSEReader(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(": keep-alive\r\n\r\nevent: error\r\ndata: {\"error\":{}}\r\n\r\n"))
	f.Add([]byte("data: a\ndata: b\n\ndata:"))
	f.Add([]byte("data\n\n:\n\ndata:\n\n"))
	f.Add([]byte("\r\r\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, errWhole := readEvents(bytes.NewReader(in))
		bytewise, errBytes := readEvents(iotest.OneByteReader(bytes.NewReader(in)))
		if errWhole == nil || errBytes == nil {
			t.Fatal("reader ended without an error")
		}
		if errWhole.Error() != errBytes.Error() {
			t.Errorf("final error %v read whole, %v byte by byte", errWhole, errBytes)
		}
		if len(whole) != len(bytewise) {
			t.Fatalf("%d events read whole, %d byte by byte", len(whole), len(bytewise))
		}
		total := 0
		for i := range whole {
			if whole[i] != bytewise[i] {
				t.Errorf("event %d: %q vs %q", i, whole[i], bytewise[i])
			}
			total += len(whole[i].Data)
		}
		if total > len(in) {
			t.Errorf("%d bytes of data from %d bytes of input", total, len(in))
		}
	})
}
