package main

import (
	"bytes"
	"github.com/quarry-kb/quarry/kb"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"
)

var (
	quarryVar  = regexp.MustCompile(`QUARRY_[A-Z0-9_]+`)
	composeEnv = regexp.MustCompile(`^\s+(QUARRY_[A-Z0-9_]+):\s*(.*?)\s*$`)
	composeCmd = regexp.MustCompile(`^\s+command:\s*\[(.*)\]\s*$`)
	quoted     = regexp.MustCompile(`"([^"]*)"`)
)

// varsReadByCode returns the QUARRY_* names the binary's source reads.
func varsReadByCode(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	lit := regexp.MustCompile(`"(QUARRY_[A-Z0-9_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			read[m[1]] = true
		}
	}
	return read
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// TestDockerCompose checks that docker-compose.yml and the Dockerfile
// pass exactly the configuration the code reads: every QUARRY_* name
// they mention is one cmd/quarry reads, the values set parse into the
// options serve runs with, and the commands they run exist. (No Docker
// engine is needed; the files are read line by line, as no YAML library
// is among the module's dependencies.)
func TestDockerCompose(t *testing.T) {
	read := varsReadByCode(t)
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"docker-compose.yml": string(compose), "Dockerfile": string(dockerfile)} {
		for _, v := range quarryVar.FindAllString(text, -1) {
			if !read[v] {
				t.Errorf("%s mentions %s, which cmd/quarry does not read", name, v)
			}
		}
	}

	// The environment the files set (compose values override the
	// Dockerfile's ENV, as in a container).
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(QUARRY_[A-Z0-9_]+)=(\S+)`).FindAllStringSubmatch(string(dockerfile), -1) {
		vars[m[1]] = m[2]
	}
	seen := map[string]string{}
	var runs [][]string
	for _, line := range strings.Split(string(compose), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if m := composeEnv.FindStringSubmatch(line); m != nil {
			val := unquote(m[2])
			if old, ok := seen[m[1]]; ok && old != val {
				t.Errorf("docker-compose.yml sets %s to both %q and %q", m[1], old, val)
			}
			seen[m[1]] = val
			vars[m[1]] = val
		}
		if m := composeCmd.FindStringSubmatch(line); m != nil {
			var args []string
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				args = append(args, q[1])
			}
			runs = append(runs, args)
		}
	}
	want := map[string]string{
		"QUARRY_VECTOR_STORE": "qdrant", "QUARRY_QDRANT_ADDR": "qdrant:6334", "QUARRY_ADDR": "0.0.0.0:8080", "QUARRY_DATA": "/data",
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("the compose deployment sets %s=%q, want %q", k, vars[k], v)
		}
	}

	// serve, parsing its flags in that environment, runs with exactly
	// those settings.
	env := testEnv(&bytes.Buffer{}, &bytes.Buffer{}, vars)
	var o options
	fs := newFlags(env, "serve", "", "", &o, "addr", "vectors", "schedule", "gate")
	if err := parse(fs, nil, 0); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"QUARRY_DATA": o.Data, "QUARRY_ADDR": o.Addr, "QUARRY_VECTOR_STORE": o.VectorStore,
		"QUARRY_QDRANT_ADDR": o.QdrantAddr, "QUARRY_REBUILD_SCHEDULE": o.RebuildSchedule, "QUARRY_LOG_LEVEL": o.LogLevel,
	}
	for k, v := range vars {
		if g, ok := got[k]; ok && g != v {
			t.Errorf("%s=%q is set but serve runs with %q", k, v, g)
		}
	}
	vb, err := newBackend(env, o, kb.Default)
	if err != nil {
		t.Errorf("the compose vector store settings are refused: %v", err)
	} else {
		vb.Close()
	}
	if o.RebuildSchedule != "" {
		if _, err := cron.ParseStandard(o.RebuildSchedule); err != nil {
			t.Errorf("QUARRY_REBUILD_SCHEDULE: %v", err)
		}
	}

	// The commands the files run exist, and ingest reads the mounted
	// folder.
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	if m := regexp.MustCompile(`HEALTHCHECK .*CMD \["/quarry", "(\w+)"\]`).FindStringSubmatch(string(dockerfile)); m == nil || !slices.Contains(names, m[1]) {
		t.Errorf("the Dockerfile's HEALTHCHECK must run a quarry command (have %v): %v", names, m)
	}
	if m := regexp.MustCompile(`CMD \["(\w+)"\]\s*$`).FindStringSubmatch(strings.TrimSpace(string(dockerfile))); m == nil || !slices.Contains(names, m[1]) {
		t.Errorf("the Dockerfile's CMD must be a quarry command: %v", m)
	}
	if len(runs) == 0 {
		t.Error("docker-compose.yml runs no command")
	}
	for _, args := range runs {
		if len(args) == 0 || !slices.Contains(names, args[0]) {
			t.Errorf("docker-compose.yml runs %v, not a quarry command", args)
			continue
		}
		if args[0] == "ingest" && (len(args) != 2 || !strings.Contains(string(compose), ":"+args[1]+":ro")) {
			t.Errorf("ingest %v must read a folder mounted into the container", args)
		}
	}
	for _, must := range []string{"condition: service_healthy", "/readyz", "quarry-data:" + vars["QUARRY_DATA"], "127.0.0.1:8080:8080"} {
		if !strings.Contains(string(compose), must) {
			t.Errorf("docker-compose.yml lacks %q", must)
		}
	}
	for _, must := range []string{"CGO_ENABLED=0", "USER nonroot", "distroless"} {
		if !strings.Contains(string(dockerfile), must) {
			t.Errorf("Dockerfile lacks %q", must)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	corpusFor(t, src, "alpha", 1)
	mustCLI(t, nil, "ingest", "--data", data, src)
	s := startServe(t, options{Data: data}, nil, serveHooks{})
	_, port, _ := strings.Cut(s.addr, ":")
	if out := mustCLI(t, nil, "healthcheck", "--addr", "0.0.0.0:"+port); !strings.Contains(out, "ok") {
		t.Errorf("healthcheck output %q", out)
	}
	if out := mustCLI(t, map[string]string{"QUARRY_ADDR": s.addr}, "healthcheck", "--path", "/readyz"); !strings.Contains(out, "/readyz") {
		t.Errorf("healthcheck of /readyz: %q", out)
	}
	s.stop()
	if _, errOut, code := runCLIEnv(t, nil, "healthcheck", "--addr", s.addr, "--timeout", "2s"); code != 1 || !strings.Contains(errOut, "healthcheck") {
		t.Errorf("healthcheck of a stopped server: exit %d, %s", code, errOut)
	}
	for in, want := range map[string]string{"0.0.0.0:8080": "127.0.0.1:8080", ":9000": "127.0.0.1:9000", "[::]:80": "[::1]:80", "10.0.0.2:80": "10.0.0.2:80"} {
		if got := dialAddr(in); got != want {
			t.Errorf("dialAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
