package kb

import (
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
		`{"sources": [{"path": "/srv/en", "prefix": "en"}, {"path": "/srv/zh", "prefix": "zh"}]}`, `{"sources": [{"path": ""}]}`,
		`{"last_started": "2026-01-02T03:04:05Z", "last_error": "boom"}`,
		``, `null`, `{`, `[]`, `{"store": 3}`, `{"source": ""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		for _, name := range []string{VectorsRecordFile, sourcesFile, rebuildRecordFile} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := ReadVectorsRecord(dir); err != nil {
			if quarry.ErrorCode(err) != quarry.CodeInternal {
				t.Errorf("corrupt vectors.json: code %q, want internal: %v", quarry.ErrorCode(err), err)
			}
		} else if err := CheckRecordKind("g1", r, r.Store); err != nil {
			t.Errorf("record %+v refused for its own kind: %v", r, err)
		} else if r.Store != StoreEmbedded && r.Store != StoreQdrant {
			t.Errorf("record of unknown store %q accepted", r.Store)
		}
		d, err := gen.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if srcs, err := loadSources(d); err == nil {
			for _, s := range srcs {
				if s.Path == "" {
					t.Errorf("loadSources returned an empty source without an error: %+v", srcs)
				}
			}
		}
		_ = loadRebuildRecord(d)
	})
}
