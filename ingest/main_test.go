package ingest

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain caps the fuzzer's minimisation of each new input at 100 runs
// of the target unless -fuzzminimizetime is given. Go's default (up to
// 60 s, in a pass quadratic in the input's length) made a short run of
// the Office targets, at a millisecond or so a parse, spend all its time
// minimising its first finds: `go test -fuzz FuzzParseOffice -fuzztime
// 10s` did about 0 execs/s. scripts/fuzz.sh passes the same cap to
// every package.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.fuzzminimizetime" })
	if !given {
		if err := flag.Set("test.fuzzminimizetime", "100x"); err != nil {
			fmt.Fprintln(os.Stderr, "ingest tests:", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
