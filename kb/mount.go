package kb

import (
	"context"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/ingest"
)

// Several sources share a knowledge base by each owning a prefix: a
// source's folder is mounted at its prefix (so its documents' paths, and
// the ids derived from them, start with it), and the sync sees only the
// documents under that prefix, so it never removes another source's.

// mount returns fsys as seen from a root that holds it at prefix.
func mount(fsys fs.FS, prefix string) fs.FS { return mountFS{fsys: fsys, prefix: prefix} }

type mountFS struct {
	fsys   fs.FS
	prefix string
}

// inner maps name to a name in fsys; ok is false for the directories
// leading to the prefix and for names elsewhere (dir tells which).
func (m mountFS) inner(name string) (rest string, ok, dir bool) {
	switch {
	case name == m.prefix:
		return ".", true, false
	case strings.HasPrefix(name, m.prefix+"/"):
		return name[len(m.prefix)+1:], true, false
	case name == "." || strings.HasPrefix(m.prefix, name+"/"):
		return "", false, true
	}
	return "", false, false
}

// child is the entry under ancestor directory name on the way to the
// prefix.
func (m mountFS) child(name string) string {
	rest := m.prefix
	if name != "." {
		rest = m.prefix[len(name)+1:]
	}
	first, _, _ := strings.Cut(rest, "/")
	return first
}

func (m mountFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	rest, ok, dir := m.inner(name)
	switch {
	case ok:
		return m.fsys.Open(rest)
	case dir:
		return &ancestorDir{name: path.Base(name), entry: m.child(name)}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (m mountFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	rest, ok, dir := m.inner(name)
	switch {
	case ok:
		return fs.ReadDir(m.fsys, rest)
	case dir:
		return []fs.DirEntry{fs.FileInfoToDirEntry(dirInfo(m.child(name)))}, nil
	}
	return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
}

func (m mountFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	rest, ok, dir := m.inner(name)
	switch {
	case ok:
		return fs.Stat(m.fsys, rest)
	case dir:
		return dirInfo(path.Base(name)), nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// ancestorDir is an open directory on the way to the prefix.
type ancestorDir struct {
	name, entry string
	read        bool
}

func (d *ancestorDir) Stat() (fs.FileInfo, error) { return dirInfo(d.name), nil }
func (d *ancestorDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: fs.ErrInvalid}
}
func (d *ancestorDir) Close() error { return nil }
func (d *ancestorDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.read {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	d.read = true
	return []fs.DirEntry{fs.FileInfoToDirEntry(dirInfo(d.entry))}, nil
}

type dirInfo string

func (i dirInfo) Name() string     { return string(i) }
func (dirInfo) Size() int64        { return 0 }
func (dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (dirInfo) ModTime() time.Time { return time.Time{} }
func (dirInfo) IsDir() bool        { return true }
func (dirInfo) Sys() any           { return nil }
func (i dirInfo) String() string   { return fs.FormatFileInfo(i) }

var _ fs.ReadDirFile = (*ancestorDir)(nil)

// filterSink shows a sync only the documents whose paths it keeps: those
// under one prefix (a sync of a prefixed source), or those outside every
// mounted prefix (a sync of the root source).
type filterSink struct {
	ingest.Sink
	keep func(path string) bool
}

// underPrefix keeps the documents under prefix (with its trailing slash).
func underPrefix(sink ingest.Sink, prefix string) filterSink {
	return filterSink{sink, func(p string) bool { return strings.HasPrefix(p, prefix) }}
}

// outsidePrefixes keeps the documents under none of prefixes (each with
// its trailing slash).
func outsidePrefixes(sink ingest.Sink, prefixes []string) filterSink {
	return filterSink{sink, func(p string) bool {
		return !slices.ContainsFunc(prefixes, func(x string) bool { return strings.HasPrefix(p, x) })
	}}
}

func (s filterSink) Paths() []string {
	var out []string
	for _, p := range s.Sink.Paths() {
		if s.keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// PutBatch passes batches on (see ingest.BatchSink).
func (s filterSink) PutBatch(ctx context.Context, docs []quarry.Document, chunks [][]quarry.Chunk) error {
	return ingest.PutBatch(ctx, s.Sink, docs, chunks)
}

// EmbeddedChunks passes on the count of the sink it wraps.
func (s filterSink) EmbeddedChunks() int64 {
	if c, ok := s.Sink.(ingest.EmbedCounter); ok {
		return c.EmbeddedChunks()
	}
	return 0
}

// unionFS is the tree of a rebuild from several sources: the source of
// the root (if any), with the others mounted at their prefixes, which
// hide what the root source has there.
type unionFS struct {
	root   fs.FS // nil when no source has the prefix ""
	mounts []mountFS
}

// route finds which tree holds name: a mount (ok), the directories
// leading to mounts (ancestor, with the entries the mounts add), or the
// root source.
func (u unionFS) route(name string) (fsys fs.FS, rest string, ancestor bool, extra []string) {
	for _, m := range u.mounts {
		r, ok, dir := m.inner(name)
		if ok {
			return m.fsys, r, false, nil
		}
		if dir {
			ancestor = true
			extra = append(extra, m.child(name))
		}
	}
	return u.root, name, ancestor, extra
}

func (u unionFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	fsys, rest, ancestor, _ := u.route(name)
	if ancestor {
		ents, err := u.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &unionDir{name: path.Base(name), ents: ents}, nil
	}
	if fsys == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return fsys.Open(rest)
}

func (u unionFS) ReadDir(name string) ([]fs.DirEntry, error) {
	fsys, rest, ancestor, extra := u.route(name)
	if !ancestor {
		if fsys == nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
		}
		return fs.ReadDir(fsys, rest)
	}
	var ents []fs.DirEntry
	if u.root != nil {
		ents, _ = fs.ReadDir(u.root, name) // the root source may not have it
	}
	for _, x := range extra {
		ents = slices.DeleteFunc(ents, func(e fs.DirEntry) bool { return e.Name() == x })
		ents = append(ents, fs.FileInfoToDirEntry(dirInfo(x)))
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return slices.CompactFunc(ents, func(a, b fs.DirEntry) bool { return a.Name() == b.Name() }), nil
}

func (u unionFS) Stat(name string) (fs.FileInfo, error) {
	fsys, rest, ancestor, _ := u.route(name)
	if ancestor {
		return dirInfo(path.Base(name)), nil
	}
	if fsys == nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return fs.Stat(fsys, rest)
}

// unionDir is an open directory of a unionFS that leads to a mount.
type unionDir struct {
	name string
	ents []fs.DirEntry
}

func (d *unionDir) Stat() (fs.FileInfo, error) { return dirInfo(d.name), nil }
func (d *unionDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: fs.ErrInvalid}
}
func (d *unionDir) Close() error { return nil }
func (d *unionDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		ents := d.ents
		d.ents = nil
		return ents, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	ents := d.ents[:n]
	d.ents = d.ents[n:]
	return ents, nil
}

// ReadLink and Lstat let the sync resolve symbolic links inside the
// mounted folder (and refuse those that leave it).
func (m mountFS) ReadLink(name string) (string, error) {
	rest, ok, _ := m.inner(name)
	if !ok {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return fs.ReadLink(m.fsys, rest)
}

func (m mountFS) Lstat(name string) (fs.FileInfo, error) {
	rest, ok, dir := m.inner(name)
	switch {
	case ok:
		return fs.Lstat(m.fsys, rest)
	case dir:
		return m.Stat(name)
	}
	return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
}
