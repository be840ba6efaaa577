package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/auth"
)

// keyedData is a data directory with a small ingested folder.
func keyedData(t *testing.T) string {
	t.Helper()
	data, src := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"refunds.md":  "# Refunds\n\nRefunds take five business days to reach your card once the return is received.\n",
		"shipping.md": "# Shipping\n\nOrders ship within two days from our warehouse.\n",
	})
	if _, errOut, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", errOut)
	}
	return data
}

// createKey runs quarry keys create and returns the key it printed.
func createKey(t *testing.T, data string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"keys", "create", "--data", data}, args...)...)
	if code != 0 {
		t.Fatalf("keys create %v: %d %s", args, code, errOut)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, auth.Prefix) || strings.Contains(key, "\n") {
		t.Fatalf("keys create printed %q: want the key alone", out)
	}
	return key
}

// call makes one request to a running server and returns status,
// headers and body.
func call(t *testing.T, p *quarryProc, method, path, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+p.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func errorCode(b []byte) string {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	return e.Error.Code
}

// TestAPIKeys runs a real server over HTTP: open on loopback before any
// key exists, then every scope allowed and refused, 401 against 403,
// origin-bound keys, revocation within a second, the audit log, and the
// key file holding no key.
func TestAPIKeys(t *testing.T) {
	data := keyedData(t)
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")
	const search, ask = `{"query": "refunds"}`, `{"question": "How long do refunds take?"}`

	// No key yet, on loopback: everything works as before.
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/search", search}, {"POST", "/v1/ask", ask}, {"GET", "/v1/admin/status", ""}, {"GET", "/v1/models", ""},
	} {
		if code, _, b := call(t, p, tt.method, tt.path, tt.body); code != 200 {
			t.Fatalf("%s %s without keys: %d %s", tt.method, tt.path, code, b)
		}
	}

	admin := createKey(t, data, "--kb", "*", "--scope", "admin", "--name", "ops")
	askKey := createKey(t, data, "--kb", "default", "--scope", "ask")
	searchKey := createKey(t, data, "--kb", "default", "--scope", "search", "--expires", "90d")
	both := createKey(t, data, "--kb", "default", "--scope", "ask,search")
	other := createKey(t, data, "--kb", "shop", "--scope", "ask", "--scope", "search", "--scope", "admin")
	widget := createKey(t, data, "--kb", "default", "--scope", "ask", "--origin", "https://shop.example", "--name", "widget")

	// The running server picks the keys up: no key is now refused.
	waitUntil(t, time.Second, "the server to require keys", func() bool {
		code, _, _ := call(t, p, "POST", "/v1/search", search)
		return code == 401
	})

	bearer := func(k string) string { return "Bearer " + k }
	tests := []struct {
		name, method, path, body, key, origin string
		status                                int
		says                                  string
	}{
		{"no key", "POST", "/v1/ask", ask, "", "", 401, "missing API key"},
		{"wrong key", "POST", "/v1/ask", ask, auth.Prefix + "x", "", 401, "invalid API key"},
		{"ask scope asks", "POST", "/v1/ask", ask, askKey, "", 200, ""},
		{"ask scope searches", "POST", "/v1/search", search, askKey, "", 403, `scope "search"`},
		{"search scope searches", "POST", "/v1/search", search, searchKey, "", 200, ""},
		{"search scope asks", "POST", "/v1/ask", ask, searchKey, "", 403, `scope "ask"`},
		{"ask scope chats", "POST", "/v1/chat/completions", `{"model": "default", "messages": [{"role": "user", "content": "How long do refunds take?"}]}`, askKey, "", 200, ""},
		{"search scope chats", "POST", "/v1/chat/completions", `{"model": "default", "messages": [{"role": "user", "content": "refunds?"}]}`, searchKey, "", 403, `scope "ask"`},
		{"admin scope status", "GET", "/v1/admin/status", "", admin, "", 200, ""},
		{"ask scope status", "GET", "/v1/admin/status", "", askKey, "", 403, `scope "admin"`},
		{"ask scope reindex", "POST", "/v1/admin/reindex", "", both, "", 403, `scope "admin"`},
		{"other kb's key", "POST", "/v1/ask", ask, other, "", 403, `knowledge base "default"`},
		{"other kb's admin", "POST", "/v1/admin/reindex", "", other, "", 403, `knowledge base "default"`},
		{"widget from its origin", "POST", "/v1/ask", ask, widget, "https://shop.example", 200, ""},
		{"widget from another origin", "POST", "/v1/ask", ask, widget, "https://evil.example", 403, "origin https://shop.example"},
		{"widget without origin", "POST", "/v1/ask", ask, widget, "", 403, "no Origin header"},
		{"health stays open", "GET", "/healthz", "", "", "", 200, ""},
		{"readiness stays open", "GET", "/readyz", "", "", "", 200, ""},
		{"admin scope reindex", "POST", "/v1/admin/reindex", "", admin, "", 202, ""},
	}
	for _, tt := range tests {
		key := ""
		if tt.key != "" {
			key = bearer(tt.key)
		}
		code, _, b := call(t, p, tt.method, tt.path, tt.body, "Authorization", key, "Origin", tt.origin)
		if code != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.name, code, tt.status, b)
			continue
		}
		var e struct{ Error struct{ Message string } }
		json.Unmarshal(b, &e)
		if tt.says != "" && !strings.Contains(e.Error.Message, tt.says) {
			t.Errorf("%s: %s: want it to say %s", tt.name, b, tt.says)
		}
		if tt.key != "" && bytes.Contains(b, []byte(tt.key[len(auth.Prefix):])) {
			t.Errorf("%s: the response holds the key", tt.name)
		}
	}

	// Revocation: refused within a second by the running server.
	out, _, code := runCLI(t, "keys", "list", "--data", data, "--json")
	var keys []struct{ ID, Name, State string }
	if code != 0 || json.Unmarshal([]byte(out), &keys) != nil || len(keys) != 6 {
		t.Fatalf("keys list: %d %s", code, out)
	}
	askID := keys[1].ID
	if _, errOut, code := runCLI(t, "keys", "revoke", "--data", data, askID); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	waitUntil(t, time.Second, "the revoked key to be refused", func() bool {
		code, _, _ := call(t, p, "POST", "/v1/ask", ask, "Authorization", bearer(askKey))
		return code == 401
	})
	if code, _, b := call(t, p, "POST", "/v1/ask", ask, "Authorization", bearer(askKey)); code != 401 || !strings.Contains(string(b), "revoked") {
		t.Errorf("revoked key: %d %s", code, b)
	}

	// The audit log: the keys created and revoked on the command line,
	// the rebuild started and the ones refused, with key ids.
	waitUntil(t, 30*time.Second, "the rebuild to finish", func() bool {
		_, _, b := call(t, p, "GET", "/v1/admin/status", "", "Authorization", bearer(admin))
		return !strings.Contains(string(b), `"running":true`)
	})
	code, _, b := call(t, p, "GET", "/v1/kb/default/admin/audit", "", "Authorization", bearer(admin))
	var audit struct{ Events []auth.Event }
	if code != 200 || json.Unmarshal(b, &audit) != nil {
		t.Fatalf("audit: %d %s", code, b)
	}
	count := map[string]int{}
	for _, e := range audit.Events {
		count[e.Action+" "+e.Outcome+" "+e.Actor]++
		if e.Time.IsZero() || (e.Actor == "key" && e.KeyID == "") {
			t.Errorf("audit event %+v", e)
		}
	}
	want := map[string]int{
		"key.create ok cli": 5, // the four keys for default and, the caller's key being for '*', the '*' key (not shop's)
		"key.revoke ok cli": 1, "reindex ok key": 1, "reindex denied key": 2,
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("audit: %d × %q, want %d (all: %v)", count[k], k, n, count)
		}
	}
	if code, _, _ := call(t, p, "GET", "/v1/kb/default/admin/audit", "", "Authorization", bearer(both)); code != 403 {
		t.Errorf("audit with a key without admin: %d", code)
	}

	// At rest: the key file holds hashes, not keys.
	raw, err := os.ReadFile(filepath.Join(data, auth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{admin, askKey, searchKey, both, other, widget} {
		if bytes.Contains(raw, []byte(k[len(auth.Prefix):len(auth.Prefix)+12])) {
			t.Errorf("key file holds a key in clear")
		}
		if !bytes.Contains(raw, []byte(auth.Hash(k))) {
			t.Errorf("key file lacks a key's hash")
		}
	}
	auditRaw, _ := os.ReadFile(filepath.Join(data, auth.AuditFileName))
	for _, k := range []string{admin, askKey, widget} {
		if bytes.Contains(auditRaw, []byte(k[len(auth.Prefix):])) {
			t.Errorf("audit log holds a key")
		}
	}
}

// TestRateLimitOverHTTP: a key over its limit gets 429 with Retry-After
// and a JSON error, then is served again once the window has passed.
func TestRateLimitOverHTTP(t *testing.T) {
	data := keyedData(t)
	key := createKey(t, data, "--kb", "default", "--scope", "search")
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn",
		"--rate-limit", "3", "--rate-window", "1s")
	const search = `{"query": "refunds"}`
	for i := range 3 {
		if code, _, b := call(t, p, "POST", "/v1/search", search, "Authorization", "Bearer "+key); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, b)
		}
	}
	code, h, b := call(t, p, "POST", "/v1/search", search, "Authorization", "Bearer "+key)
	if code != 429 || errorCode(b) != "rate_limited" {
		t.Fatalf("over the limit: %d %s", code, b)
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q", h.Get("Retry-After"))
	}
	waitUntil(t, 5*time.Second, "the limit to recover", func() bool {
		code, _, _ := call(t, p, "POST", "/v1/search", search, "Authorization", "Bearer "+key)
		return code == 200
	})
}

