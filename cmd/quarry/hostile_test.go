package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry/internal/hostile"
)

// TestHostileFolder is the hardening acceptance test. It builds the real
// binary and a folder where good files sit beside hostile ones (a
// decompression-bomb PDF, a PDF that sends the PDF library into an
// endless loop, truncated, encrypted, huge-page-count and junk PDFs, a
// symlink loop, a symlink to a file outside, odd names), then:
//   - quarry ingest finishes and names every bad file with its reason;
//   - quarry serve rebuilds the folder (POST /v1/admin/reindex), logs
//     every bad file, stays under 500 MB of peak memory (VmHWM of its
//     process; parsing happens in worker children), and uses no CPU
//     after the rebuild (process CPU time flat for 10 s);
//   - every good file is searchable.
func TestHostileFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the quarry binary and runs it")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to measure the server's memory and CPU")
	}
	bin := filepath.Join(t.TempDir(), "quarry")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "passwd.txt"), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, data := t.TempDir(), t.TempDir()
	good := map[string]string{ // file: a phrase only it holds
		"good/returns.md":   "Returns are accepted within thirty days of delivery.",
		"good/shipping.txt": "Parcels leave the warehouse every weekday at noon.",
		"good/manual.pdf":   "The thermostat display dims after ninety seconds.",
		"good/faq.html":     "Gift cards never expire and carry no fees.",
	}
	for name, phrase := range good {
		var b []byte
		switch filepath.Ext(name) {
		case ".md":
			b = []byte("# " + name + "\n\n" + phrase + "\n")
		case ".html":
			b = []byte("<html><head><title>FAQ</title></head><body><p>" + phrase + "</p></body></html>")
		case ".pdf":
			b = hostile.TextPDF("Thermostat manual", phrase)
		default:
			b = []byte(phrase + "\n")
		}
		write(t, filepath.Join(src, name), b)
	}
	bad := map[string]string{ // file: its reason (one of several, split by |), as the summary prints it
		"bad/bomb.pdf":      "memory limit|timeout", // whichever limit a loaded machine reaches first
		"bad/hang.pdf":      "timeout",
		"bad/truncated.pdf": "corrupt PDF",
		"bad/encrypted.pdf": "encrypted",
		"bad/pages.pdf":     "",
		"bad/junk.pdf":      "corrupt PDF",
		"bad/loop-a.md":     "symbolic link loop",
		"bad/loop-b.md":     "symbolic link loop",
		"bad/passwd.txt":    "outside the folder",
		"..md":              "hidden",
		"..hidden/":         "hidden",
		"bad/caf\uFFFD.md":  "not valid UTF-8",
	}
	write(t, filepath.Join(src, "bad/bomb.pdf"), hostile.Bomb(1<<30))
	write(t, filepath.Join(src, "bad/hang.pdf"), hostile.UnterminatedHex())
	write(t, filepath.Join(src, "bad/truncated.pdf"), hostile.Truncated())
	write(t, filepath.Join(src, "bad/encrypted.pdf"), hostile.Encrypted())
	write(t, filepath.Join(src, "bad/pages.pdf"), hostile.HugePageCount())
	write(t, filepath.Join(src, "bad/junk.pdf"), hostile.Junk())
	write(t, filepath.Join(src, "..md"), []byte("# Dots\n\nTwo dots."))
	write(t, filepath.Join(src, "..hidden/x.md"), []byte("# Hidden\n\nHidden."))
	write(t, filepath.Join(src, "bad/caf\xe9.md"), []byte("# Latin-1\n\nA Latin-1 name."))
	for link, target := range map[string]string{
		"bad/loop-a.md":  "loop-b.md",
		"bad/loop-b.md":  "loop-a.md",
		"bad/passwd.txt": filepath.Join(outside, "passwd.txt"),
	} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	limits := []string{"--parse-timeout", "3s", "--parse-memory", "256"}

	// quarry ingest
	cmd := exec.Command(bin, append(append([]string{"ingest", "--data", data, "--verbose"}, limits...), src)...)
	cmd.Env = append(os.Environ(), "QUARRY_LOG_LEVEL=info")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quarry ingest: %v\n%s", err, out)
	}
	for name, reason := range bad {
		if line := lineWith(string(out), name+": "); line == "" || !containsAny(line, strings.Split(reason, "|")) {
			t.Errorf("ingest summary: %q not named with %q:\n%s", name, reason, out)
		}
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d added", len(good))) {
		t.Errorf("ingest summary: want %d added:\n%s", len(good), out)
	}
	t.Logf("quarry ingest:\n%s", out)

	// quarry serve, rebuilding the same folder
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &syncBuffer{} // written by exec's copying goroutine
	srv := exec.Command(bin, append([]string{"serve", "--data", data, "--addr", addr}, limits...)...)
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
		}
	})
	base := "http://" + addr
	waitFor(t, 60*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	resp, err := http.Post(base+"/v1/admin/reindex", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/admin/reindex: %s\n%s", resp.Status, logs.String())
	}
	var st struct {
		Running      bool       `json:"running"`
		LastFinished *time.Time `json:"last_finished"`
		LastError    string     `json:"last_error"`
	}
	waitFor(t, 3*time.Minute, func() bool {
		resp, err := http.Get(base + "/v1/admin/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&st) == nil && !st.Running && st.LastFinished != nil
	})
	if st.LastError != "" {
		t.Fatalf("rebuild failed: %s\n%s", st.LastError, logs.String())
	}
	for name := range bad {
		if strings.HasSuffix(name, "/") || strings.HasPrefix(name, "..") {
			continue // routine skips are logged at debug level
		}
		if !strings.Contains(logs.String(), "path="+strconv.Quote(name)) && !strings.Contains(logs.String(), "path="+name+" ") {
			t.Errorf("serve's rebuild did not log %s:\n%s", name, logs.String())
		}
	}

	// Quiet after the rebuild: CPU time flat for 10 s.
	cpu0 := processCPU(t, srv.Process.Pid)
	time.Sleep(10 * time.Second)
	cpu := processCPU(t, srv.Process.Pid) - cpu0
	peak := vmHWM(t, srv.Process.Pid)
	t.Logf("serve: peak RSS (VmHWM) %d MiB; CPU used in the 10 s after the rebuild: %s", peak>>20, cpu)
	if peak >= 500<<20 {
		t.Errorf("serve peak memory %d MiB, want under 500 MiB", peak>>20)
	}
	if cpu > 500*time.Millisecond {
		t.Errorf("serve used %s of CPU in the 10 s after the rebuild, want it idle", cpu)
	}

	// Every good file is searchable; the outside file is not.
	for name, phrase := range good {
		b, _ := json.Marshal(map[string]any{"query": phrase, "k": 1, "mode": "keyword"})
		resp, err := http.Post(base+"/v1/search", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Results []struct {
				Path string `json:"path"`
			} `json:"results"`
		}
		json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if len(res.Results) == 0 || res.Results[0].Path != name {
			t.Errorf("search %q: %+v, want %s first", phrase, res.Results, name)
		}
	}
	b, _ := json.Marshal(map[string]any{"query": "root bin bash", "k": 5, "mode": "keyword"})
	resp, err = http.Post(base+"/v1/search", "application/json", bytes.NewReader(b))
	if err == nil {
		body := new(bytes.Buffer)
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if strings.Contains(body.String(), "root:x:0:0") {
			t.Errorf("a file outside the folder is searchable: %s", body)
		}
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func lineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processCPU is a process's user plus system CPU time, from /proc.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which is in parentheses).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// vmHWM is a process's peak resident set size, from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	line := lineWith(string(b), "VmHWM:")
	kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
	if err != nil {
		t.Fatalf("VmHWM in %q: %v", line, err)
	}
	return kb << 10
}
