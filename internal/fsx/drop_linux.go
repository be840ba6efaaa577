package fsx

import (
	"os"
	"syscall"
	"unsafe"
)

var pageSize = uintptr(os.Getpagesize())

// DropPages tells the kernel that this process no longer needs the
// pages of b, a part of a read-only file mapping: they leave its
// resident set (they stay in the page cache, and a later read maps them
// again). Only the pages wholly inside b are dropped.
func DropPages(b []byte) {
	if len(b) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	skip := (pageSize - start%pageSize) % pageSize
	if uintptr(len(b)) <= skip {
		return
	}
	b = b[skip:]
	n := uintptr(len(b)) &^ (pageSize - 1)
	if n == 0 {
		return
	}
	_ = syscall.Madvise(b[:n], syscall.MADV_DONTNEED)
}