// TestServeRefusesToBeExposed: on an address other than loopback, serve
// refuses to start without an admin key, saying how to create one;
// --insecure-no-auth lets it start open, with a warning, until keys are
// created; an admin key lets it start, with keys required.
func TestServeRefusesToBeExposed(t *testing.T) {
	data := keyedData(t)
	_, errOut, code := runCLI(t, "serve", "--data", data, "--addr", "0.0.0.0:0")
	if code != 1 || !strings.Contains(errOut, "quarry keys create") || !strings.Contains(errOut, "--scope admin") {
		t.Fatalf("serve on 0.0.0.0 without keys: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "serve", "--data", data, "--addr", ":0"); code != 1 || !strings.Contains(errOut, "admin API key") {
		t.Fatalf("serve on :0 without keys: exit %d\n%s", code, errOut)
	}

	p := startServer(t, "serve", "--data", data, "--addr", "0.0.0.0:0", "--insecure-no-auth", "--log-level", "warn")
	if !strings.Contains(p.stderr.String(), "--insecure-no-auth") {
		t.Errorf("--insecure-no-auth without a warning:\n%s", p.stderr)
	}
	p.addr = "127.0.0.1" + p.addr[strings.LastIndex(p.addr, ":"):]
	const search = `{"query": "refunds"}`
	if code, _, b := call(t, p, "POST", "/v1/search", search); code != 200 {
		t.Errorf("insecure server without keys: %d %s", code, b)
	}
	// Keys created while it runs are required at once.
	key := createKey(t, data, "--kb", "default", "--scope", "search")
	waitUntil(t, time.Second, "the insecure server to require the new keys", func() bool {
		code, _, _ := call(t, p, "POST", "/v1/search", search)
		return code == 401
	})
	if code, _, _ := call(t, p, "POST", "/v1/search", search, "Authorization", "Bearer "+key); code != 200 {
		t.Errorf("insecure server with a key: %d", code)
	}
	p.stop()

	if _, errOut, code := runCLI(t, "serve", "--data", data, "--addr", "0.0.0.0:0"); code != 1 || !strings.Contains(errOut, "admin API key") {
		t.Fatalf("serve on 0.0.0.0 with keys but no admin key: exit %d\n%s", code, errOut)
	}
	admin := createKey(t, data, "--kb", "*", "--scope", "admin")
	p = startServer(t, "serve", "--data", data, "--addr", "0.0.0.0:0", "--log-level", "warn")
	p.addr = "127.0.0.1" + p.addr[strings.LastIndex(p.addr, ":"):]
	if code, _, _ := call(t, p, "GET", "/v1/admin/status", ""); code != 401 {
		t.Errorf("exposed server without a key: %d", code)
	}
	if code, _, _ := call(t, p, "GET", "/v1/admin/status", "", "Authorization", "Bearer "+admin); code != 200 {
		t.Errorf("exposed server with the admin key: %d", code)
	}
}

func TestKeysCLI(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"keys", "create", "--data", data, "--scope", "ask"},                     // no --kb
		{"keys", "create", "--data", data, "--kb", "default"},                    // no scope
		{"keys", "create", "--data", data, "--kb", "default", "--scope", "root"}, // unknown scope
		{"keys", "create", "--data", data, "--kb", "Bad Name", "--scope", "ask"}, // bad kb
		{"keys", "create", "--data", data, "--kb", "default", "--scope", "ask", "--expires", "x"},
		{"keys", "create", "--data", data, "--kb", "default", "--scope", "admin", "--origin", "https://shop.example"},
		{"keys", "revoke", "--data", data, "k_nope"},
	} {
		out, errOut, code := runCLI(t, args...)
		if code == 0 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want a failure and nothing printed", args, code, out, errOut)
		}
	}
	if _, _, code := runCLI(t, "keys", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
	out, _, code := runCLI(t, "keys", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "No API keys") {
		t.Errorf("list with no keys: %d %q", code, out)
	}
	createKey(t, data, "--kb", "default", "--scope", "ask", "--name", "support-bot", "--expires", "2w")
	out, _, _ = runCLI(t, "keys", "list", "--data", data)
	if !strings.Contains(out, "support-bot") || !strings.Contains(out, "active") || strings.Contains(out, auth.Prefix) {
		t.Errorf("list:\n%s", out)
	}
}

