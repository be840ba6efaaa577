package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/internal/fsx"
)

// FuzzKeyFile: any content of keys.json is either refused with an error
// or yields keys that passed every check; it never panics.
func FuzzKeyFile(f *testing.F) {
	f.Add([]byte(`{"version": 1, "keys": [{"id": "k_1", "sha256": "` + strings.Repeat("ab", 32) + `", "kb": "default", "scopes": ["ask"], "created": "2026-12-03T00:00:00Z"}]}`))
	f.Add([]byte(`{"keys": [{"id": "k_1", "sha256": "zz", "kb": "*", "scopes": ["root"]}]}`))
	f.Add([]byte(`{"keys": null, "extra": 1}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		var kf keyFile
		if err := decodeKeyFile(b, &kf); err != nil {
			return
		}
		for _, k := range kf.Keys {
			if k.ID == "" || len(k.Hash) != 64 || CheckKB(k.KB) != nil {
				t.Fatalf("accepted a bad key %+v", k)
			}
			_ = k.Allows(Request{Scope: ScopeAsk, KB: "default", Origin: "https://x.example"})
			_ = k.State(time.Now())
		}
	})
}

// FuzzNormalizeOrigin: an accepted origin is stable (normalising it
// again gives itself) and has no path, query or credentials.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://shop.example", "http://localhost:3000/", "HTTPS://A.B", "https://u@h", "javascript:alert(1)", "https://h/#x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := NormalizeOrigin(s)
		if err != nil {
			return
		}
		again, err := NormalizeOrigin(o)
		if err != nil || again != o {
			t.Fatalf("NormalizeOrigin(%q) = %q, then %q, %v", s, o, again, err)
		}
		if strings.ContainsAny(strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://"), "/?#@") {
			t.Fatalf("NormalizeOrigin(%q) = %q keeps more than scheme and host", s, o)
		}
	})
}

// BenchmarkAuthorize measures one authorization against a keyring of
// 1000 keys: every stored hash is compared (in constant time) each time.
func BenchmarkAuthorize(b *testing.B) {
	dir := b.TempDir()
	var kf keyFile
	var last string
	for i := range 1000 {
		last = fmt.Sprintf("%sbench-%04d", Prefix, i)
		kf.Keys = append(kf.Keys, Key{ID: fmt.Sprintf("k_%04d", i), Hash: Hash(last), KB: "default", Scopes: []Scope{ScopeAsk}})
	}
	if err := fsx.WriteJSON(NewStore(dir).Path(), kf); err != nil {
		b.Fatal(err)
	}
	ring, err := NewKeyring(dir)
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Token: last, Scope: ScopeAsk, KB: "default"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ring.Authorize(req); err != nil {
			b.Fatal(err)
		}
	}
}
