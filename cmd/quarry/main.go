// Command quarry is the one binary of Quarry: it ingests folders of
// documents into knowledge bases, answers questions over them from the
// command line, serves the HTTP API, and measures retrieval quality. It
// only wires the packages together and parses flags: the knowledge
// bases' lifecycle (generations, rebuilds, serving) is package kb, and
// the work is done in ingest, index, retrieve, generate and server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest/sandbox"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == sandbox.WorkerArg {
		// A parse worker started by ingest (see package ingest/sandbox):
		// not a command for people, so not in the list.
		os.Exit(sandbox.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"demo", "quarry demo [flags]", "ingest the built-in sample help centre and serve it (no network, no API key)", runDemo},
		{"ingest", "quarry ingest [flags] SOURCE_DIR", "ingest a folder of documents (incremental: unchanged files are skipped)", runIngest},
		{"serve", "quarry serve [flags]", "serve the HTTP API over the ingested documents", runServe},
		{"ask", "quarry ask [flags] \"question\"", "answer a question from the data directory, with citations", runAsk},
		{"search", "quarry search [flags] \"query\"", "show the passages that best match a query", runSearch},
		{"reindex", "quarry reindex [flags] [SOURCE_DIR]", "rebuild the index from scratch into a new generation and switch to it", runReindex},
		{"rollback", "quarry rollback [flags]", "switch serving back to the previous generation", runRollback},
		{"keys", "quarry keys create|list|revoke [flags]", "manage the API keys of the HTTP API (scopes, knowledge base, origin, expiry)", runKeys},
		{"kb", "quarry kb create NAME | list | delete NAME | show NAME", "create, list and delete knowledge bases; show one's reply strategy and channels", runKB},
		{"healthcheck", "quarry healthcheck [flags]", "check that a server answers /healthz (for container health checks)", runHealthcheck},
		{"report", "quarry report [flags]", "print the dashboard's figures from the conversation log (--kb, --since 7d, --json)", runReport},
		{"log", "quarry log export [flags]", "write the conversation log as JSON lines (--since 7d)", runLog},
		{"questions", "quarry questions export [flags]", "write unanswered and down-rated questions as a quarry eval question file", runQuestions},
		{"eval", "quarry eval [flags] DATASET_DIR | QUESTIONS.jsonl | builtin:helpcenter", "measure retrieval (BEIR dataset) or answer quality (question file)", runEval},
		{"bench", "quarry bench [flags]", "measure ingest and search speed (synthetic corpus, in process and over HTTP)", runBench},
	}
}

// Env is what a subcommand gets from the process: its streams and its
// environment (tests pass their own).
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, when set, is called by serve and demo with the address the
	// server listens on (tests use it to find a port chosen with :0).
	Ready func(addr string)
}

// Run runs the quarry command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunEnv(ctx, &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}

// RunEnv is Run with an explicit environment.
func RunEnv(ctx context.Context, env *Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(env.Stdout, "quarry", version())
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			fmt.Fprintln(env.Stderr, "quarry: interrupted")
			return 130
		}
		fmt.Fprintf(env.Stderr, "quarry %s: %v\n", c.name, err)
		if hint := hintFor(err); hint != "" {
			fmt.Fprintln(env.Stderr, hint)
		}
		return 1
	}
	fmt.Fprintf(env.Stderr, "quarry: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

var errUsage = errors.New("usage error")

func usage(w io.Writer) {
	fmt.Fprint(w, `Quarry turns a folder of documents into a grounded question-answering service.

Usage:
  quarry <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  version     print the version

Every command takes --data DIR (environment QUARRY_DATA, default ./quarry-data);
ingest, ask, search, eval, reindex and rollback take --kb NAME (default "default").
Run "quarry <command> --help" for the flags of a command.
`)
}

// hintFor suggests what to do about common errors.
func hintFor(err error) string {
	msg := err.Error()
	switch {
	case quarry.ErrorCode(err) == quarry.CodeNotFound && strings.Contains(msg, "no index in"):
		return "hint: nothing has been ingested into this data directory yet. Try: quarry ingest --data DIR SOURCE_DIR (or quarry demo)"
	case quarry.ErrorCode(err) == quarry.CodeConflict && strings.Contains(msg, "running"):
		return "hint: wait for it to finish (GET /v1/admin/status on a running server shows its progress)"
	}
	return ""
}

func version() string { return "0.1.0-dev" }
