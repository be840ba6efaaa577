// Package sandbox parses untrusted documents in a child process that a
// bad file cannot escape: a parse worker, which is the quarry binary
// itself started as "quarry parse-worker". Each file of an untrusted type
// (ingest.Untrusted: PDF, and every format whose parser can loop or
// allocate without bound) is parsed by a fresh worker with a wall-clock
// limit, a memory limit (RLIMIT_AS on the worker, with the Go runtime's
// soft limit below it), a CPU-time limit and a cap on the size of what it
// returns. A worker that overruns is killed, and the file is skipped with
// the reason (ingest.KindTimeout, ingest.KindMemory, ingest.KindMalformed);
// nothing of its parse outlives it.
//
// A binary that uses Parser must call Main when started as a worker:
// quarry does it for its hidden parse-worker command, and test binaries
// do it from TestMain when IsWorker reports true (see Command).
package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

// WorkerArg is the (hidden) subcommand that starts a parse worker.
const WorkerArg = "parse-worker"

// EnvWorker is set to "1" in a worker's environment, so that a test
// binary started as a worker knows it from TestMain.
const EnvWorker = "QUARRY_PARSE_WORKER"

// IsWorker reports whether this process was started as a parse worker.
func IsWorker() bool { return os.Getenv(EnvWorker) == "1" }

// Defaults of Config.
const (
	DefaultMemoryLimit = 512 << 20 // 512 MiB
	DefaultMaxOutput   = 64 << 20  // 64 MiB of parsed text (JSON)
)

// DefaultTimeout is the wall-clock limit for a file of size bytes: 30 s
// plus 10 s per MiB, generous for any sound file.
func DefaultTimeout(size int) time.Duration {
	return 30*time.Second + time.Duration(size>>20)*10*time.Second
}

// Config sets a Parser's limits. The zero value means defaults.
type Config struct {
	// Timeout is the wall-clock limit of one file; 0 means DefaultTimeout.
	Timeout time.Duration
	// MemoryLimit is how much memory a worker may allocate beyond what
	// it holds when it starts; 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// MaxOutput caps the size of a worker's answer; 0 means DefaultMaxOutput.
	MaxOutput int64
	// Command is the worker's program and arguments before WorkerArg;
	// nil means this executable (os.Executable).
	Command []string
	// InProcess parses every file in this process, with no limit (for
	// trusted sources and tests of other things).
	InProcess bool
}

// Parser parses files, the untrusted ones in workers. It is safe for
// concurrent use; each call of Parse starts its own worker.
type Parser struct {
	cfg Config
}

// New returns a Parser.
func New(cfg Config) (*Parser, error) {
	if cfg.MemoryLimit < 0 || cfg.Timeout < 0 || cfg.MaxOutput < 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "parse worker limits must not be negative")
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.MaxOutput == 0 {
		cfg.MaxOutput = DefaultMaxOutput
	}
	if cfg.Command == nil && !cfg.InProcess {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("parse worker: %w", err)
		}
		cfg.Command = []string{exe}
	}
	return &Parser{cfg: cfg}, nil
}

// request heads what a worker reads on stdin; the file's bytes follow.
type request struct {
	Path string `json:"path"`
	Size int    `json:"size"`
}

