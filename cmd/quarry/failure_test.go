package main

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore/qdranttest"
	"github.com/quarry-kb/quarry/kb"
)

// failingFS fails the failAt-th open of a document (and every one after
// it), as a flaky network share would.
type failingFS struct {
	fs.FS
	opens  atomic.Int32
	failAt int32
}

func (f *failingFS) Open(name string) (fs.File, error) {
	if strings.HasSuffix(name, ".md") && f.opens.Add(1) >= f.failAt {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("input/output error")}
	}
	return f.FS.Open(name)
}

// brokenRootFS cannot even list its root.
type brokenRootFS struct{ fs.FS }

func (brokenRootFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("transport endpoint is not connected")}
}

// failingStore fails upserts from the failAt-th on (1: every one).
type failingStore struct {
	index.VectorStore
	upserts *atomic.Int32
	failAt  int32
}

func (s failingStore) Upsert(ctx context.Context, recs []index.Record) error {
	if s.upserts.Add(1) >= s.failAt {
		return quarry.Errorf(quarry.CodeUnavailable, "injected: the vector store went away")
	}
	return s.VectorStore.Upsert(ctx, recs)
}

// TestRebuildFailures makes rebuilds fail half way, through the admin
// API: the serving generation stays, the half-built one is removed, and
// GET /v1/admin/status tells why.
func TestRebuildFailures(t *testing.T) {
	tests := []struct {
		name    string
		store   string
		hooks   func(src string, fake *qdranttest.Server) serveHooks
		wantErr string
	}{
		{"a source file cannot be read", storeEmbedded, func(src string, _ *qdranttest.Server) serveHooks {
			return serveHooks{openSource: func(string) (fs.FS, error) { return &failingFS{FS: os.DirFS(src), failAt: 4}, nil }}
		}, "could not be read completely"},
		{"the source cannot be listed", storeEmbedded, func(src string, _ *qdranttest.Server) serveHooks {
			return serveHooks{openSource: func(string) (fs.FS, error) { return brokenRootFS{}, nil }}
		}, "transport endpoint is not connected"},
		{"the vector store fails", storeEmbedded, func(string, *qdranttest.Server) serveHooks {
			var n atomic.Int32
			return serveHooks{engine: engineConfig{wrapVectors: func(vs index.VectorStore) index.VectorStore {
				// Sync writes its documents in batches: this small
				// corpus is one batch, so the first upsert fails.
				return failingStore{VectorStore: vs, upserts: &n, failAt: 1}
			}}}
		}, "the vector store went away"},
		{"qdrant fails upserts", storeQdrant, func(_ string, fake *qdranttest.Server) serveHooks {
			fake.FailNext("Upsert", 1000, codes.Internal)
			return serveHooks{}
		}, "injected fault"},
		{"qdrant fails creating the collection", storeQdrant, func(_ string, fake *qdranttest.Server) serveHooks {
			fake.FailNext("/qdrant.Collections/Create", 1, codes.PermissionDenied)
			return serveHooks{}
		}, "API key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, data := t.TempDir(), t.TempDir()
			corpusFor(t, src, "alpha", 6)
			o := options{Data: data, VectorStore: tc.store}
			var vars map[string]string
			var fake *qdranttest.Server
			var view *qdrantView
			if tc.store == storeQdrant {
				fake = qdranttest.NewServer()
				o.QdrantAddr = fake.Start(t)
				vars = map[string]string{"QUARRY_VECTOR_STORE": storeQdrant, "QUARRY_QDRANT_ADDR": o.QdrantAddr}
				view = viewQdrant(t, o.QdrantAddr, "")
			}
			mustCLI(t, vars, "ingest", "--data", data, src)
			corpusFor(t, src, "bravo", 6) // what the failed rebuild would have served
			s := startServe(t, o, vars, tc.hooks(src, fake))
			before := s.status(t)

			var st adminStatusJSON
			if code, err := s.call(http.MethodPost, "/v1/admin/reindex", nil, &st); err != nil || code != http.StatusAccepted {
				t.Fatalf("POST /v1/admin/reindex: %d %v", code, err)
			}
			after := s.waitFor(t, "the rebuild to fail", func(st adminStatusJSON) bool { return !st.Running && st.LastFinished != nil })
			if !strings.Contains(after.LastError, tc.wantErr) || after.LastSuccess != nil {
				t.Errorf("status last_error %q, want it to say %q (last_success %v)", after.LastError, tc.wantErr, after.LastSuccess)
			}
			if after.Generation != before.Generation || after.Documents != before.Documents {
				t.Errorf("a failed rebuild changed the generations: %+v -> %+v", before.Generation, after.Generation)
			}
			if dirs := genDirs(t, data); !slices.Equal(dirs, []string{before.Generation.Current}) {
				t.Errorf("generations on disk %v, want only %s (the half-built one removed)", dirs, before.Generation.Current)
			}
			if view != nil {
				if got := view.collections(); !slices.Equal(got, []string{"quarry_default_" + before.Generation.Current}) {
					t.Errorf("collections %v: the half-built one must be dropped", got)
				}
				if got := view.alias(); got != "quarry_default_"+before.Generation.Current {
					t.Errorf("alias moved to %q", got)
				}
			}
			var res explainedResults
			if code, err := s.call(http.MethodPost, "/v1/search", map[string]any{"query": "refund window orders", "k": 5}, &res); err != nil || code != 200 ||
				len(res.Results) == 0 || tagOf(res.Results[0].Path) != "alpha" {
				t.Errorf("after the failed rebuild search answers %d %v %+v, want alpha documents", code, err, res)
			}
		})
	}
}

