package index

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
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

// ManifestHeader is what a manifest says before its documents: enough
// to serve a generation (which embedding space its vectors are in,
// whether it holds anything) without decoding one entry per document,
// which at a million documents is over 300 MB of heap.
type ManifestHeader struct {
	Version int
	Space   Space
	Empty   bool // no document is recorded
}

// ReadManifestHeader reads the header of the manifest at path, with the
// errors of LoadManifest: a missing file is an empty manifest, one written
// by a newer Quarry is quarry.ErrConflict. It reads the file only up to
// the first document (Save writes the version and the space first); a
// manifest that puts its documents before either is loaded whole.
// A document entry that is corrupt goes unnoticed here: it is found by
// the next LoadManifest (a sync, or eval).
func ReadManifestHeader(path string) (ManifestHeader, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ManifestHeader{Version: ManifestVersion, Empty: true}, nil
	}
	if err != nil {
		return ManifestHeader{}, quarry.Errorf(quarry.CodeUnavailable, "read manifest: %w", err)
	}
	defer f.Close()
	h, whole, err := readHeader(json.NewDecoder(bufio.NewReaderSize(f, 4096)))
	if err != nil {
		return ManifestHeader{}, quarry.Errorf(quarry.CodeInvalid, "manifest %s is corrupt (delete the index directory and sync again to rebuild it): %w", path, err)
	}
	if whole {
		m, err := LoadManifest(path)
		if err != nil {
			return ManifestHeader{}, err
		}
		return ManifestHeader{Version: m.Version, Space: m.Space, Empty: m.Empty()}, nil
	}
	if h.Version > ManifestVersion {
		return ManifestHeader{}, quarry.Errorf(quarry.CodeConflict, "manifest %s has format version %d; this Quarry reads up to %d", path, h.Version, ManifestVersion)
	}
	h.Version = ManifestVersion
	return h, nil
}

// readHeader decodes the manifest object's fields up to its documents.
// whole is true when the documents come before the version or the
// space, so that the caller must load the manifest whole to learn them.
func readHeader(dec *json.Decoder) (h ManifestHeader, whole bool, err error) {
	if err := expectDelim(dec, '{'); err != nil {
		return h, false, err
	}
	h.Empty = true
	space, version := false, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h, false, err
		}
		key, _ := tok.(string)
		// Keys match without regard to case, as json.Unmarshal's do.
		switch strings.ToLower(key) {
		case "version":
			err, version = dec.Decode(&h.Version), true
		case "space":
			err, space = dec.Decode(&h.Space), true
		case "docs":
			if !space || !version {
				return h, true, nil
			}
			tok, err := dec.Token()
			if err != nil {
				return h, false, err
			}
			switch tok {
			case nil: // null
				continue
			case json.Delim('{'):
				tok, err := dec.Token()
				if err != nil {
					return h, false, err
				}
				if _, ok := tok.(string); ok {
					h.Empty = false
					return h, false, nil // the documents themselves are not read
				}
				if tok != json.Delim('}') {
					return h, false, fmt.Errorf("docs: unexpected %v", tok)
				}
				continue
			default:
				return h, false, fmt.Errorf("docs is %v, not an object", tok)
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return h, false, fmt.Errorf("%s: %w", key, err)
		}
	}
	return h, false, expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("unexpected %v, want %v", tok, d)
	}
	return nil
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