// response is what a worker writes on stdout.
type response struct {
	Parsed *ingest.Parsed `json:"parsed,omitempty"`
	Kind   string         `json:"kind,omitempty"`
	Code   quarry.Code    `json:"code,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// Parse parses one file as ingest.ParseFile does; a file of an
// untrusted type is parsed in a worker, under the limits.
func (p *Parser) Parse(ctx context.Context, path string, data []byte) (ingest.Parsed, error) {
	if p.cfg.InProcess || !ingest.Untrusted(path) || len(bytes.TrimSpace(data)) == 0 {
		return ingest.ParseFile(path, data)
	}
	timeout := p.cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout(len(data))
	}
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	ctx2, overflow := context.WithCancelCause(wctx)
	defer overflow(nil)

	args := append(append([]string{}, p.cfg.Command[1:]...), WorkerArg,
		"-memory", strconv.FormatInt(p.cfg.MemoryLimit, 10),
		"-cpu", strconv.Itoa(int(timeout/time.Second)+1))
	cmd := exec.CommandContext(ctx2, p.cfg.Command[0], args...)
	cmd.Env = append(os.Environ(), EnvWorker+"=1")
	if os.Getenv("GORACE") == "" {
		// A race-enabled worker (a test binary) would sleep a second
		// at exit.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	head, _ := json.Marshal(request{Path: path, Size: len(data)})
	cmd.Stdin = io.MultiReader(bytes.NewReader(head), strings.NewReader("\n"), bytes.NewReader(data))
	stdout := &capped{max: p.cfg.MaxOutput, full: func() { overflow(errOutput) }}
	stderr := &capped{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 2 * time.Second
	runErr := cmd.Run()
	_ = killGroup(cmd) // whatever the worker started and left behind

	if err := ctx.Err(); err != nil {
		return ingest.Parsed{}, err
	}
	switch {
	case errors.Is(context.Cause(ctx2), errOutput):
		return ingest.Parsed{}, ingest.Fail(ingest.KindMalformed, quarry.CodeInvalid,
			"malformed: the parser's output exceeded %s", size(p.cfg.MaxOutput))
	case errors.Is(context.Cause(wctx), errTimeout) || killedBy(cmd, syscall.SIGXCPU):
		return ingest.Parsed{}, ingest.Fail(ingest.KindTimeout, quarry.CodeInvalid,
			"timeout: the parser did not finish within %s (stopped)", timeout)
	}
	if runErr != nil {
		msg := stderr.String()
		if outOfMemory(msg) || killedBy(cmd, syscall.SIGKILL) {
			return ingest.Parsed{}, ingest.Fail(ingest.KindMemory, quarry.CodeInvalid,
				"memory limit: the parser needed more than %s (stopped)", size(p.cfg.MemoryLimit))
		}
		return ingest.Parsed{}, ingest.Fail(ingest.KindMalformed, quarry.CodeInvalid,
			"malformed: the parser crashed (%s)", crashLine(msg, runErr))
	}
	var resp response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return ingest.Parsed{}, ingest.Fail(ingest.KindMalformed, quarry.CodeInternal, "parse worker: bad answer: %v", err)
	}
	if resp.Error != "" {
		code := resp.Code
		if code == "" {
			code = quarry.CodeInvalid
		}
		return ingest.Parsed{}, &ingest.Failure{Kind: resp.Kind, Err: quarry.Errorf(code, "%s", resp.Error)}
	}
	if resp.Parsed == nil {
		return ingest.Parsed{}, ingest.Fail(ingest.KindMalformed, quarry.CodeInternal, "parse worker: empty answer")
	}
	return *resp.Parsed, nil
}

var (
	errTimeout = errors.New("parse timeout")
	errOutput  = errors.New("parse output too large")
)

func killedBy(cmd *exec.Cmd, sig syscall.Signal) bool {
	if cmd.ProcessState == nil {
		return false
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// outOfMemory reports whether a worker's stderr tells of the Go runtime
// failing to get memory: what an address-space limit looks like. A
// race-enabled worker (the test binary under -race) maps its shadow
// memory as it grows, and under the same limit dies with "too many
// address space collisions" instead.
func outOfMemory(stderr string) bool {
	for _, s := range []string{"out of memory", "cannot allocate memory", "failed to create new OS thread", "failed to allocate", "memory limit", "address space collisions"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// crashLine is the first line of a crashed worker's stderr (its fatal
// error), else the exit status.
func crashLine(stderr string, err error) string {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			if len(l) > 200 {
				l = l[:200] + "..."
			}
			return l
		}
	}
	return err.Error()
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// capped is an io.Writer that keeps the first max bytes; past them it
// calls full (once) and fails, or, without full, drops the rest. (It
// must not embed bytes.Buffer: io.Copy would use the buffer's ReadFrom
// and bypass the cap.)
type capped struct {
	buf    bytes.Buffer
	max    int64
	full   func()
	called bool
}

func (c *capped) Write(p []byte) (int, error) {
	if int64(c.buf.Len()+len(p)) > c.max {
		if c.full == nil {
			c.buf.Write(p[:max(0, int(c.max)-c.buf.Len())])
			return len(p), nil
		}
		if !c.called {
			c.called = true
			c.full()
		}
		return 0, errOutput
	}
	return c.buf.Write(p)
}

func (c *capped) Bytes() []byte  { return c.buf.Bytes() }
func (c *capped) String() string { return c.buf.String() }
