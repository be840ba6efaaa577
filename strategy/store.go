package strategy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarry-kb/quarry"
)

// DefaultPollInterval is how often a Store checks its file for changes.
const DefaultPollInterval = time.Second

// Store holds a knowledge base's current strategy, loaded from a file.
// A missing file means the default strategy (small talk answered,
// nothing else). Reload and Watch replace the strategy only with a
// valid file: an invalid one is reported, with its line, and the
// previous strategy stays in force.
type Store struct {
	path    string
	analyze Analyzer
	log     *slog.Logger

	cur     atomic.Pointer[Strategy]
	mu      sync.Mutex // serialises reloads
	sum     [32]byte   // hash of the file behind cur (zero: no file)
	lastErr atomic.Pointer[error]
	sleep   func(time.Duration) // time.Sleep; tests replace it
}

// NewStore loads the strategy at path. An invalid file is an error
// (quarry.ErrInvalid naming the line); a missing one is not.
func NewStore(path string, analyze Analyzer, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, analyze: analyze, log: log, sleep: time.Sleep}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the strategy file's path.
func (s *Store) Path() string { return s.path }

// Current returns the strategy in force.
func (s *Store) Current() *Strategy { return s.cur.Load() }

// LastError is the error of the latest reload that failed, or nil if
// the latest reload succeeded.
func (s *Store) LastError() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// DefaultSettle is how long a changed file must stay the same before
// Watch takes it: an editor or a script still writing it must not have
// its half-written file (an empty one, say, which is valid) served.
const DefaultSettle = 150 * time.Millisecond

// Reload reads the file again. It reports whether the strategy changed;
// on error the previous strategy stays in force.
func (s *Store) Reload() (bool, error) { return s.reload(0) }

// ReloadSettled is Reload for a watcher: a file that changes again
// within settle is left for the next check (changed false, no error).
func (s *Store) ReloadSettled(settle time.Duration) (bool, error) { return s.reload(settle) }

func (s *Store) read() ([]byte, [32]byte, error) {
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, [32]byte{}, nil
	case err != nil:
		return nil, [32]byte{}, quarry.Errorf(quarry.CodeUnavailable, "strategy: %w", err)
	}
	return data, sha256.Sum256(data), nil
}

func (s *Store) reload(settle time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, sum, err := s.read()
	if err != nil {
		s.lastErr.Store(&err)
		return false, err
	}
	if s.cur.Load() != nil && sum == s.sum {
		s.lastErr.Store(nil)
		return false, nil
	}
	if settle > 0 && s.cur.Load() != nil {
		s.sleep(settle)
		if _, again, err := s.read(); err != nil || again != sum {
			return false, nil // still being written: the next check takes it
		}
	}
	f, err := ParseFile(s.path, data)
	if err != nil {
		s.lastErr.Store(&err)
		return false, err
	}
	st, err := Compile(f, s.path, s.analyze)
	if err != nil {
		err = fmt.Errorf("strategy: %w", err)
		s.lastErr.Store(&err)
		return false, err
	}
	if data == nil {
		st.Path = ""
	}
	s.cur.Store(st)
	s.sum = sum
	s.lastErr.Store(nil)
	return true, nil
}

// Watch reloads the file whenever it changes, checking every interval
// (DefaultPollInterval when 0), until ctx is done. Failed reloads are
// logged once per version of the file.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastBad string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := s.ReloadSettled(DefaultSettle)
		switch {
		case err != nil && err.Error() != lastBad:
			lastBad = err.Error()
			s.log.Warn("strategy file rejected; the previous strategy stays in force", "path", s.path, "err", err)
		case err == nil && changed:
			lastBad = ""
			s.log.Info("strategy reloaded", "path", s.path, "curated", len(s.Current().File.Curated))
		}
	}
}
