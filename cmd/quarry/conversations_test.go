package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
)

// startBinary runs the quarry binary's serve and returns its address.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "QUARRY_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(2 * time.Minute):
		t.Fatal("quarry serve did not report its address")
	}
	return nil, ""
}

type loggedAnswer struct {
	Answer         string `json:"answer"`
	Answered       bool   `json:"answered"`
	AnswerID       string `json:"answer_id"`
	ConversationID string `json:"conversation_id"`
}

// askHTTP asks addr a question, streamed or not, and returns the answer.
func askHTTP(t *testing.T, addr string, body map[string]any, stream bool) loggedAnswer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/ask", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("ask: %d %s", resp.StatusCode, raw)
	}
	var a loggedAnswer
	if !stream {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, block := range strings.Split(string(raw), "\n\n") {
		if strings.HasPrefix(block, "event: done\n") {
			var done struct {
				Answer loggedAnswer `json:"answer"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(block, "event: done\ndata: ")), &done); err != nil {
				t.Fatal(err)
			}
			return done.Answer
		}
	}
	t.Fatalf("no done event in %s", raw)
	return a
}

// TestConversationLogSurvivesKill runs the real binary: two answered
// turns of one conversation, then SIGKILL; both are in the log after,
// and a restarted server takes feedback on them.
func TestConversationLogSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := buildBinary(t)
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	if out, err := exec.Command(bin, "ingest", "--data", data, src).CombinedOutput(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	srv, addr := startBinary(t, bin, "serve", "--data", data, "--addr", "127.0.0.1:0")
	first := askHTTP(t, addr, map[string]any{"question": "What is the refund window for alpha orders?"}, false)
	second := askHTTP(t, addr, map[string]any{
		"question": "are shipping fees refunded too?", "conversation_id": first.ConversationID,
		"history": []map[string]string{{"role": "user", "content": "What is the refund window for alpha orders?"}, {"role": "assistant", "content": first.Answer}},
	}, true)
	if !first.Answered || !second.Answered || second.ConversationID != first.ConversationID {
		t.Fatalf("answers: %+v %+v", first, second)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()

	out, err := exec.Command(bin, "log", "export", "--data", data, "--format", "jsonl").Output()
	if err != nil {
		t.Fatalf("log export: %v", err)
	}
	var turns []quarry.Turn
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var tu quarry.Turn
		if err := json.Unmarshal([]byte(line), &tu); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		turns = append(turns, tu)
	}
	if len(turns) != 2 || turns[0].AnswerID != first.AnswerID || turns[1].AnswerID != second.AnswerID ||
		turns[1].ConversationID != first.ConversationID || len(turns[0].Citations) == 0 {
		t.Fatalf("after SIGKILL the log holds %+v", turns)
	}

	_, addr = startBinary(t, bin, "serve", "--data", data, "--addr", "127.0.0.1:0")
	resp, err := http.Post("http://"+addr+"/v1/feedback", "application/json",
		strings.NewReader(`{"answer_id": "`+second.AnswerID+`", "rating": "down", "comment": "after the restart"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("feedback after restart: %d", resp.StatusCode)
	}
	// The restarted server goes on with the conversation, in the same log.
	third := askHTTP(t, addr, map[string]any{
		"question": "and how long does the refund take?", "conversation_id": first.ConversationID,
		"history": []map[string]string{{"role": "user", "content": "are shipping fees refunded too?"}, {"role": "assistant", "content": second.Answer}},
	}, true)
	out, err = exec.Command(bin, "log", "export", "--data", data, "--format", "jsonl").Output()
	if err != nil {
		t.Fatalf("log export after the restart: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var last quarry.Turn
	if len(lines) != 3 || json.Unmarshal([]byte(lines[1]), &last) != nil || last.Feedback == nil || last.Feedback.Comment != "after the restart" ||
		json.Unmarshal([]byte(lines[2]), &last) != nil || last.AnswerID != third.AnswerID || last.ConversationID != first.ConversationID {
		t.Fatalf("after the restart the log holds:\n%s", out)
	}
}

// TestOperatorCommands: quarry report, log export and questions export
// read what a running server logged.
func TestOperatorCommands(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	if _, errOut, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", errOut)
	}
	if err := os.WriteFile(filepath.Join(data, "kb", "default", handoffFile), []byte(`{"message": "Our team answers within a day.", "email": "help@alpha.example"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0")
	good := askHTTP(t, p.addr, map[string]any{"question": "What is the refund window for alpha orders?"}, false)
	var declined struct {
		loggedAnswer
		Handoff quarry.Handoff `json:"handoff"`
	}
	p.post(t, "/v1/ask", map[string]any{"question": "Which rocket do you use to ship to Mars?"}, &declined)
	if !good.Answered || declined.Answered || declined.Handoff.Email != "help@alpha.example" {
		t.Fatalf("answers: %+v / %+v", good, declined)
	}
	var fb map[string]any
	if code := p.post(t, "/v1/feedback", map[string]any{"answer_id": good.AnswerID, "rating": "down", "comment": "wrong window"}, &fb); code != 200 {
		t.Fatalf("feedback: %d %v", code, fb)
	}

	out, errOut, code := runCLI(t, "report", "--data", data, "--since", "1d", "--json")
	if code != 0 {
		t.Fatalf("report: %s", errOut)
	}
	var rep quarry.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Questions != 2 || rep.Answered != 1 || rep.Declined != 1 || rep.Down != 1 || len(rep.Unanswered) != 1 ||
		len(rep.LowestRated) != 1 || rep.LowestRated[0].Feedback.Comment != "wrong window" {
		t.Fatalf("report: %+v", rep)
	}
	out, _, code = runCLI(t, "report", "--data", data, "--since", "1d")
	if code != 0 || !strings.Contains(out, "answered        1 (50.0%)") || !strings.Contains(out, "Which rocket do you use to ship to Mars?") {
		t.Fatalf("report table:\n%s", out)
	}

	out, _, code = runCLI(t, "questions", "export", "--data", data, "--kb", "default", "--unanswered", "--since", "30d")
	if code != 0 {
		t.Fatal("questions export failed")
	}
	qs, err := corpora.ParseQuestions(strings.NewReader(out))
	if err != nil || len(qs) != 1 || qs[0].Answerable || qs[0].Question != "Which rocket do you use to ship to Mars?" {
		t.Fatalf("unanswered export %q: %+v %v", out, qs, err)
	}
	out, _, _ = runCLI(t, "questions", "export", "--data", data, "--kb", "default", "--down-rated")
	var q corpora.Question
	if err := json.Unmarshal([]byte(out), &q); err != nil || !q.Answerable || len(q.ExpectedDocs) == 0 || !strings.HasPrefix(q.ExpectedDocs[0], "alpha-") {
		t.Fatalf("down-rated export %q: %+v %v", out, q, err)
	}

	out, _, code = runCLI(t, "log", "export", "--data", data, "--since", "1h")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"rating":"down"`) || strings.Contains(out, "127.0.0.1") {
		t.Fatalf("log export:\n%s", out)
	}
	if _, errOut, code := runCLI(t, "report", "--data", t.TempDir()); code != 1 || !strings.Contains(errOut, "no conversation log") {
		t.Fatalf("report without a log: %d %s", code, errOut)
	}
}

// TestImprovementLoop is the operator's loop of the README: the declined
// and the down-rated questions are exported in quarry eval's format;
// quarry eval refuses the file until it is labelled; labelled, it
// measures the knowledge base, and as --gate-questions it keeps a
// rebuild that loses the answer from being switched to.
func TestImprovementLoop(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"returns.md":  "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n",
		"shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days. Express shipping takes one day.\n",
	})
	mustCLI(t, nil, "ingest", "--data", data, src)
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0")
	good := askHTTP(t, p.addr, map[string]any{"question": "How long do I have to return an item?"}, false)
	declined := askHTTP(t, p.addr, map[string]any{"question": "Which rocket do you use to ship to Mars?"}, false)
	if !good.Answered || declined.Answered {
		t.Fatalf("answers: %+v / %+v", good, declined)
	}
	var fb map[string]any
	if code := p.post(t, "/v1/feedback", map[string]any{"answer_id": good.AnswerID, "rating": "down", "comment": "and for sale items?"}, &fb); code != 200 {
		t.Fatalf("feedback: %d %v", code, fb)
	}
	p.stop()

	// 1. Collect.
	out := mustCLI(t, nil, "questions", "export", "--data", data, "--kb", "default", "--unanswered", "--down-rated", "--since", "30d")
	var qs []corpora.Question
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var q corpora.Question
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		qs = append(qs, q)
	}
	if len(qs) != 2 {
		t.Fatalf("exported %d questions, want the declined and the down-rated one:\n%s", len(qs), out)
	}
	review := filepath.Join(t.TempDir(), "review.jsonl")
	if err := os.WriteFile(review, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not yet labelled: quarry eval names the line.
	if _, errOut, code := runCLI(t, "eval", "--data", data, review); code == 0 || !strings.Contains(errOut, "answerable but no expected_answer") {
		t.Fatalf("eval of the unlabelled file: exit %d\n%s", code, errOut)
	}

	// 2. Label: the down-rated question's right answer is in returns.md.
	var labelled strings.Builder
	for _, q := range qs {
		switch {
		case q.Answerable:
			if q.Question != "How long do I have to return an item?" || len(q.ExpectedDocs) == 0 || q.ExpectedDocs[0] != "returns.md" {
				t.Fatalf("the down-rated question, with the documents Quarry cited: %+v", q)
			}
			q.ExpectedDocs, q.ExpectedAnswer = []string{"returns.md"}, "30 days"
		case q.Question != "Which rocket do you use to ship to Mars?":
			t.Fatalf("the declined question: %+v", q)
		}
		b, _ := json.Marshal(q)
		labelled.Write(append(b, '\n'))
	}
	if err := os.WriteFile(review, []byte(labelled.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	// 3. Measure.
	out, errOut, code := runCLI(t, "eval", "--data", data, review)
	if code != 0 {
		t.Fatalf("eval of the labelled file: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "answers: 2 questions (1 answerable, 1 unanswerable)") || !strings.Contains(out, "answer accuracy 100.0%, declined 100.0%") {
		t.Errorf("quarry eval review.jsonl:\n%s", out)
	}

	// 4. Guard: a rebuild that loses the returns page is not switched to.
	before := state(t, data).Current
	if err := os.Rename(filepath.Join(src, "returns.md"), filepath.Join(src, "refunds.md")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLIEnv(t, nil, "reindex", "--data", data, "--gate-questions", review)
	if code != 1 || !strings.Contains(errOut, "not switching") {
		t.Fatalf("gated reindex that loses the answer: exit %d\n%s", code, errOut)
	}
	if after := state(t, data).Current; after != before {
		t.Errorf("the gate let %s replace %s", after, before)
	}
}
