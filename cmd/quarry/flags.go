package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/convlog"
	"github.com/quarry-kb/quarry/kb"
)

// options are the settings shared by subcommands. Every flag has an
// environment variable; the flag wins.
type options struct {
	Data         string
	KB           string // knowledge base (group "kb"); "" is the default one
	Addr         string
	LogLevel     string
	ChunkSize    int
	ChunkOverlap int
	ChunkFold    int
	K            int
	JSON         bool

	// Vector store of the deployment (group "vectors").
	VectorStore     string // "embedded" or "qdrant"
	QdrantAddr      string // host:port of Qdrant's gRPC API
	QdrantAPIKeyEnv string // name of the environment variable holding the API key
	QdrantTLS       bool
	// RebuildSchedule is a cron spec for rebuilds inside serve (group "schedule").
	RebuildSchedule string
	// Rebuild gate (group "gate").
	GateQuestions string
	GateMargin    float64
	// The operator's side of a server (group "operator").
	LogRetention string // how long the conversation log keeps turns
	MetricsAddr  string // a separate listen address for GET /metrics

	// API keys and limits of serve (registered with "addr").
	InsecureNoAuth bool
	RateLimitKey   int // requests per minute per key; 0 default, negative none
	RateLimitAddr  int // requests per minute per client address
	RateWindow     time.Duration
	RateLimitKB    string // NAME=N,... per-key limits of single knowledge bases

	// Untrusted files (group "parse"): limits of the parse worker, and
	// what of the folder is left out.
	ParseTimeout   time.Duration
	ParseMemory    int // MiB
	Exclude        stringList
	FollowSymlinks bool
	Verbose        bool
}

