package fsx

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rssFile returns the process's resident file-backed memory in KiB.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestDropPages: the dropped pages of a mapping leave the resident set
// and read back the same; the pages at either end that b only partly
// covers are kept.
func TestDropPages(t *testing.T) {
	const size = 64 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer syscall.Munmap(m)
	before := rssFile(t)
	sum := 0
	for i := 0; i < len(m); i += 4096 {
		sum += int(m[i])
	}
	if sum != len(m)/4096*'0' {
		t.Fatalf("page sum %d", sum)
	}
	touched := rssFile(t)
	if touched-before < size/1024*9/10 {
		t.Fatalf("reading the mapping raised RssFile by %d KiB, want about %d", touched-before, size/1024)
	}
	DropPages(m[100 : len(m)-100])
	dropped := rssFile(t)
	if touched-dropped < size/1024*9/10 {
		t.Errorf("DropPages lowered RssFile by %d KiB, want about %d", touched-dropped, size/1024)
	}
	if !bytes.Equal(m, data) {
		t.Error("the mapping reads differently after DropPages")
	}
	DropPages(m[1:2]) // inside one page: nothing to drop, no panic
	DropPages(nil)
}
