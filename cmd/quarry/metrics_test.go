package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var metricsAddr = regexp.MustCompile(`msg="serving metrics" addr=http://([0-9.]+:[0-9]+)/metrics`)

// TestIndexMetrics: /metrics on --metrics-addr (no key) reports each
// knowledge base's documents, chunks and index age, and counts the
// generations the server switched to by reason (an ingest by another
// process, a reindex it ran, a rollback), with how long their builds
// took, and the rebuilds and their durations; beside the Go runtime's
// and the process's metrics.
func TestIndexMetrics(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 3)
	mustCLI(t, nil, "ingest", "--data", data, src)
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	var addr string
	waitUntil(t, 30*time.Second, "the metrics address in the log", func() bool {
		if m := metricsAddr.FindStringSubmatch(p.stderr.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	scrape := func() map[string]float64 {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
		}
		got := map[string]float64{}
		for _, m := range regexp.MustCompile(`(?m)^([a-z_]+(?:\{[^}]*\})?) (\S+)$`).FindAllStringSubmatch(string(b), -1) {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatalf("%s: %v", m[0], err)
			}
			got[m[1]] = v
		}
		return got
	}
	const kb = `{kb="default"}`
	has := func(t *testing.T, got map[string]float64, name string, want float64) {
		t.Helper()
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present: %v), want %v", name, v, ok, want)
		}
	}

	got := scrape()
	st := state(t, data)
	has(t, got, "quarry_index_documents"+kb, 3)
	has(t, got, "quarry_index_chunks"+kb, float64(st.Info.Chunks))
	if age := got["quarry_index_age_seconds"+kb]; age < 0 || age > time.Since(st.Info.Built).Seconds()+1 {
		t.Errorf("index age %v s; built %v ago", age, time.Since(st.Info.Built))
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
		if _, ok := got[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// What was built before the server started is not counted.
	for name := range got {
		if regexp.MustCompile(`^quarry_(index_updates_total|index_build_duration_seconds_count|rebuilds_total)\{`).MatchString(name) {
			t.Errorf("%s before any update", name)
		}
	}

	// Another process ingests a changed folder; the server switches to it.
	corpusFor(t, src, "bravo", 4)
	mustCLI(t, nil, "ingest", "--data", data, src)
	waitUntil(t, time.Minute, "the server to serve the new generation", func() bool { return scrape()["quarry_index_documents"+kb] == 4 })
	got, st = scrape(), state(t, data)
	if st.Info.Reason != "ingest" || st.Info.BuildSeconds <= 0 {
		t.Fatalf("the ingest's generation: %+v", st.Info)
	}
	has(t, got, `quarry_index_updates_total{kb="default",reason="ingest"}`, 1)
	has(t, got, `quarry_index_build_duration_seconds_count{kb="default",reason="ingest"}`, 1)
	has(t, got, `quarry_index_build_duration_seconds_sum{kb="default",reason="ingest"}`, st.Info.BuildSeconds)

	// A rebuild the server runs.
	var accepted map[string]any
	if code := p.post(t, "/v1/admin/reindex", map[string]any{}, &accepted); code != http.StatusAccepted {
		t.Fatalf("reindex: %d %v", code, accepted)
	}
	waitUntil(t, time.Minute, "the rebuild to be counted", func() bool {
		return scrape()[`quarry_rebuilds_total{kb="default",outcome="ok"}`] == 1
	})
	got, st = scrape(), state(t, data)
	if st.Info.Reason != "reindex" || st.Info.BuildSeconds <= 0 {
		t.Fatalf("the reindex's generation: %+v", st.Info)
	}
	has(t, got, `quarry_rebuild_duration_seconds_count`+kb, 1)
	if d := got[`quarry_rebuild_duration_seconds_sum`+kb]; d < st.Info.BuildSeconds {
		t.Errorf("the rebuild took %v s, less than its build's %v s", d, st.Info.BuildSeconds)
	}
	has(t, got, `quarry_index_updates_total{kb="default",reason="reindex"}`, 1)
	has(t, got, `quarry_index_build_duration_seconds_count{kb="default",reason="reindex"}`, 1)
	has(t, got, `quarry_index_build_duration_seconds_sum{kb="default",reason="reindex"}`, st.Info.BuildSeconds)

	// A rollback switches without building.
	var rolled map[string]any
	if code := p.post(t, "/v1/admin/rollback", map[string]any{}, &rolled); code != http.StatusOK {
		t.Fatalf("rollback: %d %v", code, rolled)
	}
	got = scrape()
	has(t, got, `quarry_index_updates_total{kb="default",reason="rollback"}`, 1)
	if _, ok := got[`quarry_index_build_duration_seconds_count{kb="default",reason="rollback"}`]; ok {
		t.Error("a rollback observed a build duration")
	}
	has(t, got, `quarry_index_build_duration_seconds_count{kb="default",reason="reindex"}`, 1)
	has(t, got, "quarry_index_documents"+kb, 4)
}
