//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package memvec

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting. Locks
// belong to the open file, so a second Open of the same directory fails
// even within one process.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

func unlockFile(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
