package ollama

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type line struct {
	text         string
	unterminated bool
}

func readLines(r io.Reader) ([]line, error) {
	lr := newLineReader(r)
	var out []line
	for {
		l, u, err := lr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, line{string(l), u})
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []line
	}{
		{"lines", "{\"a\":1}\n{\"b\":2}\n", []line{{`{"a":1}`, false}, {`{"b":2}`, false}}},
		{"CRLF and blanks", "\r\n{\"a\":1}\r\n\n  \n{\"b\":2}\r\n", []line{{`{"a":1}`, false}, {`{"b":2}`, false}}},
		{"last line unterminated", "{\"a\":1}\n{\"b\":", []line{{`{"a":1}`, false}, {`{"b":`, true}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readLines(strings.NewReader(tt.in))
			if err != io.EOF {
				t.Errorf("final error = %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("lines = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	_, err := readLines(strings.NewReader(strings.Repeat("x", maxLine+1) + "\n"))
	if !errors.Is(err, errLineTooLong) {
		t.Errorf("long line: %v", err)
	}
}

// FuzzLineReader checks that the reader terminates, yields only
// non-blank trimmed lines and does not depend on how bytes arrive.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte(`{"message":{"content":"hi"},"done":false}` + "\n" + `{"done":true}` + "\n"))
	f.Add([]byte("\r\n\r\n{\"error\":\"x\"}"))
	f.Add([]byte("a\nb\n\n c \n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := readLines(bytes.NewReader(in))
		bytewise, err2 := readLines(iotest.OneByteReader(bytes.NewReader(in)))
		if err1 != io.EOF || err2 != io.EOF {
			t.Fatalf("errors %v, %v", err1, err2)
		}
		if len(whole) != len(bytewise) {
			t.Fatalf("%d lines vs %d byte by byte", len(whole), len(bytewise))
		}
		total := 0
		for i, l := range whole {
			if l != bytewise[i] {
				t.Errorf("line %d: %+v vs %+v", i, l, bytewise[i])
			}
			if l.text == "" || strings.TrimSpace(l.text) != l.text || strings.Contains(l.text, "\n") {
				t.Errorf("line %d not trimmed or blank: %q", i, l.text)
			}
			if l.unterminated && i != len(whole)-1 {
				t.Errorf("unterminated line %d is not the last", i)
			}
			total += len(l.text)
		}
		if total > len(in) {
			t.Errorf("%d bytes out of %d in", total, len(in))
		}
	})
}
