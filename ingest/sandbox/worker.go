package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

// maxStack bounds a worker goroutine's stack: a parser recursing without
// end crashes well before the memory limit.
const maxStack = 128 << 20

// addressSlack is address space a worker may map beyond its memory limit
// before RLIMIT_AS stops it: room for the runtime's own reservations, so
// that the soft limit (where the garbage collector works hardest) is met
// first and the hard one only stops a parse that really needs more.
const addressSlack = 256 << 20

// Main runs a parse worker: it limits itself, reads one request from
// stdin, parses the file in this goroutine and writes the response to
// stdout. args are the arguments after WorkerArg. It returns the exit
// code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(WorkerArg, flag.ContinueOnError)
	fs.SetOutput(stderr)
	memory := fs.Int64("memory", DefaultMemoryLimit, "memory limit in bytes")
	cpu := fs.Int("cpu", 0, "CPU time limit in seconds, 0 for none")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := limit(*memory, *cpu); err != nil {
		fmt.Fprintf(stderr, "parse worker: %v\n", err)
		return 1
	}
	resp := serve(stdin, *memory)
	if err := json.NewEncoder(stdout).Encode(resp); err != nil {
		fmt.Fprintf(stderr, "parse worker: %v\n", err)
		return 1
	}
	return 0
}

func serve(stdin io.Reader, memory int64) response {
	in := bufio.NewReader(stdin)
	line, err := in.ReadSlice('\n')
	if err != nil {
		return response{Code: quarry.CodeInternal, Kind: ingest.KindMalformed, Error: "parse worker: bad request: " + err.Error()}
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil || req.Size < 0 || int64(req.Size) > memory {
		return response{Code: quarry.CodeInternal, Kind: ingest.KindMalformed, Error: "parse worker: bad request"}
	}
	data := make([]byte, req.Size)
	if _, err := io.ReadFull(in, data); err != nil {
		return response{Code: quarry.CodeInternal, Kind: ingest.KindMalformed, Error: "parse worker: short request: " + err.Error()}
	}
	p, err := ingest.ParseFile(req.Path, data)
	if err != nil {
		return response{Kind: ingest.SkipKind(err), Code: quarry.ErrorCode(err), Error: err.Error()}
	}
	return response{Parsed: &p}
}

// limit caps this process: the Go runtime's soft memory limit, an
// address-space limit above it (what the soft limit cannot enforce, the
// kernel does: allocation fails and the runtime dies "out of memory"),
// a stack limit, and CPU time (SIGXCPU, then SIGKILL a second later).
func limit(memory int64, cpuSeconds int) error {
	runtime.GOMAXPROCS(1)
	debug.SetMaxStack(maxStack)
	debug.SetMemoryLimit(memory)
	debug.SetGCPercent(50)
	base, err := vmSize()
	if err != nil {
		return err
	}
	as := uint64(base + memory + addressSlack)
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as}); err != nil {
		return fmt.Errorf("address space limit: %w", err)
	}
	if cpuSeconds > 0 {
		c := uint64(cpuSeconds)
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: c, Max: c + 1}); err != nil {
			return fmt.Errorf("CPU time limit: %w", err)
		}
	}
	return nil
}

// vmSize is the process's current address space size (VmSize) in bytes.
func vmSize() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("address space size: %w", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("address space size: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("address space size: no VmSize in /proc/self/status")
}
