//go:build !linux

package bleveindex

// dropPages does nothing here: the resident set is left to the kernel.
func dropPages([]byte) {}
