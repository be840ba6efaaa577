package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
	// builtinHelpCenter names the sample corpus quarry demo ingests.
	builtinHelpCenter = "builtin:helpcenter"
)

type sourcesRecord struct {
	// Source is an absolute folder path or builtinHelpCenter.
	Source   string    `json:"source"`
	Recorded time.Time `json:"recorded"`
}

func recordSource(d *gen.Dir, src string) error {
	return writeJSONFile(filepath.Join(d.Root(), sourcesFile), sourcesRecord{Source: src, Recorded: time.Now().UTC()})
}

// recordedSource returns the source recorded for the knowledge base in d.
func recordedSource(d *gen.Dir) (string, error) {
	b, err := os.ReadFile(filepath.Join(d.Root(), sourcesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", quarry.Errorf(quarry.CodeNotFound,
			"no source is recorded for %s: run quarry ingest SOURCE_DIR (or quarry demo) once, or name the folder: quarry reindex SOURCE_DIR", d.Root())
	}
	if err != nil {
		return "", quarry.Errorf(quarry.CodeUnavailable, "read %s: %w", sourcesFile, err)
	}
	var r sourcesRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Source == "" {
		return "", quarry.Errorf(quarry.CodeInvalid, "%s is corrupt; name the folder: quarry reindex SOURCE_DIR", filepath.Join(d.Root(), sourcesFile))
	}
	return r.Source, nil
}

// openSource opens a recorded source.
func openSource(src string) (fs.FS, error) {
	if src == builtinHelpCenter {
		return corpora.HelpCenter(), nil
	}
	if strings.HasPrefix(src, "builtin:") {
		return nil, quarry.Errorf(quarry.CodeInvalid, "unknown built-in source %q", src)
	}
	dir, err := sourceDir(src)
	if err != nil {
		return nil, err
	}
	return os.DirFS(dir), nil
}
