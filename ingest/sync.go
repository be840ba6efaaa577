package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quarry-kb/quarry"
)

// Sink is what Sync needs from the index side. Sync calls Hash and Paths
// before any work starts and Put and Remove from one goroutine, so an
// implementation needs no locking for Sync's sake. index.Writer
// implements it.
type Sink interface {
	// Hash returns the content hash recorded for a path, if it is known.
	Hash(path string) (hash string, ok bool)
	// Paths lists every known path.
	Paths() []string
	// Put indexes a document with its chunks, replacing any chunks the
	// document had before.
	Put(ctx context.Context, doc quarry.Document, chunks []quarry.Chunk) error
	// Remove drops a document and its chunks.
	Remove(ctx context.Context, path string) error
}

// EmbedCounter is implemented by sinks that embed chunks; Sync reports
// the difference over a run as Summary.ChunksEmbedded.
type EmbedCounter interface {
	EmbeddedChunks() int64
}

// DefaultMaxFileSize is the largest file Sync reads by default.
const DefaultMaxFileSize = 64 << 20

// Options tune Sync. The zero value means defaults.
type Options struct {
	Chunk       ChunkConfig
	Progress    func(Progress) // called after each file, from one goroutine; may be nil
	MaxFileSize int64          // larger files are skipped; 0 means 64 MiB
	Workers     int            // files parsed at once; 0 means runtime.NumCPU()
	BatchChunks int            // chunks per batch to a BatchSink; 0 means DefaultBatchChunks
}

// Progress reports how far a sync has got.
type Progress struct {
	Done, Total int    // files handled so far, files found
	Path        string // the file just handled
}

// Skip is a file that was not ingested, with the reason.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Summary is what a sync did.
type Summary struct {
	Files          int           `json:"files"` // files found (hidden ones excluded)
	Added          int           `json:"added"`
	Updated        int           `json:"updated"`
	Unchanged      int           `json:"unchanged"`
	Removed        int           `json:"removed"` // documents dropped: file gone, or now unparseable
	Chunks         int           `json:"chunks"`  // chunks written this run
	ChunksEmbedded int           `json:"chunks_embedded"`
	Skipped        []Skip        `json:"skipped,omitempty"`
	Duration       time.Duration `json:"duration_ns"`
}

// String is a readable multi-line report naming every skipped file.
func (s Summary) String() string {
	var b strings.Builder
	_ = s.Write(&b)
	return b.String()
}

// Write writes the report of String to w.
func (s Summary) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Synced %d %s in %s: %d added, %d updated, %d unchanged, %d removed, %d skipped.\n",
		s.Files, plural(s.Files, "file", "files"), s.Duration.Round(time.Millisecond),
		s.Added, s.Updated, s.Unchanged, s.Removed, len(s.Skipped))
	fmt.Fprintf(&b, "Wrote %d %s, embedded %d %s.\n", s.Chunks, plural(s.Chunks, "chunk", "chunks"),
		s.ChunksEmbedded, plural(s.ChunksEmbedded, "chunk", "chunks"))
	if len(s.Skipped) > 0 {
		b.WriteString("Skipped:\n")
		for _, sk := range s.Skipped {
			fmt.Fprintf(&b, "  %s: %s\n", sk.Path, sk.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// DocID returns the stable id of the document at a slash-separated path:
// the first 16 hex digits of the SHA-256 of the path.
func DocID(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:8])
}

// Sync brings sink in step with the files of fsys: new and changed files
// are parsed, chunked and put (in parallel), files whose hash is
// unchanged are left alone, and documents whose file disappeared (or no
// longer parses) are removed. Hidden files and directories (names
// starting with ".") are ignored. A file that cannot be ingested is a
// Skip in the summary, not an error.
//
// Sync returns an error only when the folder cannot be walked at all, the
// sink fails or ctx ends; the summary then tells what was done, and every
// document the sink acknowledged stays consistent.
func Sync(ctx context.Context, fsys fs.FS, sink Sink, opts Options) (Summary, error) {
	start := time.Now()
	var sum Summary
	chunker, err := NewChunker(opts.Chunk)
	if err != nil {
		return sum, err
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}

	files, walkSkips, badDirs, err := walk(ctx, fsys)
	if err != nil {
		return sum, err
	}
	sum.Files = len(files)
	sum.Skipped = walkSkips
	known := map[string]string{}
	for _, p := range sink.Paths() {
		h, _ := sink.Hash(p)
		known[p] = h
	}
	var embedded0 int64
	counter, counts := sink.(EmbedCounter)
	if counts {
		embedded0 = counter.EmbeddedChunks()
	}

	err = process(ctx, fsys, files, known, chunker, opts, sink, &sum)
	if err == nil {
		err = removeGone(ctx, files, known, badDirs, sink, &sum)
	}
	if counts {
		sum.ChunksEmbedded = int(counter.EmbeddedChunks() - embedded0)
	}
	slices.SortFunc(sum.Skipped, func(a, b Skip) int { return strings.Compare(a.Path, b.Path) })
	sum.Duration = time.Since(start)
	return sum, err
}

type file struct {
	path string
	info fs.FileInfo
}

// walk lists the regular, non-hidden files of fsys in lexical order.
// Directories that cannot be read are skips (and listed in badDirs so
// that their known documents are not taken for deleted).
func walk(ctx context.Context, fsys fs.FS) (files []file, skips []Skip, badDirs []string, err error) {
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			if p == "." {
				return err
			}
			skips = append(skips, Skip{p, "unreadable: " + errText(err)})
			if d == nil || d.IsDir() {
				badDirs = append(badDirs, p)
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := fs.Stat(fsys, p) // follows a symlink to its target
		if err != nil {
			skips = append(skips, Skip{p, "unreadable: " + errText(err)})
			return nil
		}
		switch {
		case info.IsDir():
			skips = append(skips, Skip{p, "symbolic link to a directory (not followed)"})
		case !info.Mode().IsRegular():
			skips = append(skips, Skip{p, "not a regular file"})
		default:
			files = append(files, file{p, info})
		}
		return nil
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = fmt.Errorf("sync: %w", ctx.Err())
	case errors.Is(err, fs.ErrNotExist):
		err = quarry.Errorf(quarry.CodeNotFound, "source folder: %w", err)
	default:
		err = quarry.Errorf(quarry.CodeInvalid, "source folder: %w", err)
	}
	return files, skips, badDirs, err
}

// errText drops the "open <path>: " prefix of an fs error; the path is
// printed next to the reason anyway.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// outcome is what a worker made of one file.
type outcome struct {
	path      string
	unchanged bool
	skip      string // reason; "" when the file was parsed
	stale     bool   // the skipped file's old version should be dropped
	added     bool
	doc       quarry.Document
	chunks    []quarry.Chunk
}

// process parses files in parallel and applies the outcomes to sink in
// the order they finish, in batches (see applyAll).
func process(ctx context.Context, fsys fs.FS, files []file, known map[string]string,
	chunker *Chunker, opts Options, sink Sink, sum *Summary) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Buffered, so that workers go on parsing while a batch is written.
	results := make(chan outcome, 2*opts.Workers)
	applied := make(chan error, 1)
	go func() { applied <- applyAll(ctx, cancel, results, len(files), known, opts, sink, sum) }()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	for _, f := range files {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			o := ingestFile(fsys, f, known, chunker, opts.MaxFileSize)
			select {
			case results <- o:
				return nil
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		})
	}
	werr := g.Wait()
	close(results)
	if err := <-applied; err != nil {
		return err
	}
	if werr != nil || ctx.Err() != nil {
		return fmt.Errorf("sync: %w", context.Cause(ctx))
	}
	return nil
}

