package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/quarry-kb/quarry"
)

// Kinds of skipped files: the summary counts skips by kind.
const (
	KindUnsupported = "unsupported file type"
	KindEmpty       = "empty"
	KindMalformed   = "malformed"
	KindEncrypted   = "encrypted"
	KindNoText      = "no text"
	KindTimeout     = "timeout"
	KindMemory      = "memory limit"
	KindTooLarge    = "too large"
	KindUnreadable  = "unreadable"
	KindHidden      = "hidden"
	KindIgnored     = "ignored"
	KindOutside     = "symlink outside the folder"
	KindLoop        = "symlink loop"
	KindLinkDir     = "symlink to a directory"
	KindBadName     = "bad file name"
	KindNotRegular  = "not a regular file"
)

// Failure is a parse error of a known kind (KindTimeout, KindMemory...).
// Parse workers return it; SkipKind reads it.
type Failure struct {
	Kind string
	Err  error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Fail returns a Failure of a kind, with a quarry error of code.
func Fail(kind string, code quarry.Code, format string, args ...any) error {
	return &Failure{Kind: kind, Err: quarry.Errorf(code, format, args...)}
}

// SkipKind classifies the error of a file that could not be parsed.
func SkipKind(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return f.Kind
	}
	if errors.Is(err, quarry.ErrUnsupported) {
		return KindUnsupported
	}
	msg := err.Error()
	switch {
	case msg == "empty file":
		return KindEmpty
	case strings.HasPrefix(msg, "encrypted"):
		return KindEncrypted
	case strings.Contains(msg, "no extractable text"), msg == "no text content":
		return KindNoText
	}
	return KindMalformed
}

// remembered reports whether a failure of this kind is worth remembering
// by content hash: the same bytes fail the same way with the same
// parsers.
func remembered(kind string) bool {
	switch kind {
	case KindMalformed, KindEncrypted, KindNoText, KindTimeout, KindMemory:
		return true
	}
	return false
}

// Failures remembers, by content hash and ParserVersion, the files whose
// parse failed, so that an unchanged bad file is not parsed again on
// every run (a file that timed out would cost the whole time limit each
// time). It is safe for concurrent use; Save writes it back.
type Failures struct {
	path  string
	mu    sync.Mutex
	byKey map[string]failureRecord
	dirty bool
}

type failureRecord struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

type failuresFile struct {
	ParserVersion string                   `json:"parser_version"`
	Failures      map[string]failureRecord `json:"failures"` // by content hash
}

// LoadFailures reads the failures remembered in a file; a missing file,
// an unreadable one or one written by other parsers is an empty record.
func LoadFailures(path string) *Failures {
	f := &Failures{path: path, byKey: map[string]failureRecord{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return f
	}
	var ff failuresFile
	if json.Unmarshal(data, &ff) == nil && ff.ParserVersion == ParserVersion && ff.Failures != nil {
		f.byKey = ff.Failures
	}
	return f
}

// lookup returns the failure remembered for a content hash.
func (f *Failures) lookup(hash string) (failureRecord, bool) {
	if f == nil {
		return failureRecord{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.byKey[hash]
	return r, ok
}

func (f *Failures) record(hash, kind, reason string) {
	if f == nil || !remembered(kind) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byKey[hash] = failureRecord{Kind: kind, Reason: reason}
	f.dirty = true
}

// keep drops the records of hashes not in seen (files changed or gone).
func (f *Failures) keep(seen map[string]bool) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.byKey {
		if !seen[h] {
			delete(f.byKey, h)
			f.dirty = true
		}
	}
}

// Save writes the record back (atomically), if it changed.
func (f *Failures) Save() error {
	if f == nil || f.path == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dirty {
		return nil
	}
	data, err := json.MarshalIndent(failuresFile{ParserVersion: ParserVersion, Failures: f.byKey}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".failures-*")
	if err != nil {
		return fmt.Errorf("save parse failures: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save parse failures: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save parse failures: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("save parse failures: %w", err)
	}
	f.dirty = false
	return nil
}

// Routine reports whether skips of a kind are routine (other files in a
// folder: unsupported types, hidden or ignored files) rather than files
// that need someone's attention.
func Routine(kind string) bool { return quietKinds[kind] }
