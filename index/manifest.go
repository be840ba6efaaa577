package index

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/fsx"
)

// ManifestVersion is the manifest format this package writes.
const ManifestVersion = 1

// Manifest records what one index directory holds: the embedding space
// its vectors are in and, per document path, what was indexed. It is
// how a sync knows which files changed without asking the backends.
type Manifest struct {
	Version int                    `json:"version"`
	Space   Space                  `json:"space"`
	Docs    map[string]ManifestDoc `json:"docs"` // by slash path
	Updated time.Time              `json:"updated"`
}

// ManifestDoc is one indexed document.
type ManifestDoc struct {
	DocID   string    `json:"doc_id"`
	Path    string    `json:"path"`
	Title   string    `json:"title"`
	Type    string    `json:"type,omitempty"`
	Lang    string    `json:"lang,omitempty"`
	Hash    string    `json:"hash"` // hex SHA-256 of the file's bytes
	Size    int64     `json:"size,omitempty"`
	Chunks  int       `json:"chunks"`
	Updated time.Time `json:"updated"`
}

// NewManifest returns an empty manifest.
func NewManifest() *Manifest {
	return &Manifest{Version: ManifestVersion, Docs: map[string]ManifestDoc{}}
}

// Empty reports whether the manifest records no document.
func (m *Manifest) Empty() bool { return len(m.Docs) == 0 }

// Paths returns the recorded paths, sorted.
func (m *Manifest) Paths() []string { return slices.Sorted(maps.Keys(m.Docs)) }

// LoadManifest reads the manifest at path. A missing file is an empty
// manifest; an unreadable or corrupt one is an error (quarry.ErrInvalid),
// and one written by a newer Quarry is quarry.ErrConflict.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewManifest(), nil
	}
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeUnavailable, "read manifest: %w", err)
	}
	m := NewManifest()
	if err := json.Unmarshal(data, m); err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "manifest %s is corrupt (delete the index directory and sync again to rebuild it): %w", path, err)
	}
	if m.Version > ManifestVersion {
		return nil, quarry.Errorf(quarry.CodeConflict, "manifest %s has format version %d; this Quarry reads up to %d", path, m.Version, ManifestVersion)
	}
	if m.Docs == nil {
		m.Docs = map[string]ManifestDoc{}
	}
	for p, d := range m.Docs {
		if d.Path == "" {
			d.Path = p
			m.Docs[p] = d
		}
	}
	m.Version = ManifestVersion
	return m, nil
}

// Save writes the manifest to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, so that a crash leaves
// either the old or the new manifest, never a torn one.
func (m *Manifest) Save(path string) error {
	if err := fsx.WriteJSON(path, m); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "save manifest: %w", err)
	}
	return nil
}

// clone returns a deep copy, for saving outside a lock.
func (m *Manifest) clone() *Manifest {
	c := *m
	c.Docs = maps.Clone(m.Docs)
	return &c
}
