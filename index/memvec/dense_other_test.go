//go:build !amd64

package memvec

func hasAVX2Test() bool { return false }
