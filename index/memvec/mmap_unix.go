//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package memvec

import (
	"os"
	"syscall"
)

// mapFile maps f read-only into memory. The mapping outlives f and any
// rename or removal of the file; unmap releases it.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmap(b []byte) { syscall.Munmap(b) }
