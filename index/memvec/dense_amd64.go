package memvec

import "golang.org/x/sys/cpu"

// hasAVX2 tells whether addDense may use its AVX2 loop (the CPU has it
// and the OS saves the wide registers).
var hasAVX2 = cpu.X86.HasAVX2

// addDenseAVX2 adds step × q to acc[i] for the first n int16 values q
// (little-endian) of data, 8 slots an instruction: every product is
// rounded to float32 and then added, as the Go loop does, so the sums
// are the same bit for bit. n is a multiple of 8.
//
//go:noescape
func addDenseAVX2(acc *float32, data *byte, n int, step float32)

// addDenseWide adds the longest prefix of acc that the AVX2 loop can take
// and returns how many slots it added.
func addDenseWide(acc []float32, data []byte, step float32) int {
	if !hasAVX2 {
		return 0
	}
	n := min(len(acc), len(data)/2) &^ 7
	if n == 0 {
		return 0
	}
	addDenseAVX2(&acc[0], &data[0], n, step)
	return n
}
