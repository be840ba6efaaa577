package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadersWhileServing runs quarry ask, search and eval --data on the
// data directory a running quarry serve holds (the server and the
// readers open the generation read-only, so neither waits for the
// other), then ingests a change and reads it while the server runs.
func TestReadersWhileServing(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"returns.md":  "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n",
		"shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days within the mainland.\n",
	})
	if out, errOut, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest exited %d:\n%s%s", code, out, errOut)
	}
	srv := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0")

	out, errOut, code := runCLI(t, "search", "--data", data, "--k", "1", "return within 30 days")
	if code != 0 || !strings.Contains(out, "returns.md") {
		t.Errorf("search while serving exited %d:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "ask", "--data", data, "How long does standard shipping take?")
	if code != 0 || !strings.Contains(out, "3 to 5 business days") {
		t.Errorf("ask while serving exited %d:\n%s%s", code, out, errOut)
	}
	questions := filepath.Join(t.TempDir(), "q.jsonl")
	q := `{"id": "en-1", "question": "How many days do I have to return an item?", "lang": "en", "answerable": true, "expected_docs": ["returns.md"], "expected_answer": "30 days"}` + "\n"
	if err := os.WriteFile(questions, []byte(q), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "eval", "--data", data, questions)
	if code != 0 || !strings.Contains(out, "| all |") {
		t.Errorf("eval --data while serving exited %d:\n%s%s", code, out, errOut)
	}

	writeFiles(t, src, map[string]string{"warranty.md": "# Warranty\n\nEvery thermostat carries a two-year limited warranty.\n"})
	if out, errOut, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest while serving exited %d:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "search", "--data", data, "--k", "1", "thermostat warranty")
	if code != 0 || !strings.Contains(out, "warranty.md") {
		t.Errorf("search of the new generation exited %d:\n%s%s", code, out, errOut)
	}
	var res struct {
		Results []struct {
			Path string `json:"path"`
		} `json:"results"`
	}
	if st := srv.post(t, "/v1/search", map[string]any{"query": "return within 30 days", "k": 1}, &res); st != 200 || len(res.Results) == 0 {
		t.Errorf("the server stopped answering: status %d, %+v", st, res)
	}
	if strings.Contains(srv.stderr.String(), "in use by another process") {
		t.Errorf("server log:\n%s", srv.stderr)
	}
}
