package kb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/kb"
)

// TestGateAndRebuilder: the library's rebuild path without a server or
// command line. A full rebuild whose recall@5 on the gate's questions
// falls below the serving generation's is not switched to; the
// rebuilder (what POST .../admin/reindex starts) runs a rebuild in the
// background, one per knowledge base, and Status reports it.
func TestGateAndRebuilder(t *testing.T) {
	ctx := context.Background()
	data, src := t.TempDir(), t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("parcels.md", "# Parcels\n\nThe courier collects parcels every weekday at noon.")
	write("returns.md", "# Returns\n\nReturned items are refunded within five business days.")
	questions := filepath.Join(t.TempDir(), "gate.jsonl")
	if err := os.WriteFile(questions, []byte(
		`{"id": "q1", "question": "When does the courier collect parcels?", "lang": "en", "answerable": true, "expected_docs": ["parcels.md"], "expected_answer": "noon"}`+"\n"+
			`{"id": "q2", "question": "How fast are returned items refunded?", "lang": "en", "answerable": true, "expected_docs": ["returns.md"], "expected_answer": "five business days"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gate, err := kb.LoadGate(questions, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kb.LoadGate(questions, 2); quarry.ErrorCode(err) != quarry.CodeInvalid {
		t.Errorf("a margin of 2: %v", err)
	}
	m, err := kb.New(kb.Config{Data: data, Engine: engineConfig(), Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	_, st1, err := m.Ingest(ctx, kb.Default, os.DirFS(src), kb.BuildOptions{Source: src})
	if err != nil {
		t.Fatal(err)
	}

	// The parcels document goes: recall@5 falls from 1 to 0.5, more
	// than the margin of 0.1, and the rebuild is refused.
	if err := os.Remove(filepath.Join(src, "parcels.md")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Reindex(ctx, kb.Default, kb.RebuildRequest{Trigger: "test"}); !errors.Is(err, quarry.ErrConflict) {
		t.Fatalf("a rebuild that loses recall = %v, want a conflict from the gate", err)
	}
	if st, _ := m.State(kb.Default); st.Current != st1.Current {
		t.Errorf("the gate let generation %s in (serving %s before)", st.Current, st1.Current)
	}
	if s, err := m.Status(kb.Default); err != nil || s.LastError == "" || s.LastSuccess != nil || s.LastTrigger != "test" {
		t.Errorf("Status after the refused rebuild = %+v, %v", s, err)
	}

	// Back, with one more document: the rebuilder switches to it.
	write("parcels.md", "# Parcels\n\nThe courier collects parcels every weekday at noon.")
	write("hours.md", "# Hours\n\nThe shop opens at nine.")
	srvCtx, stop := context.WithCancel(ctx)
	wait := m.Serve(srvCtx)
	defer func() { stop(); wait() }()
	if err := m.StartReindex("nope", "api"); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("StartReindex of a knowledge base that does not exist = %v", err)
	}
	if err := m.StartReindex(kb.Default, "api"); err != nil {
		t.Fatal(err)
	}
	var s kb.Status
	for i := 0; ; i++ {
		if s, err = m.Status(kb.Default); err != nil {
			t.Fatal(err)
		}
		if !s.Running && s.LastTrigger == "api" && s.LastFinished != nil {
			break
		}
		if i > 1000 {
			t.Fatalf("the rebuild did not finish: %+v", s)
		}
		sleep()
	}
	if s.LastError != "" || s.LastSuccess == nil || s.Documents != 3 || s.Generation.Current == st1.Current || s.Generation.Previous != st1.Current {
		t.Errorf("Status after the rebuild = %+v", s)
	}
}
