package main

import (
	"os"
	"testing"

	"github.com/quarry-kb/quarry/ingest/sandbox"
)

// TestMain lets this test binary act as quarry's parse worker: ingest
// starts os.Executable() (here, the test binary) with sandbox.EnvWorker
// set, as the real binary is started as "quarry parse-worker".
func TestMain(m *testing.M) {
	if sandbox.IsWorker() {
		os.Exit(sandbox.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