func TestParseKBLimits(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]int
		bad  bool
	}{
		{"", nil, false},
		{"shop=100", map[string]int{"shop": 100}, false},
		{" shop=100, default=5 ", map[string]int{"shop": 100, "default": 5}, false},
		{"shop", nil, true},
		{"shop=0", nil, true},
		{"shop=x", nil, true},
		{"Shop=3", nil, true},
		{"*=3", nil, true},
	}
	for _, tt := range tests {
		got, err := parseKBLimits(tt.in)
		if (err != nil) != tt.bad || len(got) != len(tt.want) {
			t.Errorf("parseKBLimits(%q) = %v, %v", tt.in, got, err)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("parseKBLimits(%q)[%s] = %d, want %d", tt.in, k, got[k], v)
			}
		}
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, within)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestAPIKeysAcrossKnowledgeBases: a key bound to one knowledge base
// reaches its routes only (by path and by chat model), sees only it in
// /v1/models; admin actions on each knowledge base (over HTTP and on the
// command line) are in that knowledge base's audit.
func TestAPIKeysAcrossKnowledgeBases(t *testing.T) {
	data := keyedData(t)
	shopDocs := t.TempDir()
	writeFiles(t, shopDocs, map[string]string{
		"refunds.md": "# Refunds\n\nShop refunds take ten business days and come as store credit.\n",
	})
	if _, errOut, code := runCLI(t, "kb", "create", "--data", data, "shop"); code != 0 {
		t.Fatalf("kb create: %s", errOut)
	}
	if _, errOut, code := runCLI(t, "ingest", "--data", data, "--kb", "shop", shopDocs); code != 0 {
		t.Fatalf("ingest --kb shop: %s", errOut)
	}
	writeFiles(t, shopDocs, map[string]string{"hours.md": "# Hours\n\nThe shop opens at nine.\n"})
	if _, errOut, code := runCLI(t, "ingest", "--data", data, "--kb", "shop", shopDocs); code != 0 {
		t.Fatalf("second ingest --kb shop: %s", errOut)
	}
	shop := createKey(t, data, "--kb", "shop", "--scope", "search,ask,admin")
	def := createKey(t, data, "--kb", "default", "--scope", "admin")
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")
	auth := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	chat := func(model string) string {
		return `{"model": "` + model + `", "messages": [{"role": "user", "content": "How long do refunds take?"}]}`
	}
	for _, tt := range []struct {
		method, path, body, key string
		status                  int
	}{
		{"POST", "/v1/kb/shop/search", `{"query": "refunds"}`, shop, 200},
		{"POST", "/v1/kb/default/search", `{"query": "refunds"}`, shop, 403},
		{"POST", "/v1/search", `{"query": "refunds"}`, shop, 403},
		{"POST", "/v1/kb/shop/ask", `{"question": "How long do refunds take?"}`, shop, 200},
		{"POST", "/v1/chat/completions", chat("shop"), shop, 200},
		{"POST", "/v1/chat/completions", chat("default"), shop, 403},
		{"GET", "/v1/kb/default/admin/status", "", shop, 403},
		{"POST", "/v1/kb/shop/admin/rollback", "", def, 403},
		{"POST", "/v1/kb/shop/admin/rollback", "", shop, 200},
	} {
		code, _, b := call(t, p, tt.method, tt.path, tt.body, auth(tt.key)...)
		if code != tt.status {
			t.Errorf("%s %s: %d, want %d: %s", tt.method, tt.path, code, tt.status, b)
		}
		if code == 200 && strings.Contains(string(b), "five business days") {
			t.Errorf("%s %s with the shop key returned the default knowledge base's text: %s", tt.method, tt.path, b)
		}
	}
	_, _, b := call(t, p, "GET", "/v1/models", "", auth(shop)...)
	var models struct{ Data []struct{ ID string } }
	if json.Unmarshal(b, &models) != nil || len(models.Data) != 1 || models.Data[0].ID != "shop" {
		t.Errorf("models for the shop key: %s", b)
	}

	if _, errOut, code := runCLI(t, "rollback", "--data", data, "--kb", "shop"); code != 0 {
		t.Fatalf("rollback: %s", errOut)
	}
	_, _, b = call(t, p, "GET", "/v1/kb/shop/admin/audit", "", auth(shop)...)
	var audit struct {
		Events []struct{ Action, Actor, Outcome, KeyID string }
	}
	if err := json.Unmarshal(b, &audit); err != nil {
		t.Fatalf("audit: %v %s", err, b)
	}
	seen := map[string]bool{}
	for _, e := range audit.Events {
		seen[e.Action+" "+e.Outcome+" "+e.Actor] = true
	}
	for _, want := range []string{"kb.create ok cli", "key.create ok cli", "rollback ok key", "rollback denied key", "rollback ok cli"} {
		if !seen[want] {
			t.Errorf("shop's audit lacks %q: %s", want, b)
		}
	}
	if strings.Contains(string(b), `"kb":"default"`) {
		t.Errorf("shop's audit shows default's events: %s", b)
	}

	// Deleting the knowledge base is audited too (its key still reads
	// the log of the name it is bound to).
	if _, errOut, code := runCLI(t, "kb", "delete", "--data", data, "shop"); code != 0 {
		t.Fatalf("kb delete: %s", errOut)
	}
	_, _, b = call(t, p, "GET", "/v1/kb/shop/admin/audit?limit=1", "", auth(shop)...)
	audit.Events = nil
	if err := json.Unmarshal(b, &audit); err != nil || len(audit.Events) != 1 ||
		audit.Events[0].Action != "kb.delete" || audit.Events[0].Outcome != "ok" || audit.Events[0].Actor != "cli" {
		t.Errorf("the newest of shop's audit events after kb delete: %v %s", err, b)
	}
}

