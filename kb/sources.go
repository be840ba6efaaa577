package kb

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/index/gen"
)

// A knowledge base remembers where its documents come from, so that
// quarry reindex (and the server's scheduled rebuilds) can rebuild it
// from scratch.
const (
	sourcesFile = "sources.json" // in the knowledge base's root, beside state.json
	// BuiltinHelpCenter names the sample corpus quarry demo ingests.
	BuiltinHelpCenter = "builtin:helpcenter"
)

// Source is a folder whose documents a knowledge base holds.
type Source struct {
	// Path is an absolute folder path or BuiltinHelpCenter.
	Path string `json:"path"`
	// Prefix is where the folder's documents sit in the knowledge base
	// ("" for its root): a document docs/a.md of a source with prefix
	// "en" is "en/docs/a.md".
	Prefix string `json:"prefix,omitempty"`
	// Exclude holds the --exclude patterns (gitignore syntax, relative to
	// the folder) the source was ingested with; rebuilds apply them again.
	Exclude []string `json:"exclude,omitempty"`
	// FollowSymlinks records that the source was ingested following
	// symbolic links out of the folder.
	FollowSymlinks bool      `json:"follow_symlinks,omitempty"`
	Recorded       time.Time `json:"recorded"`
}

// sourcesJSON is the content of sources.json. Source and Recorded are
// the format of a single source written by earlier versions.
type sourcesJSON struct {
	Source   string    `json:"source,omitempty"`
	Recorded time.Time `json:"recorded,omitzero"`
	Sources  []Source  `json:"sources,omitempty"`
}

// recordSource records src, replacing the source of the same prefix.
func recordSource(d *gen.Dir, src Source) error {
	have, err := loadSources(d)
	if err != nil && !errors.Is(err, quarry.ErrNotFound) {
		have = nil // a corrupt file is replaced
	}
	have = slices.DeleteFunc(have, func(s Source) bool { return s.Prefix == src.Prefix })
	src.Recorded = time.Now().UTC()
	have = append(have, src)
	slices.SortFunc(have, func(a, b Source) int { return strings.Compare(a.Prefix, b.Prefix) })
	return writeJSONFile(filepath.Join(d.Root(), sourcesFile), sourcesJSON{Sources: have})
}

// loadSources returns the sources recorded for the knowledge base in d.
func loadSources(d *gen.Dir) ([]Source, error) {
	b, err := os.ReadFile(filepath.Join(d.Root(), sourcesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, quarry.Errorf(quarry.CodeNotFound,
			"no source is recorded for %s: run quarry ingest SOURCE_DIR (or quarry demo) once, or name the folder: quarry reindex SOURCE_DIR", d.Root())
	}
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeUnavailable, "read %s: %w", sourcesFile, err)
	}
	var r sourcesJSON
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "%s is corrupt; name the folder: quarry reindex SOURCE_DIR", filepath.Join(d.Root(), sourcesFile))
	}
	if r.Source != "" {
		r.Sources = append(r.Sources, Source{Path: r.Source, Recorded: r.Recorded})
	}
	if len(r.Sources) == 0 || slices.ContainsFunc(r.Sources, func(s Source) bool { return s.Path == "" }) {
		return nil, quarry.Errorf(quarry.CodeInvalid, "%s is corrupt; name the folder: quarry reindex SOURCE_DIR", filepath.Join(d.Root(), sourcesFile))
	}
	return r.Sources, nil
}

// OpenSource opens a recorded source.
func OpenSource(src string) (fs.FS, error) {
	if src == BuiltinHelpCenter {
		return corpora.HelpCenter(), nil
	}
	if strings.HasPrefix(src, "builtin:") {
		return nil, quarry.Errorf(quarry.CodeInvalid, "unknown built-in source %q", src)
	}
	dir, err := SourceDir(src)
	if err != nil {
		return nil, err
	}
	return os.DirFS(dir), nil
}

// SourceDir returns the absolute path of a documents folder, which must
// be a readable directory.
func SourceDir(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, "source %q: %w", src, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", quarry.Errorf(quarry.CodeInvalid, "source %q is not a readable directory", src)
	}
	return abs, nil
}
