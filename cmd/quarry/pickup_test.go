package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/kb"
)

// TestPickupUnderLoad: with 64 clients searching without pause, a
// generation switched to by another process (quarry reindex) and a
// rollback (quarry rollback) are served within 2 s, no request fails,
// and nothing is logged as an error. The load is bounded (64 loopback
// clients, each at most 3000 requests, at most 90 s in all).
func TestPickupUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("64 clients for a few seconds")
	}
	const clients = 64
	maxPickup := 2 * time.Second
	if raceEnabled {
		maxPickup *= 5 // the race detector slows opening an index by 5 to 10 times
	}
	// The sample help centre (53 documents, about 500 chunks), and a
	// generation with one more document that ranks first for the query.
	src, data := t.TempDir(), t.TempDir()
	if err := os.CopyFS(src, corpora.HelpCenter()); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, nil, "ingest", "--data", data, src)
	s := startServe(t, options{Data: data, LogLevel: "info"}, nil, serveHooks{watchEvery: kb.DefaultWatchEvery})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	type response struct {
		start time.Time
		tag   string
	}
	var (
		mu        sync.Mutex
		responses []response
		failures  []string
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	body, _ := json.Marshal(map[string]any{"query": "zebra refund window orders", "k": 3})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3000 {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, err := client.Post("http://"+s.addr+"/v1/search", "application/json", bytes.NewReader(body))
				var b []byte
				if err == nil {
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				// The first result's path, without decoding the rest (the
				// clients share the CPU with the server).
				_, first, found := bytes.Cut(b, []byte(`"path":"`))
				first, _, _ = bytes.Cut(first, []byte(`"`))
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode != http.StatusOK || !found:
					failures = append(failures, resp.Status)
				default:
					responses = append(responses, response{start, tagOf(string(first))})
				}
				mu.Unlock()
			}
		}()
	}
	cap := time.AfterFunc(90*time.Second, func() { close(stop) })
	// pickup returns how long after the switch at from the last request
	// answered from another generation than the one whose first result
	// has tag (for "other", any tag but bravo) started, among requests
	// started before until, and whether one was answered from it.
	pickup := func(from, until time.Time, tag string) (d time.Duration, served bool) {
		mu.Lock()
		defer mu.Unlock()
		var lastOld time.Time
		for _, r := range responses {
			if r.start.Before(from) || !r.start.Before(until) {
				continue
			}
			if r.tag == tag || (tag == "other" && r.tag != "bravo") {
				served = true
			} else if r.start.After(lastOld) {
				lastOld = r.start
			}
		}
		if lastOld.IsZero() {
			return 0, served
		}
		return lastOld.Sub(from), served
	}
	// settle waits until requests started for a second have all been
	// answered from the generation of tag.
	settle := func(from time.Time, tag string) {
		t.Helper()
		for deadline := from.Add(20 * time.Second); time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			if d, served := pickup(from, time.Now(), tag); served && time.Since(from.Add(d)) > 5*time.Second {
				return
			}
		}
		mu.Lock()
		n := len(responses)
		mu.Unlock()
		t.Fatalf("generation %s not served within 20 s of the switch (%d responses)\n%s", tag, n, switches(s.stderr.String()))
	}
	time.Sleep(500 * time.Millisecond) // the load is on

	writeFiles(t, src, map[string]string{"bravo-00.md": "# Zebra refund window\n\nThe zebra refund window for orders is 30 days.\n"})
	mustCLI(t, nil, "reindex", "--data", data)
	switched := state(t, data).Switched
	settle(switched, "bravo")
	// Requests started shortly before the rollback may be answered after
	// it: the switch's window ends 2 s before.
	beforeRollback := time.Now().Add(-2 * time.Second)
	mustCLI(t, nil, "rollback", "--data", data)
	rolledBack := state(t, data).Switched
	settle(rolledBack, "other")
	if cap.Stop() {
		close(stop)
	}
	wg.Wait()
	for _, c := range []struct {
		what        string
		from, until time.Time
		tag         string
	}{{"switch", switched, beforeRollback, "bravo"}, {"rollback", rolledBack, time.Now(), "other"}} {
		d, served := pickup(c.from, c.until, c.tag)
		if !served || d > maxPickup {
			t.Errorf("the %s was picked up %s after it happened (served: %v), want ≤ %s\n%s", c.what, d, served, maxPickup, switches(s.stderr.String()))
		} else {
			t.Logf("%s picked up within %s", c.what, d.Round(time.Millisecond))
		}
	}
	t.Logf("%d requests", len(responses)+len(failures))
	if len(failures) > 0 {
		t.Errorf("%d failed requests, first: %s", len(failures), failures[0])
	}
	if log := s.stderr.String(); strings.Contains(log, "level=ERROR") {
		t.Errorf("errors logged:\n%s", log)
	}
}

// switches returns the server's log lines about switching generations.
func switches(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "generation") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