// TestDocumentsOverHTTP: the ingest scope over a real server. A key
// with ingest adds a document (PUT /v1/kb/{kb}/documents), which is
// searchable in the answer's wake without a restart, replaces and
// removes it; an ask-only or admin key is refused (403), no key is 401;
// each change is in the audit log with the key's id.
func TestDocumentsOverHTTP(t *testing.T) {
	data := keyedData(t)
	ingestKey := createKey(t, data, "--kb", "default", "--scope", "ingest")
	askKey := createKey(t, data, "--kb", "default", "--scope", "ask")
	searchKey := createKey(t, data, "--kb", "default", "--scope", "search")
	admin := createKey(t, data, "--kb", "default", "--scope", "admin")
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")
	bearer := func(k string) []string {
		return []string{"Authorization", "Bearer " + k, "Content-Type", "text/markdown"}
	}
	const doc = "# Warranty\n\nEvery kettle carries a warranty of seven years from the day of purchase.\n"
	const put = "/v1/kb/default/documents?path=policies/warranty.md"
	found := func() string {
		_, _, b := call(t, p, "POST", "/v1/search", `{"query": "kettle warranty"}`, "Authorization", "Bearer "+searchKey)
		return string(b)
	}
	if strings.Contains(found(), "seven years") {
		t.Fatal("the document is found before it was sent")
	}

	for _, tt := range []struct {
		name, key string
		status    int
	}{{"no key", "", 401}, {"ask key", askKey, 403}, {"admin key", admin, 403}, {"search key", searchKey, 403}} {
		h := bearer(tt.key)
		if tt.key == "" {
			h = h[2:]
		}
		code, _, b := call(t, p, "PUT", put, doc, h...)
		if code != tt.status {
			t.Errorf("PUT with %s: %d, want %d: %s", tt.name, code, tt.status, b)
		}
		if tt.status == 403 && !strings.Contains(string(b), `scope \"ingest\"`) {
			t.Errorf("PUT with %s: %s: want it to name the ingest scope", tt.name, b)
		}
	}
	if strings.Contains(found(), "seven years") {
		t.Fatal("a refused PUT was ingested")
	}

	code, _, b := call(t, p, "PUT", put, doc, bearer(ingestKey)...)
	var res struct{ KB, Path, Action, Generation string }
	if code != 200 || json.Unmarshal(b, &res) != nil || res.Action != "added" || res.Path != "uploads/policies/warranty.md" {
		t.Fatalf("PUT with the ingest key: %d %s", code, b)
	}
	waitUntil(t, 5*time.Second, "the document to be served", func() bool { return strings.Contains(found(), "seven years") })
	if !strings.Contains(found(), `"uploads/policies/warranty.md"`) {
		t.Errorf("search result: %s", found())
	}
	// The folder's documents are still there.
	if _, _, b := call(t, p, "POST", "/v1/search", `{"query": "refunds"}`, "Authorization", "Bearer "+searchKey); !strings.Contains(string(b), "refunds.md") {
		t.Errorf("the folder's documents after a PUT: %s", b)
	}

	code, _, b = call(t, p, "PUT", put, strings.Replace(doc, "seven", "nine", 1), bearer(ingestKey)...)
	if code != 200 || !strings.Contains(string(b), `"updated"`) {
		t.Fatalf("replace: %d %s", code, b)
	}
	waitUntil(t, 5*time.Second, "the replaced document to be served", func() bool {
		s := found()
		return strings.Contains(s, "nine years") && !strings.Contains(s, "seven years")
	})
	if code, _, b := call(t, p, "PUT", "/v1/kb/default/documents?path=setup.exe", "MZ", bearer(ingestKey)...); code != 415 {
		t.Errorf("an unsupported document: %d %s", code, b)
	}
	if code, _, b := call(t, p, "PUT", "/v1/kb/default/documents?path=../../keys.json", "{}", bearer(ingestKey)...); code != 400 {
		t.Errorf("a path out of the folder: %d %s", code, b)
	}
	if code, _, b := call(t, p, "DELETE", put, "", bearer(askKey)...); code != 403 {
		t.Errorf("DELETE with the ask key: %d %s", code, b)
	}
	if code, _, b := call(t, p, "DELETE", put, "", bearer(ingestKey)...); code != 200 || !strings.Contains(string(b), `"removed"`) {
		t.Fatalf("DELETE with the ingest key: %d %s", code, b)
	}
	waitUntil(t, 5*time.Second, "the removed document to go", func() bool { return !strings.Contains(found(), "nine years") })

	_, _, b = call(t, p, "GET", "/v1/kb/default/admin/audit", "", "Authorization", "Bearer "+admin)
	var audit struct{ Events []auth.Event }
	if err := json.Unmarshal(b, &audit); err != nil {
		t.Fatalf("audit: %v %s", err, b)
	}
	count := map[string]int{}
	ingestID := ""
	for _, e := range audit.Events {
		count[e.Action+" "+e.Outcome]++
		if e.Action == auth.ActionDocumentPut && e.Outcome == auth.OutcomeOK {
			ingestID = e.KeyID
			if e.Detail != "policies/warranty.md" {
				t.Errorf("audit detail %q", e.Detail)
			}
		}
	}
	for k, n := range map[string]int{"document.put ok": 2, "document.put denied": 4, "document.put error": 2, "document.delete ok": 1, "document.delete denied": 1} {
		if count[k] != n {
			t.Errorf("audit: %d × %q, want %d (all: %v)", count[k], k, n, count)
		}
	}
	if ingestID == "" || strings.Contains(string(b), ingestKey[len(auth.Prefix):]) {
		t.Errorf("audit: key id %q, or the key itself is in it", ingestID)
	}
}
