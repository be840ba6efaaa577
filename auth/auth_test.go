package auth

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      []string
		want    []Scope
		wantErr bool
	}{
		{[]string{"ask"}, []Scope{ScopeAsk}, false},
		{[]string{"admin,ask", "search"}, []Scope{ScopeAsk, ScopeSearch, ScopeAdmin}, false},
		{[]string{"ASK, ask"}, []Scope{ScopeAsk}, false},
		{[]string{"ask,root"}, nil, true},
		{[]string{""}, nil, true},
		{nil, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseScopes(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopes(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseTTL(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"12h", 12 * time.Hour, false},
		{"0d", 0, true},
		{"-3h", 0, true},
		{"d", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseTTL(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseTTL(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	good := map[string]string{
		"https://Shop.Example":      "https://shop.example",
		"https://shop.example/":     "https://shop.example",
		"http://localhost:3000":     "http://localhost:3000",
		"https://shop.example:8443": "https://shop.example:8443",
	}
	for in, want := range good {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"shop.example", "ftp://shop.example", "https://shop.example/path", "https://u:p@shop.example", "*", "https://"} {
		if got, err := NormalizeOrigin(in); err == nil {
			t.Errorf("NormalizeOrigin(%q) = %q, want an error", in, got)
		}
	}
}

// TestKeyFileHoldsNoKey checks the keys at rest: the file has the
// SHA-256 of each key and nothing from which a key could be read back,
// and only its owner may read it.
func TestKeyFileHoldsNoKey(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	var secrets []string
	for _, spec := range []Spec{
		{Name: "support", KB: "default", Scopes: []Scope{ScopeAsk}},
		{Name: "ops", KB: AllKBs, Scopes: []Scope{ScopeAdmin}, TTL: time.Hour},
	} {
		k, secret, err := s.Create(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, Prefix) || len(secret) != len(Prefix)+43 {
			t.Errorf("key %q: want %s and 43 base64url characters (256 bits)", secret, Prefix)
		}
		if k.Hash != Hash(secret) {
			t.Errorf("stored hash %s is not the key's SHA-256", k.Hash)
		}
		secrets = append(secrets, secret)
	}
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		body := strings.TrimPrefix(secret, Prefix)
		if strings.Contains(string(b), body) || strings.Contains(string(b), body[:16]) {
			t.Errorf("key file holds the key in clear:\n%s", b)
		}
		if !strings.Contains(string(b), Hash(secret)) {
			t.Errorf("key file lacks the hash of a key")
		}
	}
	st, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("key file mode %v: want it readable by its owner only", perm)
	}
	keys, err := s.Keys()
	if err != nil || len(keys) != 2 || keys[1].Expires.IsZero() || keys[0].Name != "support" {
		t.Errorf("keys %+v, %v", keys, err)
	}
}

func TestCreateRefuses(t *testing.T) {
	s := NewStore(t.TempDir())
	tests := map[string]Spec{
		"no scope":             {KB: "default"},
		"bad kb":               {KB: "Default", Scopes: []Scope{ScopeAsk}},
		"empty kb":             {KB: "", Scopes: []Scope{ScopeAsk}},
		"unknown scope":        {KB: "default", Scopes: []Scope{"root"}},
		"bad origin":           {KB: "default", Scopes: []Scope{ScopeAsk}, Origin: "shop.example"},
		"origin with admin":    {KB: "default", Scopes: []Scope{ScopeAsk, ScopeAdmin}, Origin: "https://shop.example"},
		"origin with ingest":   {KB: "default", Scopes: []Scope{ScopeIngest}, Origin: "https://shop.example"},
		"negative expiry time": {KB: "default", Scopes: []Scope{ScopeAsk}, TTL: -time.Hour},
	}
	for name, spec := range tests {
		if _, _, err := s.Create(spec); !errors.Is(err, quarry.ErrInvalid) {
			t.Errorf("%s: error %v, want invalid", name, err)
		}
	}
	if keys, _ := s.Keys(); len(keys) != 0 {
		t.Errorf("refused specs left keys: %+v", keys)
	}
	if _, err := s.Revoke("k_nope"); !errors.Is(err, quarry.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	mk := func(spec Spec) string {
		_, secret, err := s.Create(spec)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	ask := mk(Spec{KB: "default", Scopes: []Scope{ScopeAsk}})
	searchAll := mk(Spec{KB: AllKBs, Scopes: []Scope{ScopeSearch, ScopeAsk}})
	admin := mk(Spec{KB: "shop", Scopes: []Scope{ScopeAdmin}})
	widget := mk(Spec{KB: "shop", Scopes: []Scope{ScopeAsk, ScopeSearch}, Origin: "https://shop.example"})
	short := mk(Spec{KB: "default", Scopes: []Scope{ScopeAsk}, TTL: time.Hour})

	ring, err := NewKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  Request
		code quarry.Code // "" for allowed
		says []string    // in the error message
	}{
		{"no key", Request{Scope: ScopeAsk, KB: "default"}, quarry.CodeUnauthenticated, []string{"missing API key"}},
		{"unknown key", Request{Token: Prefix + "nope", Scope: ScopeAsk}, quarry.CodeUnauthenticated, []string{"invalid API key"}},
		{"ask allowed", Request{Token: ask, Scope: ScopeAsk, KB: "default"}, "", nil},
		{"ask, kb not named yet", Request{Token: ask, Scope: ScopeAsk}, "", nil},
		{"ask key searching", Request{Token: ask, Scope: ScopeSearch, KB: "default"}, quarry.CodeForbidden, []string{`scope "search"`}},
		{"ask key on another kb", Request{Token: ask, Scope: ScopeAsk, KB: "shop"}, quarry.CodeForbidden, []string{`knowledge base "shop"`}},
		{"ask key admin on another kb", Request{Token: ask, Scope: ScopeAdmin, KB: "shop"}, quarry.CodeForbidden, []string{`scope "admin"`, `knowledge base "shop"`}},
		{"star key any kb", Request{Token: searchAll, Scope: ScopeSearch, KB: "shop"}, "", nil},
		{"star key ingest", Request{Token: searchAll, Scope: ScopeIngest, KB: "shop"}, quarry.CodeForbidden, []string{`scope "ingest"`}},
		{"admin", Request{Token: admin, Scope: ScopeAdmin, KB: "shop"}, "", nil},
		{"admin asks", Request{Token: admin, Scope: ScopeAsk, KB: "shop"}, quarry.CodeForbidden, []string{`scope "ask"`}},
		{"widget from its origin", Request{Token: widget, Scope: ScopeAsk, KB: "shop", Origin: "https://shop.example"}, "", nil},
		{"widget origin case", Request{Token: widget, Scope: ScopeSearch, KB: "shop", Origin: "https://SHOP.example"}, "", nil},
		{"widget from elsewhere", Request{Token: widget, Scope: ScopeAsk, KB: "shop", Origin: "https://evil.example"}, quarry.CodeForbidden, []string{"origin https://shop.example", "evil.example"}},
		{"widget with no origin", Request{Token: widget, Scope: ScopeAsk, KB: "shop"}, quarry.CodeForbidden, []string{"no Origin header"}},
		{"widget admin", Request{Token: widget, Scope: ScopeAdmin, KB: "shop", Origin: "https://shop.example"}, quarry.CodeForbidden, []string{"may only ask or search"}},
		{"short-lived key", Request{Token: short, Scope: ScopeAsk, KB: "default"}, "", nil},
	}
	for _, tt := range tests {
		key, err := ring.Authorize(tt.req)
		if got := quarry.ErrorCode(err); got != tt.code {
			t.Errorf("%s: code %q (%v), want %q", tt.name, got, err, tt.code)
			continue
		}
		if err == nil && key.ID == "" {
			t.Errorf("%s: allowed without a key id", tt.name)
		}
		for _, s := range tt.says {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %v: want it to say %s", tt.name, err, s)
			}
		}
		if err != nil && tt.req.Token != "" && strings.Contains(err.Error(), strings.TrimPrefix(tt.req.Token, Prefix)) {
			t.Errorf("%s: error %q holds the key", tt.name, err)
		}
	}

	// An hour and a minute later the short-lived key has expired.
	ring.now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	if _, err := ring.Authorize(Request{Token: short, Scope: ScopeAsk}); !errors.Is(err, quarry.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired key: %v", err)
	}
	if !ring.AllowOrigin("https://shop.example") || ring.AllowOrigin("https://evil.example") {
		t.Error("AllowOrigin: want the widget key's origin only")
	}
	if !ring.HasAdmin() || ring.Empty() {
		t.Error("HasAdmin/Empty")
	}
}

// TestRevokedWithinASecond revokes a key through the Store (as quarry
// keys revoke does, from another process) while a Keyring serves it.
func TestRevokedWithinASecond(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	ring, err := NewKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ring.Empty() || ring.HasAdmin() {
		t.Fatal("a keyring over no file must be empty")
	}
	k, secret, err := s.Create(Spec{KB: "default", Scopes: []Scope{ScopeAsk}})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Token: secret, Scope: ScopeAsk, KB: "default"}
	waitFor(t, "the new key to be accepted", func() bool { _, err := ring.Authorize(req); return err == nil })
	if _, err := s.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "the revoked key to be refused", func() bool {
		_, err := ring.Authorize(req)
		return errors.Is(err, quarry.ErrUnauthenticated)
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("revoked key refused after %v, want within a second", d)
	}
	if ring.Empty() {
		t.Error("revoking the last key made the keyring empty (and so the server open)")
	}
}

// TestKeyringFailsClosed: a key file broken by hand refuses every key
// rather than serving an outdated list.
func TestKeyringFailsClosed(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	_, secret, err := s.Create(Spec{KB: "default", Scopes: []Scope{ScopeAsk}})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := NewKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(), []byte(`{"keys": [{"id": "x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broken file to refuse keys", func() bool {
		_, err := ring.Authorize(Request{Token: secret, Scope: ScopeAsk})
		return errors.Is(err, quarry.ErrUnavailable)
	})
	if ring.Empty() {
		t.Error("a broken key file counts as no keys")
	}
	if _, err := NewKeyring(dir); !errors.Is(err, quarry.ErrInvalid) {
		t.Errorf("NewKeyring over a broken file: %v", err)
	}
}

// TestConcurrentCreate: keys created at the same time by several
// processes are all kept (the store locks the file).
func TestConcurrentCreate(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := NewStore(dir).Create(Spec{KB: "default", Scopes: []Scope{ScopeAsk}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	keys, err := NewStore(dir).Keys()
	if err != nil || len(keys) != 8 {
		t.Errorf("%d keys, %v; want 8", len(keys), err)
	}
}

func TestAudit(t *testing.T) {
	dir := t.TempDir()
	a := NewAudit(dir)
	if got, err := a.List(0); err != nil || len(got) != 0 {
		t.Fatalf("empty log: %v, %v", got, err)
	}
	events := []Event{
		{Action: ActionKeyCreate, KB: "default", Actor: "cli", Outcome: OutcomeOK, Detail: "k_1"},
		{Action: "reindex", KB: "shop", Actor: "key", KeyID: "k_2", Outcome: OutcomeOK, Status: 202},
		{Action: "reindex", KB: "default", Actor: "anonymous", Outcome: OutcomeDenied, Status: 401},
	}
	for _, e := range events {
		if err := a.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	// A torn last line (a crash mid-write) is skipped, not fatal.
	f, _ := os.OpenFile(filepath.Join(dir, AuditFileName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"action": "rollb`)
	f.Close()
	got, err := a.List(0, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Outcome != OutcomeDenied || got[1].Action != ActionKeyCreate || got[0].Time.IsZero() {
		t.Errorf("default's events, newest first: %+v", got)
	}
	if all, _ := a.List(1); len(all) != 1 || all[0].Status != 401 {
		t.Errorf("limit 1: %+v", all)
	}
	if two, _ := a.List(0, "shop", "default"); len(two) != 3 {
		t.Errorf("shop and default: %+v", two)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
