package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// colorDocs writes documents at the same paths for every knowledge
// base, each naming its own color, so a passage shows where it came
// from.
func colorDocs(t *testing.T, dir, color string) {
	t.Helper()
	writeFiles(t, dir, map[string]string{
		"shipping/policy.md": "# Shipping policy\n\nThe " + color + " warehouse ships every order within two business days. Express shipping from the " + color + " warehouse takes one day.\n",
		"returns/refunds.md": "# Refunds\n\nThe " + color + " store refunds returned items within five business days of receiving them.\n",
		"faq.md":             "# FAQ\n\nHow long does shipping take? The " + color + " warehouse ships within two business days.\n",
	})
}

type searchJSON struct {
	Results []struct {
		Path, Text string
	} `json:"results"`
}

type askJSON struct {
	Answer    string `json:"answer"`
	Answered  bool   `json:"answered"`
	Citations []struct {
		Path, Snippet string
	} `json:"citations"`
}

type chatJSON struct {
	Choices []struct {
		Message struct{ Content string } `json:"message"`
	} `json:"choices"`
	Quarry struct {
		Answered  bool `json:"answered"`
		Citations []struct {
			Path, Snippet string
		} `json:"citations"`
	} `json:"quarry"`
}

type apiError struct {
	Error struct {
		Code, Message string
	} `json:"error"`
}

