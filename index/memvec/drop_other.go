//go:build !linux

package memvec

// dropPages does nothing here: the resident set is left to the kernel.
func dropPages([]byte) {}
