package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// openAIClientDir is the Node project that drives the official openai
// npm client (scripts/test-deps.sh installs it).
func openAIClientDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tests", "openai-client")
}

// needOpenAIClient skips the test when node or the installed client is
// missing, with the reason, and fails instead under CI=true, where
// scripts/test-deps.sh must have installed them.
func needOpenAIClient(t *testing.T) (node, dir string) {
	t.Helper()
	dir = openAIClientDir(t)
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: scripts/test-deps.sh must install it)", why)
		}
		t.Skipf("%s; run scripts/test-deps.sh", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		missing("the openai npm client is not installed in tests/openai-client (npm ci)")
	}
	return node, dir
}

// clientRun is what tests/openai-client/run.mjs prints.
type clientRun struct {
	Refused *struct {
		Status              int    `json:"status"`
		AuthenticationError bool   `json:"authenticationError"`
		PermissionError     bool   `json:"permissionError"`
		Code                string `json:"code"`
		Type                string `json:"type"`
		Message             string `json:"message"`
	} `json:"refused"`
	Models       []string   `json:"models"`
	NonStreaming clientMode `json:"nonStreaming"`
	Streaming    clientMode `json:"streaming"`
	UnknownModel struct {
		NotFoundError bool   `json:"notFoundError"`
		Status        int    `json:"status"`
		Code          string `json:"code"`
		Type          string `json:"type"`
	} `json:"unknownModel"`
}

type clientMode struct {
	Object       string      `json:"object"`
	Role         string      `json:"role"`
	Content      string      `json:"content"`
	FinishReason string      `json:"finishReason"`
	Chunks       int         `json:"chunks"`
	IDs          []string    `json:"ids"`
	Usage        *struct{}   `json:"usage"`
	Quarry       quarryField `json:"quarry"`
}

// TestOpenAIClient runs the real server over the sample help centre and
// has the official openai npm client ask it a question, without and
// with streaming: both must receive the grounded answer with its
// citations in the "quarry" field.
func TestOpenAIClient(t *testing.T) {
	node, dir := needOpenAIClient(t)
	if testing.Short() {
		t.Skip("ingests the whole sample corpus; skipped with -short")
	}
	data := t.TempDir()
	p := startServer(t, "demo", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")

	const question = "How long do refunds take?"
	run := runClient(t, node, dir, p.addr, question, "")
	t.Logf("non-streaming answer: %q", run.NonStreaming.Content)

	if !slices.Contains(run.Models, "default") {
		t.Errorf("models %v: want default", run.Models)
	}
	for name, m := range map[string]clientMode{"non-streaming": run.NonStreaming, "streaming": run.Streaming} {
		if m.Role != "assistant" || m.FinishReason != "stop" || m.Usage == nil {
			t.Errorf("%s: role %q, finish_reason %q, usage %v", name, m.Role, m.FinishReason, m.Usage)
		}
		if !m.Quarry.Answered || !m.Quarry.Grounded || len(m.Quarry.Citations) == 0 {
			t.Fatalf("%s: quarry field %+v: want a grounded answer with citations", name, m.Quarry)
		}
		if first := m.Quarry.Citations[0]; !strings.HasPrefix(first.Path, "returns/") {
			t.Errorf("%s: first citation %+v: want the returns and refunds documents", name, first)
		}
		for _, c := range m.Quarry.Citations {
			if c.Snippet == "" || c.ChunkID == "" || c.Path == "" {
				t.Errorf("%s: citation %+v", name, c)
			}
			if !strings.Contains(m.Content, "["+itoa(c.N)+"]") {
				t.Errorf("%s: citation [%d] is not marked in %q", name, c.N, m.Content)
			}
		}
		if !containsPrefix(m.Quarry.Notes, "1 system message(s) ignored") {
			t.Errorf("%s: notes %q: want the system message noted as ignored", name, m.Quarry.Notes)
		}
	}
	if run.NonStreaming.Object != "chat.completion" {
		t.Errorf("object %q", run.NonStreaming.Object)
	}
	if run.Streaming.Chunks < 3 || len(run.Streaming.IDs) != 1 {
		t.Errorf("stream of %d chunks with ids %v", run.Streaming.Chunks, run.Streaming.IDs)
	}
	// The offline answerer is deterministic: both modes get the same answer.
	if run.Streaming.Content != run.NonStreaming.Content {
		t.Errorf("streamed %q, not streamed %q", run.Streaming.Content, run.NonStreaming.Content)
	}
	if u := run.UnknownModel; !u.NotFoundError || u.Status != 404 || u.Code != "model_not_found" || u.Type != "invalid_request_error" {
		t.Errorf("unknown model: %+v", u)
	}
}

// runClient runs tests/openai-client/run.mjs against the server at addr,
// with apiKey as the client's key when it is not empty.
func runClient(t *testing.T, node, dir, addr, question, apiKey string) clientRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.mjs", question)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "QUARRY_BASE_URL=http://"+addr)
	if apiKey != "" {
		cmd.Env = append(cmd.Env, "QUARRY_API_KEY="+apiKey)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	var run clientRun
	if err := json.Unmarshal(out, &run); err != nil {
		t.Fatalf("run.mjs output: %v\n%s", err, out)
	}
	return run
}

// TestOpenAIClientWithKeys: once API keys exist, the official client
// works with a scoped key as its apiKey (and sees only its knowledge
// base), and without one gets a clean 401 AuthenticationError.
func TestOpenAIClientWithKeys(t *testing.T) {
	node, dir := needOpenAIClient(t)
	data := t.TempDir()
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"refunds.md":  "# Refunds\n\nRefunds take five business days to reach your card once the return is received.\n",
		"shipping.md": "# Shipping\n\nOrders ship within two days from our warehouse.\n",
	})
	if _, errOut, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", errOut)
	}
	key, errOut, code := runCLI(t, "keys", "create", "--data", data, "--kb", "default", "--scope", "ask", "--name", "openai-client")
	if code != 0 {
		t.Fatalf("keys create: %s", errOut)
	}
	key = strings.TrimSpace(key)
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")

	run := runClient(t, node, dir, p.addr, "How long do refunds take?", key)
	if run.Refused != nil {
		t.Fatalf("refused with a scoped key: %+v", run.Refused)
	}
	if !slices.Equal(run.Models, []string{"default"}) {
		t.Errorf("models %v: want [default]", run.Models)
	}
	for name, m := range map[string]clientMode{"non-streaming": run.NonStreaming, "streaming": run.Streaming} {
		if m.Role != "assistant" || m.FinishReason != "stop" || !strings.Contains(m.Content, "five business days") {
			t.Errorf("%s: %+v", name, m)
		}
	}

	run = runClient(t, node, dir, p.addr, "How long do refunds take?", "")
	if r := run.Refused; r == nil || r.Status != 401 || !r.AuthenticationError || r.Code != "unauthenticated" || r.Type != "authentication_error" {
		t.Fatalf("without a key: %+v, want a 401 AuthenticationError", r)
	}
	if strings.Contains(run.Refused.Message, key[len("qk_"):]) {
		t.Error("the error shows the key")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