// TestKnowledgeBasesOverHTTP runs a server on one data directory with a
// default knowledge base, then creates two more with documents at the
// same paths: each is served within seconds of its first ingest, without
// a restart, and no route (search, ask, chat completions with the other
// as model) ever answers from another knowledge base.
func TestKnowledgeBasesOverHTTP(t *testing.T) {
	data := t.TempDir()
	srcs := map[string]string{"default": t.TempDir(), "red": t.TempDir(), "blue": t.TempDir()}
	colorDocs(t, srcs["default"], "grey")
	mustCLI(t, nil, "ingest", "--data", data, srcs["default"])
	s := startServe(t, options{Data: data}, nil, serveHooks{})

	// Names are checked.
	if _, errOut, code := runCLIEnv(t, nil, "kb", "create", "--data", data, "Red_KB"); code != 1 || !strings.Contains(errOut, "lower-case letters, digits and '-'") {
		t.Errorf("kb create Red_KB: exit %d, %s", code, errOut)
	}
	if _, errOut, code := runCLIEnv(t, nil, "ingest", "--data", data, "--kb", "../x", srcs["red"]); code != 1 || !strings.Contains(errOut, "invalid knowledge base name") {
		t.Errorf("ingest --kb ../x: exit %d, %s", code, errOut)
	}

	// An unknown knowledge base is a JSON 404 with a code.
	var e apiError
	if code, err := s.call(http.MethodPost, "/v1/kb/red/search", map[string]any{"query": "warehouse"}, &e); err != nil || code != 404 || e.Error.Code != "not_found" {
		t.Errorf("search of a knowledge base that does not exist yet: %d %v %+v", code, err, e)
	}
	if code, err := s.call(http.MethodPost, "/v1/chat/completions", map[string]any{"model": "red", "messages": []map[string]string{{"role": "user", "content": "How fast do you ship?"}}}, &e); err != nil || code != 404 || e.Error.Code != "model_not_found" {
		t.Errorf("chat completion with an unknown model: %d %v %+v", code, err, e)
	}

	for _, color := range []string{"red", "blue"} {
		mustCLI(t, nil, "kb", "create", "--data", data, color)
		colorDocs(t, srcs[color], color)
		start := time.Now()
		mustCLI(t, nil, "ingest", "--data", data, "--kb", color, srcs[color])
		for {
			var res searchJSON
			code, err := s.call(http.MethodPost, "/v1/kb/"+color+"/search", map[string]any{"query": "warehouse ships"}, &res)
			if err == nil && code == 200 && len(res.Results) > 0 {
				t.Logf("%s served %s after its first ingest", color, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("knowledge base %s not served 10 s after its first ingest: %d %v", color, code, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	if code, err := s.call(http.MethodGet, "/v1/models", nil, &models); err != nil || code != 200 {
		t.Fatalf("models: %d %v", code, err)
	}
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{"blue", "default", "red"}) {
		t.Errorf("models %v", ids)
	}

	colors := map[string]string{"default": "grey", "red": "red", "blue": "blue"}
	// own checks that text names the knowledge base's color and no other.
	own := func(kb, what, text string) {
		t.Helper()
		for other, c := range colors {
			if has := strings.Contains(text, c); has != (other == kb) {
				t.Errorf("%s of %s: %q (contains %s: %v)", what, kb, text, c, has)
			}
		}
	}
	for kb := range colors {
		searchPath, askPath := "/v1/kb/"+kb+"/search", "/v1/kb/"+kb+"/ask"
		var res searchJSON
		if code, err := s.call(http.MethodPost, searchPath, map[string]any{"query": "warehouse ships order refunds", "k": 20}, &res); err != nil || code != 200 || len(res.Results) < 3 {
			t.Fatalf("%s: %d %v %+v", searchPath, code, err, res)
		}
		for _, r := range res.Results {
			own(kb, "search result "+r.Path, r.Text)
		}
		var ans askJSON
		if code, err := s.call(http.MethodPost, askPath, map[string]any{"question": "How long does the warehouse take to ship an order?"}, &ans); err != nil || code != 200 || !ans.Answered || len(ans.Citations) == 0 {
			t.Fatalf("%s: %d %v %+v", askPath, code, err, ans)
		}
		own(kb, "answer", ans.Answer)
		for _, c := range ans.Citations {
			own(kb, "citation "+c.Path, c.Snippet)
		}
		var chat chatJSON
		body := map[string]any{"model": kb, "messages": []map[string]string{{"role": "user", "content": "How long does the warehouse take to ship an order?"}}}
		if code, err := s.call(http.MethodPost, "/v1/chat/completions", body, &chat); err != nil || code != 200 || len(chat.Choices) != 1 || !chat.Quarry.Answered {
			t.Fatalf("chat completion with model %s: %d %v %+v", kb, code, err, chat)
		}
		own(kb, "chat answer", chat.Choices[0].Message.Content)
		for _, c := range chat.Quarry.Citations {
			own(kb, "chat citation "+c.Path, c.Snippet)
		}
	}
	// The legacy routes are the default knowledge base.
	var res searchJSON
	if code, err := s.call(http.MethodPost, "/v1/search", map[string]any{"query": "warehouse ships"}, &res); err != nil || code != 200 || len(res.Results) == 0 {
		t.Fatalf("/v1/search: %d %v", code, err)
	}
	own("default", "legacy search", res.Results[0].Text)
	if st := s.status(t); st.Documents != 3 {
		t.Errorf("/v1/admin/status: %+v", st)
	}
	var st adminStatusJSON
	if code, err := s.call(http.MethodGet, "/v1/kb/red/admin/status", nil, &st); err != nil || code != 200 || st.Generation.Serving == "" {
		t.Errorf("/v1/kb/red/admin/status: %d %v %+v", code, err, st)
	}

	out := mustCLI(t, nil, "kb", "list", "--data", data)
	for _, want := range []string{"blue", "default", "red", srcs["red"]} {
		if !strings.Contains(out, want) {
			t.Errorf("kb list lacks %s:\n%s", want, out)
		}
	}

	// Deleted while serving: gone within seconds.
	mustCLI(t, nil, "kb", "delete", "--data", data, "blue")
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		code, err := s.call(http.MethodPost, "/v1/kb/blue/search", map[string]any{"query": "warehouse"}, &e)
		if err == nil && code == 404 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("deleted knowledge base still answers: %d %v", code, err)
		}
	}

	// The command line takes --kb too.
	s.stop()
	out = mustCLI(t, nil, "search", "--data", data, "--kb", "red", "warehouse")
	if !strings.Contains(out, "red") || strings.Contains(out, "blue") || strings.Contains(out, "grey") {
		t.Errorf("quarry search --kb red:\n%s", out)
	}
	out = mustCLI(t, nil, "ask", "--data", data, "--kb", "red", "How long does the warehouse take to ship an order?")
	if !strings.Contains(out, "red") || strings.Contains(out, "grey") {
		t.Errorf("quarry ask --kb red:\n%s", out)
	}
	if _, errOut, code := runCLIEnv(t, nil, "search", "--data", data, "--kb", "blue", "warehouse"); code != 1 || !strings.Contains(errOut, `no knowledge base "blue"`) {
		t.Errorf("search of a deleted knowledge base: exit %d, %s", code, errOut)
	}
}
