package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/ingest"
)

// TestPlainProgress: away from a terminal, a long ingest writes a line
// every progressEvery with its count, share and rate, and a short one
// writes nothing.
func TestPlainProgress(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "ingesting", "files")
	if !p.plain {
		t.Fatal("a buffer is not a terminal, but progress would draw a bar")
	}
	clock := p.start
	p.now = func() time.Time { return clock }
	steps := []struct {
		after time.Duration
		done  int
		want  string // the line written, or "" for none
	}{
		{after: 5 * time.Second, done: 10},
		{after: 11 * time.Second, done: 55, want: "ingesting: 55 of 200 files (28%), 5 files/s, 11s so far\n"},
		{after: 15 * time.Second, done: 70},
		{after: 21 * time.Second, done: 63 * 2, want: "ingesting: 126 of 200 files (63%), 6 files/s, 21s so far\n"},
	}
	for _, s := range steps {
		out.Reset()
		clock = p.start.Add(s.after)
		p.update(ingest.Progress{Done: s.done, Total: 200, Path: "a.md"})
		if got := out.String(); got != s.want {
			t.Errorf("after %v: wrote %q, want %q", s.after, got, s.want)
		}
	}
	p.finish()
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("plain progress wrote terminal escapes: %q", out.String())
	}
}
