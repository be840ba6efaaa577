package sandbox_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/ingest/sandbox"
	"github.com/quarry-kb/quarry/internal/hostile"
)

// TestMain lets this test binary act as the parse worker: Parser starts
// os.Executable() with sandbox.EnvWorker set.
func TestMain(m *testing.M) {
	if sandbox.IsWorker() {
		os.Exit(sandbox.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func newParser(t *testing.T, cfg sandbox.Config) *sandbox.Parser {
	t.Helper()
	p, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseInWorker(t *testing.T) {
	p := newParser(t, sandbox.Config{})
	data := hostile.TextPDF("Refund Policy", "Refunds are paid within 14 days.")
	got, err := p.Parse(context.Background(), "docs/refunds.pdf", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want, err := ingest.ParseFile("docs/refunds.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != want.Title || got.Type != ingest.TypePDF || len(got.Sections) != len(want.Sections) ||
		!strings.Contains(got.Sections[0].Text, "within 14 days") {
		t.Errorf("worker parsed %+v, in process %+v", got, want)
	}
}

func TestParseFailures(t *testing.T) {
	tests := []struct {
		name     string
		cfg      sandbox.Config
		path     string
		data     []byte
		kind     string
		reason   string
		maxTaken time.Duration
	}{
		{"endless loop", sandbox.Config{Timeout: 1500 * time.Millisecond}, "hang.pdf", hostile.UnterminatedHex(),
			ingest.KindTimeout, "timeout: the parser did not finish within 1.5s", 10 * time.Second},
		{"decompression bomb", sandbox.Config{MemoryLimit: 64 << 20, Timeout: 60 * time.Second}, "bomb.pdf", hostile.Bomb(64 << 20),
			ingest.KindMemory, "memory limit: the parser needed more than 64 MiB", 60 * time.Second},
		{"output cap", sandbox.Config{MaxOutput: 200}, "long.pdf", hostile.TextPDF(strings.Repeat("many words ", 40)),
			ingest.KindMalformed, "malformed: the parser's output exceeded 200 bytes", 10 * time.Second},
		{"truncated", sandbox.Config{}, "cut.pdf", hostile.Truncated(), ingest.KindMalformed, "corrupt PDF", 10 * time.Second},
		{"junk", sandbox.Config{}, "junk.pdf", hostile.Junk(), ingest.KindMalformed, "corrupt PDF", 10 * time.Second},
		{"encrypted", sandbox.Config{}, "locked.pdf", hostile.Encrypted(), ingest.KindEncrypted, "encrypted PDF", 10 * time.Second},
		{"huge page count", sandbox.Config{Timeout: 5 * time.Second}, "pages.pdf", hostile.HugePageCount(), "", "", 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newParser(t, tt.cfg)
			start := time.Now()
			_, err := p.Parse(context.Background(), tt.path, tt.data)
			took := time.Since(start)
			if err == nil {
				t.Fatal("Parse succeeded, want a failure")
			}
			if k := ingest.SkipKind(err); tt.kind != "" && k != tt.kind || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %v (kind %q), want kind %q with %q", err, k, tt.kind, tt.reason)
			}
			if took > tt.maxTaken {
				t.Errorf("took %s, want at most %s", took, tt.maxTaken)
			}
		})
	}
}

// A trusted type is parsed in this process; an untrusted one never is.
// The bomb is a valid stream: it inflates to the text it claims.
func TestBombInflates(t *testing.T) {
	data := hostile.Bomb(100 << 10)
	if len(data) > 4<<10 {
		t.Errorf("a 100 KiB bomb takes %d bytes", len(data))
	}
	p, err := ingest.ParseFile("b.pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(p.Sections[0].Text, strings.Repeat("A", 30)); n < 3<<10 {
		t.Errorf("the bomb inflated to %d runs of text", n)
	}
}

func TestParseTrustedInProcess(t *testing.T) {
	p := newParser(t, sandbox.Config{Command: []string{"/nonexistent/quarry"}})
	if _, err := p.Parse(context.Background(), "a.md", []byte("# Hi\n\nText.")); err != nil {
		t.Errorf("markdown: %v", err)
	}
	if _, err := p.Parse(context.Background(), "a.pdf", hostile.TextPDF("Hello.")); err == nil {
		t.Error("PDF parsed without its worker")
	}
}

func TestParseCanceled(t *testing.T) {
	p := newParser(t, sandbox.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Parse(ctx, "hang.pdf", hostile.UnterminatedHex())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %s, want the context's error at once", err, time.Since(start))
	}
}