// ingestFile reads, hashes, parses and chunks one file.
func ingestFile(fsys fs.FS, f file, known map[string]string, chunker *Chunker, maxSize int64) outcome {
	o := outcome{path: f.path}
	if TypeOf(f.path) == "" {
		_, err := ParseFile(f.path, nil)
		o.skip, o.stale = err.Error(), true
		return o
	}
	if f.info.Size() > maxSize {
		o.skip = fmt.Sprintf("file too large (%s, the limit is %s)", byteSize(f.info.Size()), byteSize(maxSize))
		o.stale = true
		return o
	}
	data, err := fs.ReadFile(fsys, f.path)
	if err != nil {
		o.skip = "unreadable: " + errText(err) // the old version, if any, is kept
		return o
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	old, ok := known[f.path]
	if ok && old == hash {
		o.unchanged = true
		return o
	}
	p, err := ParseFile(f.path, data)
	if err != nil {
		o.skip, o.stale = err.Error(), true
		return o
	}
	o.added = !ok
	o.doc = quarry.Document{
		ID:      DocID(f.path),
		Path:    f.path,
		Title:   p.Title,
		Type:    p.Type,
		Lang:    p.Lang,
		Hash:    hash,
		Size:    int64(len(data)),
		ModTime: f.info.ModTime(),
	}
	o.chunks = chunker.Chunk(o.doc, p)
	return o
}

func apply(ctx context.Context, o outcome, known map[string]string, sink Sink, sum *Summary) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", context.Cause(ctx))
	}
	switch {
	case o.unchanged:
		sum.Unchanged++
	case o.skip != "":
		sum.Skipped = append(sum.Skipped, Skip{o.path, o.skip})
		if _, ok := known[o.path]; ok && o.stale {
			// The file is still there but no longer yields text: its old
			// chunks would answer questions with text that is gone.
			if err := sink.Remove(ctx, o.path); err != nil {
				return fmt.Errorf("sync: remove %s: %w", o.path, err)
			}
			sum.Removed++
		}
	default:
		if err := sink.Put(ctx, o.doc, o.chunks); err != nil {
			return fmt.Errorf("sync: put %s: %w", o.path, err)
		}
		count(o, sum)
	}
	return nil
}

// removeGone removes the documents whose files are no longer in the
// folder (leaving those under directories that could not be read).
func removeGone(ctx context.Context, files []file, known map[string]string, badDirs []string, sink Sink, sum *Summary) error {
	present := make(map[string]bool, len(files))
	for _, f := range files {
		present[f.path] = true
	}
	for _, s := range sum.Skipped {
		present[s.Path] = true // still there, handled above
	}
	gone := make([]string, 0)
	for p := range known {
		if !present[p] && !under(p, badDirs) {
			gone = append(gone, p)
		}
	}
	slices.Sort(gone)
	for _, p := range gone {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		if err := sink.Remove(ctx, p); err != nil {
			return fmt.Errorf("sync: remove %s: %w", p, err)
		}
		sum.Removed++
	}
	return nil
}

func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
