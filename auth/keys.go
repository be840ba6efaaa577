// Package auth holds Quarry's API keys and audit log: keys with scopes
// (ask, search, ingest, admin), each bound to one knowledge base or to
// all ("*"), optionally to a browser origin and an expiry date.
//
// A key is 256 random bits with a recognisable prefix ("qk_"), shown
// once when it is created. Only its SHA-256 is kept, in keys.json in the
// data directory (written atomically, readable by its owner only);
// presented keys are hashed and compared with the stored hashes in
// constant time. SHA-256 rather than a slow password hash is enough
// because the keys are random: there is nothing to guess from a hash.
//
// Store is the file, for the command line (quarry keys create, list,
// revoke); Keyring is the server's view of it, re-read when the file
// changes, so a revoked key is refused within a second. Audit appends
// admin actions to audit.jsonl.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/fsx"
)

// Scope is what a key may do.
type Scope string

// Scopes.
const (
	ScopeAsk    Scope = "ask"    // POST .../ask, /v1/chat/completions
	ScopeSearch Scope = "search" // POST .../search
	ScopeIngest Scope = "ingest" // PUT, DELETE .../documents: adding, replacing and removing documents
	ScopeAdmin  Scope = "admin"  // .../admin/* (status, reindex, rollback, audit)
)

// AllScopes lists the scopes in a stable order.
var AllScopes = []Scope{ScopeAsk, ScopeSearch, ScopeIngest, ScopeAdmin}

// AllKBs binds a key to every knowledge base.
const AllKBs = "*"

// Prefix starts every key, so that a key pasted in the wrong place is
// recognisable (and secret scanners can find it).
const Prefix = "qk_"

// FileName is the key file in the data directory.
const FileName = "keys.json"

// ParseScopes parses scope flags: each value may hold several scopes
// separated by commas. Duplicates are dropped; the result is in
// AllScopes order.
func ParseScopes(values []string) ([]Scope, error) {
	seen := map[Scope]bool{}
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(strings.ToLower(s))
			if s == "" {
				continue
			}
			if !slices.Contains(AllScopes, Scope(s)) {
				return nil, quarry.Errorf(quarry.CodeInvalid, "unknown scope %q (scopes: ask, search, ingest, admin)", s)
			}
			seen[Scope(s)] = true
		}
	}
	var out []Scope
	for _, s := range AllScopes {
		if seen[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "a key needs at least one scope (ask, search, ingest, admin)")
	}
	return out, nil
}

// ParseTTL parses a key lifetime: a number of days ("90d"), weeks
// ("2w"), or a Go duration ("12h"). "" means no expiry.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	var err error
	switch unit := s[len(s)-1]; unit {
	case 'd', 'w':
		var n int
		n, err = strconv.Atoi(s[:len(s)-1])
		d = time.Duration(n) * 24 * time.Hour
		if unit == 'w' {
			d *= 7
		}
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, quarry.Errorf(quarry.CodeInvalid, "expiry %q: want a positive duration such as 90d, 2w or 12h", s)
	}
	return d, nil
}

var kbName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// CheckKB validates the knowledge base a key is bound to: a knowledge
// base name (lower-case letters, digits and "-") or "*".
func CheckKB(kb string) error {
	if kb == AllKBs || (kbName.MatchString(kb) && len(kb) <= 64) {
		return nil
	}
	return quarry.Errorf(quarry.CodeInvalid, "knowledge base %q: want a name of lower-case letters, digits and '-', or '*' for all", kb)
}

