package auth

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
)

// ReloadEvery is how often, at most, a Keyring looks at its file for
// changes: a revoked key is refused within this time.
const ReloadEvery = 250 * time.Millisecond

// Request is what a request asks of a key.
type Request struct {
	Token  string // the presented key ("" when none)
	Origin string // the request's Origin header ("" when none)
	KB     string // the knowledge base used; "" when the route names none yet
	Scope  Scope  // the scope needed; "" for any scope
}

// Keyring is a server's view of a key file. It looks at the file at most
// every ReloadEvery, on use, and reloads it when it changed; there is no
// goroutine to stop. A file that cannot be read or parsed makes every
// key refused (fail closed) until it is fixed.
type Keyring struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	keys    []Key
	hashes  [][]byte // decoded Hash of keys[i]
	stat    os.FileInfo
	checked time.Time
	err     error
}

// NewKeyring reads the key file of the data directory dir. A missing file
// is a keyring with no keys (see Empty); a corrupt one is an error.
func NewKeyring(dir string) (*Keyring, error) {
	k := &Keyring{path: NewStore(dir).Path(), now: time.Now}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reloadLocked()
	if k.err != nil {
		return nil, k.err
	}
	return k, nil
}

// refresh reloads the file if it changed and ReloadEvery has passed.
func (k *Keyring) refresh() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := time.Now(); now.Sub(k.checked) >= ReloadEvery {
		k.checked = now
		k.reloadLocked()
	}
}

func (k *Keyring) reloadLocked() {
	st, err := os.Stat(k.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k.keys, k.hashes, k.stat, k.err = nil, nil, nil, nil
		return
	case err != nil:
		k.err = fmt.Errorf("keys: %w", err)
		return
	}
	if k.err == nil && k.stat != nil && os.SameFile(st, k.stat) && st.ModTime().Equal(k.stat.ModTime()) && st.Size() == k.stat.Size() {
		return // unchanged (the file is replaced by rename, so a change is a new inode)
	}
	f, err := readKeyFile(k.path)
	if err != nil {
		k.err = err
		return
	}
	hashes := make([][]byte, len(f.Keys))
	for i, key := range f.Keys {
		hashes[i], _ = hex.DecodeString(key.Hash) // checked by decodeKeyFile
	}
	k.keys, k.hashes, k.stat, k.err = f.Keys, hashes, st, nil
}

// Keys returns the keys as last loaded.
func (k *Keyring) Keys() []Key {
	k.refresh()
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.keys)
}

// Empty reports whether no key was ever created (revoked keys count:
// revoking the last key does not open a server).
func (k *Keyring) Empty() bool {
	k.refresh()
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys) == 0 && k.err == nil
}

// HasAdmin reports whether an active key has the admin scope.
func (k *Keyring) HasAdmin() bool {
	now := k.now()
	for _, key := range k.Keys() {
		if key.Active(now) && key.Has(ScopeAdmin) {
			return true
		}
	}
	return false
}

// AllowOrigin reports whether an active key is bound to origin: the
// browser origins CORS lets in.
func (k *Keyring) AllowOrigin(origin string) bool {
	now := k.now()
	for _, key := range k.Keys() {
		if key.Origin != "" && key.Active(now) && strings.EqualFold(key.Origin, origin) {
			return true
		}
	}
	return false
}

// lookup finds the key whose hash is token's. Every stored hash is
// compared, in constant time, whatever matches.
func (k *Keyring) lookup(token string) (Key, bool, error) {
	k.refresh()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return Key{}, false, quarry.Errorf(quarry.CodeUnavailable, "the key file cannot be read; every key is refused until it is fixed")
	}
	h := hashBytes(token)
	found := -1
	for i, stored := range k.hashes {
		if subtle.ConstantTimeCompare(h, stored) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Key{}, false, nil
	}
	return k.keys[found], true, nil
}

func hashBytes(token string) []byte {
	b, _ := hex.DecodeString(Hash(token))
	return b
}

// Authorize returns the key of req.Token if it may do req. Its errors
// are quarry.ErrUnauthenticated (no key, an unknown, revoked or expired
// one: 401) and quarry.ErrForbidden (the key lacks the scope, the
// knowledge base or the origin: 403, and the message says which). No
// error ever contains the key.
func (k *Keyring) Authorize(req Request) (Key, error) {
	if req.Token == "" {
		return Key{}, quarry.Errorf(quarry.CodeUnauthenticated, "missing API key: send it as Authorization: Bearer KEY")
	}
	key, ok, err := k.lookup(req.Token)
	if err != nil {
		return Key{}, err
	}
	if !ok {
		return Key{}, quarry.Errorf(quarry.CodeUnauthenticated, "invalid API key")
	}
	switch key.State(k.now()) {
	case "revoked":
		return Key{}, quarry.Errorf(quarry.CodeUnauthenticated, "API key %s was revoked", key.ID)
	case "expired":
		return Key{}, quarry.Errorf(quarry.CodeUnauthenticated, "API key %s expired at %s", key.ID, key.Expires.Format(time.RFC3339))
	}
	return key, key.Allows(req)
}

// Allows returns nil if k may do req (its token aside), or a
// quarry.ErrForbidden naming everything that is missing.
func (k Key) Allows(req Request) error {
	var missing []string
	if req.Scope != "" && !k.Has(req.Scope) {
		missing = append(missing, fmt.Sprintf("scope %q (the key has %s)", req.Scope, joinScopes(k.Scopes)))
	}
	if req.KB != "" && k.KB != AllKBs && k.KB != req.KB {
		missing = append(missing, fmt.Sprintf("knowledge base %q (the key is for %q)", req.KB, k.KB))
	}
	if k.Origin != "" {
		switch {
		case req.Scope != ScopeAsk && req.Scope != ScopeSearch && req.Scope != "":
			missing = append(missing, fmt.Sprintf("a key without an origin: origin-bound keys may only ask or search, not use scope %q", req.Scope))
		case req.Origin == "":
			missing = append(missing, fmt.Sprintf("origin %s (the request has no Origin header)", k.Origin))
		case !strings.EqualFold(req.Origin, k.Origin):
			missing = append(missing, fmt.Sprintf("origin %s (the request comes from %s)", k.Origin, clip(req.Origin)))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return quarry.Errorf(quarry.CodeForbidden, "API key %s is not allowed here: missing %s", k.ID, strings.Join(missing, "; "))
}

func joinScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ", ")
}

// clip bounds text from a request that is echoed in an error.
func clip(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// decodeKeyFile parses keys.json strictly and checks every key.
func decodeKeyFile(b []byte, f *keyFile) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return err
	}
	ids := map[string]bool{}
	for i, k := range f.Keys {
		if k.ID == "" || ids[k.ID] {
			return fmt.Errorf("key %d: missing or duplicate id %q", i, k.ID)
		}
		ids[k.ID] = true
		if h, err := hex.DecodeString(k.Hash); err != nil || len(h) != 32 {
			return fmt.Errorf("key %s: sha256 is not 64 hex digits", k.ID)
		}
		if err := CheckKB(k.KB); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
		for _, sc := range k.Scopes {
			if !slices.Contains(AllScopes, sc) {
				return fmt.Errorf("key %s: unknown scope %q", k.ID, sc)
			}
		}
	}
	return nil
}
