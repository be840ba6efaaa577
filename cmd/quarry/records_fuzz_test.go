package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
)

// FuzzRecords feeds arbitrary bytes to the small JSON files a data
// directory keeps (vectors.json, sources.json, rebuild.json): reading
// them never panics, and a file that does not parse is a clear error,
// not a silently wrong value.
func FuzzRecords(f *testing.F) {
	for _, seed := range []string{
		`{"store": "qdrant", "collection": "quarry_default_g000003", "addr": "qdrant:6334", "api_key_env": "QUARRY_QDRANT_API_KEY"}`,
		`{"store": "embedded"}`,
		`{"source": "/srv/docs", "recorded": "2026-01-02T03:04:05Z"}`,
		`{"source": "builtin:helpcenter"}`,
		`{"last_started": "2026-01-02T03:04:05Z", "last_error": "boom"}`,
		``, `null`, `{`, `[]`, `{"store": 3}`, `{"source": ""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		for _, name := range []string{vectorsRecordFile, sourcesFile, rebuildRecordFile} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := readVectorsRecord(dir); err != nil {
			if quarry.ErrorCode(err) != quarry.CodeInternal {
				t.Errorf("corrupt vectors.json: code %q, want internal: %v", quarry.ErrorCode(err), err)
			}
		} else if err := checkRecordKind("g1", r, r.Store); err != nil {
			t.Errorf("record %+v refused for its own kind: %v", r, err)
		} else if r.Store != storeEmbedded && r.Store != storeQdrant {
			t.Errorf("record of unknown store %q accepted", r.Store)
		}
		d, err := gen.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if src, err := recordedSource(d); err == nil && src == "" {
			t.Error("recordedSource returned an empty source without an error")
		}
		_ = loadRebuildRecord(d)
	})
}

func FuzzDialAddr(f *testing.F) {
	for _, seed := range []string{"0.0.0.0:8080", ":80", "[::]:443", "example.com:1", "nonsense", "", "[::1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got := dialAddr(addr)
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			if got != addr {
				t.Errorf("dialAddr(%q) = %q; an address it cannot split must pass through", addr, got)
			}
			return
		}
		h, p, err := net.SplitHostPort(got)
		if err != nil || p != port {
			t.Fatalf("dialAddr(%q) = %q (%v): the port must be kept", addr, got, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h != "127.0.0.1" && h != "::1" {
				t.Errorf("dialAddr(%q) = %q: a wildcard host must become loopback", addr, got)
			}
		} else if h != host {
			t.Errorf("dialAddr(%q) = %q: a concrete host must be kept", addr, got)
		}
	})
}
