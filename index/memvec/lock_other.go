//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package memvec

import "os"

// Elsewhere the directory is not locked: open it from one process only.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
