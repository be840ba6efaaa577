//go:build race

package main

// raceEnabled: the race detector slows code down several times (the Go
// documentation says 2 to 20), which timing bounds allow for.
const raceEnabled = true
