//go:build !amd64

package memvec

// hasAVX2 is false here: there is no wide loop.
const hasAVX2 = false

// addDenseWide adds nothing here: addDense's Go loop does it all.
func addDenseWide([]float32, []byte, float32) int { return 0 }
