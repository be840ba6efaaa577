package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBench runs quarry bench on a small synthetic corpus: in process,
// then over HTTP against a server on the data it built. It checks that
// every figure is there and no request failed, not how fast anything
// is (speed belongs to benchmarks).
func TestBench(t *testing.T) {
	data := t.TempDir()
	out, errOut, code := runCLI(t, "bench", "--data", data, "--chunks", "300", "--requests", "60",
		"--clients", "1,4", "--http", "off", "--pdf-copies", "1", "--json")
	if code != 0 {
		t.Fatalf("quarry bench exited %d:\n%s%s", code, out, errOut)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if rep.Ingest == nil || rep.Ingest.Docs != 300 || rep.Chunks < 300 || rep.Ingest.Bytes == 0 || rep.Ingest.DocsPerS <= 0 {
		t.Errorf("ingest figures: %+v, chunks %d", rep.Ingest, rep.Chunks)
	}
	if rep.PDF == nil || rep.PDF.Pages == 0 || rep.PDF.PagesPS <= 0 {
		t.Errorf("PDF figures: %+v", rep.PDF)
	}
	if rep.Open == nil || rep.Open.HeapBytes <= 0 || rep.Open.IndexDiskBytes <= 0 {
		t.Errorf("open figures: %+v", rep.Open)
	}
	if len(rep.InProcess) != 2 || rep.HTTP != nil {
		t.Fatalf("in-process rows %+v, HTTP rows %+v; want 2 and none", rep.InProcess, rep.HTTP)
	}
	for _, r := range rep.InProcess {
		if r.Errors != 0 || r.Requests != 60 || r.P50MS <= 0 || r.P99MS < r.P50MS {
			t.Errorf("in process: %+v", r)
		}
	}

	// A second run benchmarks the knowledge base as it is, over HTTP,
	// against a running server, with queries from a file.
	queries := filepath.Join(t.TempDir(), "q.tsv")
	if err := os.WriteFile(queries, []byte("1\tnothing matches xyzzy\nsome words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")
	out, errOut, code = runCLI(t, "bench", "--data", data, "--queries", queries, "--requests", "40",
		"--clients", "2", "--in-process=false", "--http", "http://"+srv.addr)
	if code != 0 {
		t.Fatalf("quarry bench --http URL exited %d:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "search over HTTP") || !strings.Contains(out, "| 2 | 40 | 0 |") {
		t.Errorf("HTTP table missing or with errors:\n%s", out)
	}

	// --chunks would replace a knowledge base: refused.
	if _, errOut, code := runCLI(t, "bench", "--data", data, "--chunks", "10", "--http", "off"); code == 0 || !strings.Contains(errOut, "holds a knowledge base") {
		t.Errorf("--chunks over a knowledge base: exit %d, %s", code, errOut)
	}
}

// TestBenchProfile: --profile writes the CPU, heap and block profiles of
// the ingest and the CPU and heap profiles of the search, each a pprof
// file (gzip-compressed protocol buffers).
func TestBenchProfile(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	out, errOut, code := runCLI(t, "bench", "--data", data, "--chunks", "100", "--requests", "20",
		"--clients", "1", "--http", "off", "--profile", dir)
	if code != 0 {
		t.Fatalf("quarry bench exited %d:\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"ingest.cpu", "ingest.heap", "ingest.block", "search.cpu", "search.heap"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s is not a pprof profile (%d bytes)", name, len(b))
		}
	}
}