// TestOneRebuildAtATime: a second rebuild, through the API or from
// another process, is refused while one runs.
func TestOneRebuildAtATime(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	mustCLI(t, nil, "ingest", "--data", data, src)
	entered, release := make(chan struct{}), make(chan struct{})
	s := startServe(t, options{Data: data, RebuildSchedule: "@every 1h"}, nil, serveHooks{openSource: func(src string) (fs.FS, error) {
		close(entered)
		<-release // the rebuild holds the lock until the test lets go
		return kb.OpenSource(src)
	}})
	if code, err := s.call(http.MethodPost, "/v1/admin/reindex", nil, nil); err != nil || code != http.StatusAccepted {
		t.Fatalf("first POST /v1/admin/reindex: %d %v", code, err)
	}
	<-entered
	var e struct {
		Error struct{ Code, Message string }
	}
	if code, err := s.call(http.MethodPost, "/v1/admin/reindex", nil, &e); err != nil || code != http.StatusConflict || e.Error.Code != "conflict" {
		t.Errorf("second POST while one runs: %d %v %+v, want 409 conflict", code, err, e)
	}
	if _, errOut, code := runCLIEnv(t, nil, "reindex", "--data", data); code != 1 || !strings.Contains(errOut, "another ingest or rebuild is running") {
		t.Errorf("quarry reindex while the server rebuilds: exit %d\n%s", code, errOut)
	}
	if st := s.status(t); !st.Running || st.Schedule != "@every 1h" || st.NextRun == nil {
		t.Errorf("status while rebuilding: %+v", st)
	}
	close(release)
	st := s.waitFor(t, "the rebuild to end", func(st adminStatusJSON) bool { return !st.Running && st.LastSuccess != nil })
	if st.LastError != "" || st.Embedder == "" || st.VectorStore != storeEmbedded || st.IndexAgeSeconds < 0 || st.IndexAgeSeconds > 60 || st.Chunks == 0 {
		t.Errorf("status after the rebuild: %+v", st)
	}
}

// TestScheduledRebuild runs rebuilds on a schedule inside the server.
func TestScheduledRebuild(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	mustCLI(t, nil, "ingest", "--data", data, src)
	corpusFor(t, src, "bravo", 3)
	s := startServe(t, options{Data: data, RebuildSchedule: "@every 1s"}, nil, serveHooks{})
	st := s.waitFor(t, "a scheduled rebuild", func(st adminStatusJSON) bool {
		return st.LastTrigger == "schedule" && st.LastSuccess != nil && st.Generation.Serving == st.Generation.Current && !st.Running
	})
	if st.Documents != 3 || st.NextRun == nil {
		t.Errorf("status after the scheduled rebuild: %+v", st)
	}
	var res explainedResults
	if code, err := s.call(http.MethodPost, "/v1/search", map[string]any{"query": "refund window orders"}, &res); err != nil || code != 200 || len(res.Results) == 0 || tagOf(res.Results[0].Path) != "bravo" {
		t.Errorf("after the scheduled rebuild search answers %d %v %+v", code, err, res)
	}
	s.stop() // stops the schedule too, and waits for a rebuild in flight

	_, errOut, code := runCLIEnv(t, nil, "serve", "--data", data, "--addr", "127.0.0.1:0", "--rebuild-schedule", "every night")
	if code != 1 || !strings.Contains(errOut, "--rebuild-schedule") {
		t.Errorf("serve with a bad schedule: exit %d\n%s", code, errOut)
	}
}

// TestServerGate: a rebuild inside the server is gated against the
// generation the server is serving (which it lends, as it holds it open).
func TestServerGate(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"returns.md":  "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n",
		"warranty.md": "# Warranty\n\nEvery thermostat carries a two-year limited warranty against defects.\n",
	})
	mustCLI(t, nil, "ingest", "--data", data, src)
	qfile := filepath.Join(t.TempDir(), "q.jsonl")
	if err := os.WriteFile(qfile, []byte(
		`{"id": "q1", "question": "How long is the thermostat warranty?", "lang": "en", "answerable": true, "expected_docs": ["warranty.md"], "expected_answer": "two-year"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, "warranty.md"), filepath.Join(src, "guarantee.md")); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, options{Data: data, GateQuestions: qfile, GateMargin: 0.05}, nil, serveHooks{})
	before := s.status(t)
	if code, err := s.call(http.MethodPost, "/v1/admin/reindex", nil, nil); err != nil || code != http.StatusAccepted {
		t.Fatalf("POST /v1/admin/reindex: %d %v", code, err)
	}
	st := s.waitFor(t, "the gated rebuild to end", func(st adminStatusJSON) bool { return !st.Running && st.LastFinished != nil })
	if !strings.Contains(st.LastError, "gate:") || !strings.Contains(st.LastError, "0.000") || !strings.Contains(st.LastError, "1.000") {
		t.Errorf("last_error %q, want the gate's refusal with both recalls", st.LastError)
	}
	if st.Generation != before.Generation {
		t.Errorf("a rebuild refused by the gate switched: %+v -> %+v", before.Generation, st.Generation)
	}
	if dirs := genDirs(t, data); len(dirs) != 1 {
		t.Errorf("generations on disk %v", dirs)
	}
}