// newFlags returns a flag set for a subcommand with the shared flags
// registered (those in which are listed).
func newFlags(env *Env, name, usageLine, summary string, o *options, which ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	flagEnv.Store(fs, env.Getenv)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", usageLine, summary)
		fs.PrintDefaults()
	}
	str := func(def, key string) string {
		if v := env.Getenv(key); v != "" {
			return v
		}
		return def
	}
	num := func(def int, key string) int {
		if v, err := strconv.Atoi(env.Getenv(key)); err == nil {
			return v
		}
		return def
	}
	fs.StringVar(&o.Data, "data", str("./quarry-data", "QUARRY_DATA"), "data directory holding the indexes (env QUARRY_DATA)")
	fs.StringVar(&o.LogLevel, "log-level", str("info", "QUARRY_LOG_LEVEL"), "log level: debug, info, warn, error (env QUARRY_LOG_LEVEL)")
	if name == "demo" {
		// demo ingests and serves, so it takes the vector store flags.
		which = append(which, "vectors")
	}
	if name == "demo" || name == "serve" {
		which = append(which, "operator")
	}
	dur := func(def time.Duration, key string) time.Duration {
		if v, err := time.ParseDuration(env.Getenv(key)); err == nil && v > 0 {
			return v
		}
		return def
	}
	boolean := func(key string) bool {
		b, _ := strconv.ParseBool(env.Getenv(key))
		return b
	}
	for _, w := range which {
		switch w {
		case "addr":
			fs.StringVar(&o.Addr, "addr", str("127.0.0.1:8080", "QUARRY_ADDR"), "HOST:PORT to listen on (env QUARRY_ADDR); on an address other than loopback an admin API key must exist (quarry keys create)")
			fs.BoolVar(&o.InsecureNoAuth, "insecure-no-auth", boolean("QUARRY_INSECURE_NO_AUTH"), "start on any address without API keys: until keys are created anyone who can reach the server may use every route; keys, once created, are required (env QUARRY_INSECURE_NO_AUTH)")
			fs.IntVar(&o.RateLimitKey, "rate-limit", num(0, "QUARRY_RATE_LIMIT"), "requests one API key may make per --rate-window, 0 for the default of 600, -1 for no limit (env QUARRY_RATE_LIMIT)")
			fs.IntVar(&o.RateLimitAddr, "rate-limit-addr", num(0, "QUARRY_RATE_LIMIT_ADDR"), "requests one client address may make per --rate-window once keys exist, refused ones included; 0 for the default of 1200, -1 for no limit (env QUARRY_RATE_LIMIT_ADDR)")
			fs.StringVar(&o.RateLimitKB, "rate-limit-kb", str("", "QUARRY_RATE_LIMIT_KB"), "per-key limits of single knowledge bases, NAME=N[,NAME=N...]: a key's requests to such a knowledge base count apart, against N per --rate-window (env QUARRY_RATE_LIMIT_KB)")
			fs.DurationVar(&o.RateWindow, "rate-window", dur(time.Minute, "QUARRY_RATE_WINDOW"), "the sliding window of the rate limits (env QUARRY_RATE_WINDOW)")
		case "chunk":
			fs.IntVar(&o.ChunkSize, "chunk-size", num(0, "QUARRY_CHUNK_SIZE"), "chunk size in tokens, 0 for the default of 512 (env QUARRY_CHUNK_SIZE)")
			fs.IntVar(&o.ChunkOverlap, "chunk-overlap", num(0, "QUARRY_CHUNK_OVERLAP"), "overlap between chunks in tokens, 0 for the default of 32 (env QUARRY_CHUNK_OVERLAP)")
			fs.IntVar(&o.ChunkFold, "chunk-fold", num(0, "QUARRY_CHUNK_FOLD"), "a heading's short subsections that hold at most this many tokens together become one chunk, 0 for the default of the chunk size, -1 never (env QUARRY_CHUNK_FOLD)")
		case "kb":
			fs.StringVar(&o.KB, "kb", str(kb.Default, "QUARRY_KB"), "knowledge base: lower-case letters, digits and '-' (env QUARRY_KB)")
		case "k":
			fs.IntVar(&o.K, "k", 0, "number of passages, 0 for the default")
		case "json":
			fs.BoolVar(&o.JSON, "json", false, "print JSON instead of text")
		case "vectors":
			fs.StringVar(&o.VectorStore, "vector-store", str(storeEmbedded, "QUARRY_VECTOR_STORE"), "where vectors are kept: embedded (in the data directory) or qdrant (env QUARRY_VECTOR_STORE)")
			fs.StringVar(&o.QdrantAddr, "qdrant-addr", str("localhost:6334", "QUARRY_QDRANT_ADDR"), "HOST:PORT of Qdrant's gRPC API, with --vector-store qdrant (env QUARRY_QDRANT_ADDR)")
			fs.StringVar(&o.QdrantAPIKeyEnv, "qdrant-api-key-env", "QUARRY_QDRANT_API_KEY", "name of the environment variable holding Qdrant's API key (the key itself is never logged)")
			fs.BoolVar(&o.QdrantTLS, "qdrant-tls", boolean("QUARRY_QDRANT_TLS"), "connect to Qdrant over TLS (env QUARRY_QDRANT_TLS)")
		case "schedule":
			fs.StringVar(&o.RebuildSchedule, "rebuild-schedule", str("", "QUARRY_REBUILD_SCHEDULE"), `cron schedule of full rebuilds inside the server, e.g. "0 2 * * *" (env QUARRY_REBUILD_SCHEDULE; default none)`)
		case "parse":
			fs.DurationVar(&o.ParseTimeout, "parse-timeout", 0, "wall-clock limit for parsing one PDF, 0 for 30s plus 10s per MiB (env QUARRY_PARSE_TIMEOUT)")
			fs.IntVar(&o.ParseMemory, "parse-memory", num(512, "QUARRY_PARSE_MEMORY"), "memory limit of the parse worker of one PDF, MiB (env QUARRY_PARSE_MEMORY)")
			fs.BoolVar(&o.FollowSymlinks, "follow-symlinks", boolean("QUARRY_FOLLOW_SYMLINKS"), "follow symbolic links to files outside the folder (env QUARRY_FOLLOW_SYMLINKS; default: skip them)")
			if v := env.Getenv("QUARRY_PARSE_TIMEOUT"); v != "" {
				if d, err := time.ParseDuration(v); err == nil {
					o.ParseTimeout = d
					fs.Lookup("parse-timeout").DefValue = v
				}
			}
		case "operator":
			fs.StringVar(&o.LogRetention, "log-retention", str(defaultLogRetention, "QUARRY_LOG_RETENTION"), "how long the conversation log keeps questions and answers (90d, 2w, 36h; 0 keeps them; pruned daily) (env QUARRY_LOG_RETENTION)")
			fs.StringVar(&o.MetricsAddr, "metrics-addr", str("", "QUARRY_METRICS_ADDR"), "also serve GET /metrics, without a key, on this HOST:PORT (env QUARRY_METRICS_ADDR; default: only on the API address, with an admin key)")
		case "gate":
			fs.StringVar(&o.GateQuestions, "gate-questions", "", "question file (JSON lines, the corpora format); a rebuild whose recall@5 on it is worse than the serving generation's by more than --gate-margin is not switched to")
			fs.Float64Var(&o.GateMargin, "gate-margin", 0.05, "how much recall@5 a rebuild may lose against the serving generation, with --gate-questions")
		}
	}
	return fs
}

