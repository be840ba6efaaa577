package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"encoding/json"
)

// AuditFileName is the audit log in the data directory.
const AuditFileName = "audit.jsonl"

// Outcomes of audited actions.
const (
	OutcomeOK     = "ok"     // done (or, for a rebuild, started)
	OutcomeError  = "error"  // tried and failed
	OutcomeDenied = "denied" // refused: no key, or a key without the right
)

// Actions recorded by quarry itself; the HTTP admin routes record the
// last element of their path ("reindex", "rollback").
const (
	ActionKeyCreate = "key.create"
	ActionKeyRevoke = "key.revoke"
	ActionKBCreate  = "kb.create"
	ActionKBDelete  = "kb.delete"
	// A document sent or removed over the API (scope ingest).
	ActionDocumentPut    = "document.put"
	ActionDocumentDelete = "document.delete"
)

// Event is one audited admin action.
type Event struct {
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`
	KB        string    `json:"kb,omitempty"`
	KeyID     string    `json:"key_id,omitempty"` // the key used over HTTP
	Actor     string    `json:"actor"`            // "key", "cli" (on the server's machine) or "anonymous"
	Outcome   string    `json:"outcome"`          // OutcomeOK, OutcomeError or OutcomeDenied
	Status    int       `json:"status,omitempty"` // the HTTP status, for HTTP requests
	Detail    string    `json:"detail,omitempty"` // what was created, revoked or went wrong (never a key)
	RequestID string    `json:"request_id,omitempty"`
}

// Audit is an append-only log of admin actions, one JSON object a line.
// Lines are appended with O_APPEND in one write, so the server and
// command-line tools can share the file.
type Audit struct {
	path string
	mu   sync.Mutex
}

// NewAudit returns the audit log of the data directory dir.
func NewAudit(dir string) *Audit {
	return &Audit{path: filepath.Join(dir, AuditFileName)}
}

// Path returns the log's path.
func (a *Audit) Path() string { return a.path }

// Record appends e, with the time set if it is zero.
func (a *Audit) Record(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(a.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// DefaultAuditLimit is how many events List returns when limit is 0.
const DefaultAuditLimit = 100

// List returns the newest events about the knowledge bases kbs (all
// events when kbs is empty; "*" names events about every knowledge base,
// such as a key created for all), newest first, at most limit (0:
// DefaultAuditLimit). Lines that do not parse (a torn last line after a
// crash) are skipped.
func (a *Audit) List(limit int, kbs ...string) ([]Event, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	f, err := os.Open(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return []Event{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if len(kbs) == 0 || slices.Contains(kbs, e.KB) {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	slices.Reverse(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
