//go:build !linux

package fsx

// DropPages does nothing here: the resident set is left to the kernel.
func DropPages([]byte) {}
