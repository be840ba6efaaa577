//go:build race

package bleveindex

// raceEnabled lets the benchmark evaluations sample fewer queries under
// the race detector, which slows bleve down about tenfold.
const raceEnabled = true
