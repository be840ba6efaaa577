package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// configVars lists every QUARRY_* variable the code reads, with a
// malformed value and a command that reads it; free-form ones (paths,
// names of other variables, prefixes, secrets) have no malformed value
// and say why. TestConfigVarsListed keeps the list complete.
var configVars = []struct {
	name, bad string
	args      []string // command, after which --data DIR is added
	free      string   // why no value is malformed
}{
	{name: "QUARRY_ADDR", bad: "no-port", args: []string{"serve"}},
	{name: "QUARRY_CHUNK_SIZE", bad: "abc", args: []string{"ingest", "."}},
	{name: "QUARRY_CHUNK_OVERLAP", bad: "1.5", args: []string{"ingest", "."}},
	{name: "QUARRY_CHUNK_FOLD", bad: "lots", args: []string{"ingest", "."}},
	{name: "QUARRY_LOG_LEVEL", bad: "loud", args: []string{"search", "q"}},
	{name: "QUARRY_KB", bad: "Bad!", args: []string{"search", "q"}},
	{name: "QUARRY_VECTOR_STORE", bad: "sqlite", args: []string{"ingest", "."}},
	{name: "QUARRY_QDRANT_ADDR", bad: "no-port", args: []string{"ingest", "."}},
	{name: "QUARRY_QDRANT_TLS", bad: "yes", args: []string{"ingest", "."}},
	{name: "QUARRY_REBUILD_SCHEDULE", bad: "every day", args: []string{"serve"}},
	{name: "QUARRY_PARSE_TIMEOUT", bad: "soon", args: []string{"ingest", "."}},
	{name: "QUARRY_PARSE_MEMORY", bad: "lots", args: []string{"ingest", "."}},
	{name: "QUARRY_FOLLOW_SYMLINKS", bad: "maybe", args: []string{"ingest", "."}},
	{name: "QUARRY_INSECURE_NO_AUTH", bad: "please", args: []string{"serve"}},
	{name: "QUARRY_RATE_LIMIT", bad: "many", args: []string{"serve"}},
	{name: "QUARRY_RATE_LIMIT_ADDR", bad: "many", args: []string{"serve"}},
	{name: "QUARRY_RATE_LIMIT_KB", bad: "support", args: []string{"serve"}},
	{name: "QUARRY_RATE_WINDOW", bad: "a while", args: []string{"serve"}},
	{name: "QUARRY_LOG_RETENTION", bad: "forever", args: []string{"serve"}},
	{name: "QUARRY_METRICS_ADDR", bad: "no-port", args: []string{"serve"}},
	{name: "QUARRY_LLM_PROVIDER", bad: "zzz", args: []string{"ask", "q"}},
	{name: "QUARRY_LLM_TIMEOUT", bad: "abc", args: []string{"ask", "q"}},
	{name: "QUARRY_LLM_TEMPERATURE", bad: "hot", args: []string{"ask", "q"}},
	{name: "QUARRY_LLM_MAX_CONTEXT_TOKENS", bad: "x", args: []string{"ask", "q"}},
	{name: "QUARRY_LLM_MAX_ANSWER_TOKENS", bad: "x", args: []string{"ask", "q"}},
	{name: "QUARRY_REWRITE", bad: "zzz", args: []string{"ask", "q"}},
	{name: "QUARRY_EMBED_PROVIDER", bad: "zzz", args: []string{"ingest", "."}},
	{name: "QUARRY_EMBED_DIM", bad: "x", args: []string{"ingest", "."}},
	{name: "QUARRY_DATA", free: "a directory path"},
	{name: "QUARRY_LLM_BASE_URL", free: "checked when the provider is used"},
	{name: "QUARRY_LLM_MODEL", free: "a model name"},
	{name: "QUARRY_LLM_API_KEY_ENV", free: "the name of another variable"},
	{name: "QUARRY_EMBED_BASE_URL", free: "checked when the provider is used"},
	{name: "QUARRY_EMBED_MODEL", free: "a model name"},
	{name: "QUARRY_EMBED_API_KEY_ENV", free: "the name of another variable"},
	{name: "QUARRY_EMBED_QUERY_PREFIX", free: "any text"},
	{name: "QUARRY_EMBED_PASSAGE_PREFIX", free: "any text"},
	{name: "QUARRY_QDRANT_API_KEY", free: "a secret"},
	{name: "QUARRY_PARSE_WORKER", free: "internal: set by quarry for its parse workers"},
	{name: "QUARRY_OCR", free: "read by the OCR of ingest (see README)"},
	{name: "QUARRY_SCREENSHOTS", free: "tests only"},
	{name: "QUARRY_CHROMIUM", free: "tests only"},
	{name: "QUARRY_EVAL_DIR", free: "tests only"},
	{name: "QUARRY_BEIR_DIR", free: "tests only"},
	{name: "QUARRY_BEIR_SPLIT", free: "tests only"},
}

// TestConfigRejectsMalformed sets each variable to a malformed value
// and wants the command to fail with the variable's name.
func TestConfigRejectsMalformed(t *testing.T) {
	data := t.TempDir()
	for _, v := range configVars {
		if v.free != "" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			args := append([]string{v.args[0], "--data", data}, v.args[1:]...)
			out, errOut, code := runCLIEnv(t, map[string]string{v.name: v.bad}, args...)
			if code == 0 || !strings.Contains(errOut, v.name) {
				t.Errorf("%s=%q quarry %v: exit %d, want an error naming %s:\n%s%s", v.name, v.bad, args, code, v.name, out, errOut)
			}
		})
	}
}

// TestConfigVarsListed greps the code for QUARRY_* names: each must be
// in configVars.
func TestConfigVarsListed(t *testing.T) {
	listed := map[string]bool{}
	for _, v := range configVars {
		listed[v.name] = true
	}
	re := regexp.MustCompile(`"(QUARRY_[A-Z0-9_]+)"`)
	found := map[string]bool{}
	err := filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != "../.." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "config_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			found[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name := range found {
		if !listed[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("variables read by the code but not in configVars: %v", missing)
	}
}
