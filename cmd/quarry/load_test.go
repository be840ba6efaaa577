package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRebuildsUnderLoad keeps querying /v1/search and /v1/ask from
// several goroutines while two rebuilds (one through the admin API, one
// by quarry reindex from outside the server) and a rollback run. Every
// generation has its own documents (alpha-*, bravo-*, charlie-*), so a
// response whose passages or citations came from two generations (old
// keyword hits with new vector hits, say) is caught. No request may
// fail.
func TestRebuildsUnderLoad(t *testing.T) {
	for _, store := range []string{storeEmbedded, storeQdrant} {
		t.Run(store, func(t *testing.T) {
			src, data := t.TempDir(), t.TempDir()
			o := options{Data: data, VectorStore: store}
			var vars map[string]string
			if store == storeQdrant {
				o.QdrantAddr = startFakeQdrant(t)
				vars = map[string]string{"QUARRY_VECTOR_STORE": store, "QUARRY_QDRANT_ADDR": o.QdrantAddr}
			}
			corpusFor(t, src, "alpha", 6)
			mustCLI(t, vars, "ingest", "--data", data, src)
			s := startServe(t, o, vars, serveHooks{})

			stop := make(chan struct{})
			st := load(s, 4, 3000, stop)
			// Hard cap on time: the load stops when the steps are done or
			// after two minutes, whichever comes first.
			timer := time.AfterFunc(2*time.Minute, func() { close(stop) })
			waitRequests := func(n int) {
				deadline := time.Now().Add(time.Minute)
				for {
					st.mu.Lock()
					got := st.requests
					st.mu.Unlock()
					if got >= n || time.Now().After(deadline) {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			waitRequests(20)
			g1 := s.status(t).Generation.Current

			corpusFor(t, src, "bravo", 5)
			after1 := s.reindexVia(t)
			g2 := after1.Generation.Current
			if after1.LastTrigger != "api" || after1.LastSuccess == nil || after1.Documents != 5 || after1.Generation.Previous != g1 {
				t.Errorf("status after the API rebuild: %+v", after1)
			}
			st.mu.Lock()
			n := st.requests
			st.mu.Unlock()
			waitRequests(n + 20)

			corpusFor(t, src, "charlie", 4)
			mustCLI(t, vars, "reindex", "--data", data)
			after2 := s.waitFor(t, "the CLI rebuild to be served", func(st adminStatusJSON) bool {
				return st.Generation.Current != g2 && st.Generation.Serving == st.Generation.Current
			})
			st.mu.Lock()
			n = st.requests
			st.mu.Unlock()
			waitRequests(n + 20)

			mustCLI(t, vars, "rollback", "--data", data)
			s.waitFor(t, "the rollback to be served", func(st adminStatusJSON) bool {
				return st.Generation.Current == g2 && st.Generation.Serving == g2 && st.Generation.Previous == after2.Generation.Current
			})
			st.mu.Lock()
			n = st.requests
			st.mu.Unlock()
			waitRequests(n + 20)

			if timer.Stop() {
				close(stop)
			}
			st.wait()

			t.Logf("%d requests; responses per generation %v; passages ranked per leg %v", st.requests, st.tags, st.legs)
			if len(st.failures) > 0 {
				t.Errorf("%d+ failed or mixed responses, first: %s", len(st.failures), strings.Join(st.failures, "\n"))
			}
			for _, tag := range []string{"alpha", "bravo", "charlie"} {
				if st.tags[tag] == 0 {
					t.Errorf("no response came from the %s generation: the load did not overlap the switches", tag)
				}
			}
			if st.legs["keyword"] == 0 || st.legs["vector"] == 0 {
				t.Errorf("both legs must contribute for the check to mean anything: %v", st.legs)
			}
			if final := s.status(t); final.Generation.Serving != g2 {
				t.Errorf("serving %s at the end, want %s", final.Generation.Serving, g2)
			}
			var res explainedResults
			if code, err := s.call(http.MethodPost, "/v1/search", map[string]any{"query": "refund window orders", "k": 8}, &res); err != nil || code != 200 || len(res.Results) == 0 || tagOf(res.Results[0].Path) != "bravo" {
				t.Errorf("after the rollback, search answers %d %v %+v; want bravo documents", code, err, res)
			}
		})
	}
}