// NormalizeOrigin checks an origin ("https://shop.example", optionally
// with a port) and returns it in the form browsers send in the Origin
// header: scheme and host, lower case, no path.
func NormalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, "origin %q: want scheme and host, such as https://shop.example", origin)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// Key is a stored key: everything but the key itself, of which only the
// SHA-256 is kept.
type Key struct {
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Hash    string    `json:"sha256"` // hex SHA-256 of the key
	KB      string    `json:"kb"`     // a knowledge base or "*"
	Scopes  []Scope   `json:"scopes"`
	Origin  string    `json:"origin,omitempty"` // the only browser origin the key is valid from
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// Has reports whether k has scope s.
func (k Key) Has(s Scope) bool { return slices.Contains(k.Scopes, s) }

// Active reports whether k is neither revoked nor expired at now.
func (k Key) Active(now time.Time) bool {
	return k.Revoked.IsZero() && (k.Expires.IsZero() || now.Before(k.Expires))
}

// State describes k at now: "active", "revoked" or "expired".
func (k Key) State(now time.Time) string {
	switch {
	case !k.Revoked.IsZero():
		return "revoked"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	}
	return "active"
}

// keyFile is the content of keys.json.
type keyFile struct {
	Version int   `json:"version"`
	Keys    []Key `json:"keys"`
}

// Hash returns the hex SHA-256 of a key, as stored.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Spec is what quarry keys create asks for.
type Spec struct {
	Name   string
	KB     string // a knowledge base or "*"
	Scopes []Scope
	Origin string        // optional browser origin
	TTL    time.Duration // 0: no expiry
}

// Store is the key file of a data directory, for the command line.
// Changes take a lock on the file's directory, so two commands never
// lose each other's keys.
type Store struct {
	path string
	now  func() time.Time
}

// NewStore returns the key store of the data directory dir.
func NewStore(dir string) *Store {
	return &Store{path: filepath.Join(dir, FileName), now: time.Now}
}

// Path returns the key file's path.
func (s *Store) Path() string { return s.path }

// Keys returns the stored keys, oldest first; none when the file does
// not exist.
func (s *Store) Keys() ([]Key, error) {
	f, err := readKeyFile(s.path)
	return f.Keys, err
}

// Create adds a key for spec and returns it with the key itself, which
// is not stored and cannot be shown again.
func (s *Store) Create(spec Spec) (Key, string, error) {
	if err := CheckKB(spec.KB); err != nil {
		return Key{}, "", err
	}
	if len(spec.Scopes) == 0 {
		return Key{}, "", quarry.Errorf(quarry.CodeInvalid, "a key needs at least one scope (ask, search, ingest, admin)")
	}
	for _, sc := range spec.Scopes {
		if !slices.Contains(AllScopes, sc) {
			return Key{}, "", quarry.Errorf(quarry.CodeInvalid, "unknown scope %q", sc)
		}
	}
	k := Key{Name: strings.TrimSpace(spec.Name), KB: spec.KB, Scopes: slices.Clone(spec.Scopes)}
	if spec.Origin != "" {
		o, err := NormalizeOrigin(spec.Origin)
		if err != nil {
			return Key{}, "", err
		}
		for _, sc := range k.Scopes {
			if sc != ScopeAsk && sc != ScopeSearch {
				return Key{}, "", quarry.Errorf(quarry.CodeInvalid, "an --origin key is for browsers and may only have the ask and search scopes, not %q", sc)
			}
		}
		k.Origin = o
	}
	if spec.TTL < 0 {
		return Key{}, "", quarry.Errorf(quarry.CodeInvalid, "expiry must be positive")
	}
	var secret [32]byte
	rand.Read(secret[:]) // never fails (crypto/rand panics instead)
	var id [8]byte
	rand.Read(id[:])
	key := Prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	k.ID = "k_" + hex.EncodeToString(id[:])
	k.Hash = Hash(key)
	k.Created = s.now().UTC().Truncate(time.Second)
	if spec.TTL > 0 {
		k.Expires = k.Created.Add(spec.TTL)
	}
	err := s.update(func(f *keyFile) error {
		f.Keys = append(f.Keys, k)
		return nil
	})
	if err != nil {
		return Key{}, "", err
	}
	return k, key, nil
}

// Revoke marks the key id revoked and returns it. Revoked keys stay in
// the file (their ids stay meaningful in the audit log) and are refused.
func (s *Store) Revoke(id string) (Key, error) {
	var out Key
	err := s.update(func(f *keyFile) error {
		i := slices.IndexFunc(f.Keys, func(k Key) bool { return k.ID == id })
		if i < 0 {
			return quarry.Errorf(quarry.CodeNotFound, "no key %q (quarry keys list shows them)", id)
		}
		if f.Keys[i].Revoked.IsZero() {
			f.Keys[i].Revoked = s.now().UTC().Truncate(time.Second)
		}
		out = f.Keys[i]
		return nil
	})
	return out, err
}

// update applies change to the key file under an exclusive lock.
func (s *Store) update(change func(*keyFile) error) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	lock, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("keys: lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("keys: lock %s: %w", s.path, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	f, err := readKeyFile(s.path)
	if err != nil {
		return err
	}
	if err := change(&f); err != nil {
		return err
	}
	f.Version = 1
	// fsx.WriteJSON writes through os.CreateTemp: the file is 0600.
	return fsx.WriteJSON(s.path, f)
}

// readKeyFile reads a key file; a missing file holds no keys.
func readKeyFile(path string) (keyFile, error) {
	var f keyFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("keys: %w", err)
	}
	if err := decodeKeyFile(b, &f); err != nil {
		return f, quarry.Errorf(quarry.CodeInvalid, "keys: %s: %w", path, err)
	}
	return f, nil
}
