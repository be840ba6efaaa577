package memvec

func hasAVX2Test() bool { return hasAVX2 }