// flagEnv holds the environment of each flag set newFlags made, for
// parse.
var flagEnv sync.Map // *flag.FlagSet -> func(string) string

// envName finds the variable a flag reads: its usage says "(env NAME".
var envName = regexp.MustCompile(`\(env (QUARRY_[A-Z0-9_]+)`)

// applyEnv sets every flag of fs whose variable is set in the
// environment, through the flag's own parser: one strict way to read a
// setting, whether it comes from a flag or a variable. A malformed value
// is an error naming the variable. Flags on the command line, parsed
// afterwards, win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		m := envName.FindStringSubmatch(f.Usage)
		if m == nil || err != nil {
			return
		}
		v := getenv(m[1])
		if v == "" {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = quarry.Errorf(quarry.CodeInvalid, "%s=%q: %v (it sets --%s)", m[1], v, serr, f.Name)
			return
		}
		if serr := checkFlag(f.Name, f.Value.String()); serr != nil {
			err = quarry.Errorf(quarry.CodeInvalid, "%s=%q: %v (it sets --%s)", m[1], v, serr, f.Name)
		}
	})
	return err
}

// checkFlag validates flags whose type cannot: those that take one of a
// few words.
func checkFlag(name, v string) error {
	switch name {
	case "log-level":
		var l slog.Level
		if err := l.UnmarshalText([]byte(strings.ToUpper(v))); err != nil {
			return fmt.Errorf("want debug, info, warn or error")
		}
	case "vector-store":
		if v != storeEmbedded && v != storeQdrant {
			return fmt.Errorf("want %s or %s", storeEmbedded, storeQdrant)
		}
	case "kb":
		if v == "*" {
			return nil // every knowledge base, for quarry keys; other commands refuse it
		}
		return kb.ValidateName(v)
	case "addr", "qdrant-addr":
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("want HOST:PORT")
		}
	case "metrics-addr":
		if _, _, err := net.SplitHostPort(v); v != "" && err != nil {
			return fmt.Errorf("want HOST:PORT")
		}
	case "rebuild-schedule":
		if _, err := cron.ParseStandard(v); v != "" && err != nil {
			return err
		}
	case "log-retention":
		if _, err := convlog.ParseAge(v); err != nil {
			return err
		}
	case "rate-limit-kb":
		if _, err := parseKBLimits(v); v != "" && err != nil {
			return err
		}
	}
	return nil
}

// parse parses args and checks the number of positional arguments.
// Flags may come before or after the arguments ("quarry eval DIR
// --split test"), as users type them; "--" ends the flags.
func parse(fs *flag.FlagSet, args []string, nargs int) error {
	if getenv, ok := flagEnv.LoadAndDelete(fs); ok {
		if err := applyEnv(fs, getenv.(func(string) string)); err != nil {
			return err
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return errUsage
	}
	var cerr error
	fs.Visit(func(f *flag.Flag) {
		if err := checkFlag(f.Name, f.Value.String()); err != nil && cerr == nil {
			cerr = quarry.Errorf(quarry.CodeInvalid, "--%s %q: %v", f.Name, f.Value.String(), err)
		}
	})
	if cerr != nil {
		return cerr
	}
	if nargs >= 0 && fs.NArg() != nargs {
		fmt.Fprintf(fs.Output(), "expected %d argument(s), got %d\n\n", nargs, fs.NArg())
		fs.Usage()
		return errUsage
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// kbName is the knowledge base o names, the default one when none.
func kbName(o options) string {
	if o.KB == "" {
		return kb.Default
	}
	return o.KB
}
