package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
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

	// Parse parses one file; nil means ParseFile in this process. A
	// deployment sets it to a parse worker (package ingest/sandbox) so
	// that a hostile file cannot hang or exhaust the process.
	Parse func(ctx context.Context, path string, data []byte) (Parsed, error)
	// Failures, when set, remembers files whose parse failed by content
	// hash, so that they are not parsed again while they are unchanged.
	// The caller saves it after the sync.
	Failures *Failures
	// Exclude lists patterns in .gitignore syntax, relative to the
	// folder, of files and directories to leave out (besides those of
	// the .quarryignore files in the folder).
	Exclude []string
	// ExcludeIn lists more such patterns by the folder below which they
	// apply, a slash path relative to the folder ("" for the folder
	// itself): the --exclude patterns of a source mounted there. They
	// are relative to that folder, as a .quarryignore file's in it would
	// be, and stop at the folder of a deeper key (another source).
	ExcludeIn map[string][]string
	// FollowSymlinks follows symbolic links to files outside the folder.
	// By default they are skipped: a link must not publish a file the
	// folder's owner did not put there (links/passwd -> /etc/passwd).
	FollowSymlinks bool
	// Root is the absolute path of the folder, when fsys is one (os.DirFS);
	// it lets an absolute symbolic link into the folder count as inside.
	Root string
}

// Progress reports how far a sync has got.
type Progress struct {
	Done, Total int    // files handled so far, files found
	Path        string // the file just handled
}

// Skip is a file (or a directory, its path ending in "/") that was not
// ingested, with the reason and its kind (one of the Kind constants).
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Kind   string `json:"kind"`
}

// Summary is what a sync did.
type Summary struct {
	Files          int            `json:"files"` // entries found: added+updated+unchanged+skipped
	Added          int            `json:"added"`
	Updated        int            `json:"updated"`
	Unchanged      int            `json:"unchanged"`
	Removed        int            `json:"removed"` // documents dropped: file gone, or now unparseable
	Chunks         int            `json:"chunks"`  // chunks written this run
	ChunksEmbedded int            `json:"chunks_embedded"`
	Skipped        []Skip         `json:"skipped,omitempty"`
	SkippedByKind  map[string]int `json:"skipped_by_kind,omitempty"`
	Duration       time.Duration  `json:"duration_ns"`
}

// String is a readable multi-line report: counts of skipped files by
// kind, naming the files of the kinds that need attention.
func (s Summary) String() string {
	var b strings.Builder
	_ = s.Report(&b, false)
	return b.String()
}

// Write writes the report of String to w.
func (s Summary) Write(w io.Writer) error { return s.Report(w, false) }

// quietKinds are skips that are routine (a folder holds other files):
// the report counts them but names them only when verbose.
var quietKinds = map[string]bool{
	KindUnsupported: true, KindHidden: true, KindIgnored: true, KindLinkDir: true, KindNotRegular: true,
}

// maxNamed is how many files of one kind a non-verbose report names.
const maxNamed = 20

// Report writes the summary to w; verbose names every skipped file.
func (s Summary) Report(w io.Writer, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Synced %d %s in %s: %d added, %d updated, %d unchanged, %d skipped; %d removed.\n",
		s.Files, plural(s.Files, "file", "files"), s.Duration.Round(time.Millisecond),
		s.Added, s.Updated, s.Unchanged, len(s.Skipped), s.Removed)
	fmt.Fprintf(&b, "Wrote %d %s, embedded %d %s.\n", s.Chunks, plural(s.Chunks, "chunk", "chunks"),
		s.ChunksEmbedded, plural(s.ChunksEmbedded, "chunk", "chunks"))
	if len(s.Skipped) > 0 {
		byKind := map[string][]Skip{}
		for _, sk := range s.Skipped {
			byKind[sk.Kind] = append(byKind[sk.Kind], sk)
		}
		kinds := slices.Sorted(maps.Keys(byKind))
		b.WriteString("Skipped:\n")
		for _, k := range kinds {
			sks := byKind[k]
			name := k
			if name == "" {
				name = "other"
			}
			fmt.Fprintf(&b, "  %s: %d\n", name, len(sks))
			if quietKinds[k] && !verbose {
				continue
			}
			for i, sk := range sks {
				if i == maxNamed && !verbose {
					fmt.Fprintf(&b, "    ... and %d more (--verbose lists them)\n", len(sks)-i)
					break
				}
				fmt.Fprintf(&b, "    %s: %s\n", sk.Path, sk.Reason)
			}
		}
		if !verbose {
			for _, k := range kinds {
				if quietKinds[k] {
					b.WriteString("(--verbose lists every skipped file)\n")
					break
				}
			}
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

	files, walkSkips, badDirs, err := walk(ctx, fsys, opts)
	if err != nil {
		return sum, err
	}
	sum.Files = len(files) + len(walkSkips)
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

	hashes := make([]string, len(files)) // content hashes of the files read, for opts.Failures
	err = process(ctx, fsys, files, known, chunker, opts, sink, &sum, hashes)
	if err == nil {
		err = removeGone(ctx, files, walkSkips, known, badDirs, sink, &sum)
	}
	if counts {
		sum.ChunksEmbedded = int(counter.EmbeddedChunks() - embedded0)
	}
	slices.SortFunc(sum.Skipped, func(a, b Skip) int { return strings.Compare(a.Path, b.Path) })
	if len(sum.Skipped) > 0 {
		sum.SkippedByKind = map[string]int{}
		for _, sk := range sum.Skipped {
			sum.SkippedByKind[sk.Kind]++
		}
	}
	if err == nil {
		seen := map[string]bool{}
		for _, h := range hashes {
			seen[h] = true
		}
		opts.Failures.keep(seen)
	}
	sum.Duration = time.Since(start)
	return sum, err
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
	kind      string // the skip's kind
	stale     bool   // the skipped file's old version should be dropped
	added     bool
	doc       quarry.Document
	chunks    []quarry.Chunk
}

// process parses files in parallel and applies the outcomes to sink in
// the order they finish, in batches (see applyAll).
func process(ctx context.Context, fsys fs.FS, files []file, known map[string]string,
	chunker *Chunker, opts Options, sink Sink, sum *Summary, hashes []string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Buffered, so that workers go on parsing while a batch is written.
	results := make(chan outcome, 2*opts.Workers)
	applied := make(chan error, 1)
	go func() { applied <- applyAll(ctx, cancel, results, len(files), known, opts, sink, sum) }()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	for i, f := range files {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			o := ingestFile(gctx, fsys, f, known, chunker, opts, &hashes[i])
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

// ingestFile reads, hashes, parses and chunks one file; it stores the
// content hash in *hash.
func ingestFile(ctx context.Context, fsys fs.FS, f file, known map[string]string, chunker *Chunker, opts Options, hash *string) outcome {
	o := outcome{path: f.path}
	skip := func(err error) outcome {
		o.skip, o.kind, o.stale = err.Error(), SkipKind(err), true
		return o
	}
	if TypeOf(f.path) == "" {
		_, err := ParseFile(f.path, nil)
		return skip(err)
	}
	if f.info.Size() > opts.MaxFileSize {
		o.skip = fmt.Sprintf("file too large (%s, the limit is %s)", byteSize(f.info.Size()), byteSize(opts.MaxFileSize))
		o.kind, o.stale = KindTooLarge, true
		return o
	}
	data, err := fs.ReadFile(fsys, f.read)
	if err != nil {
		o.skip, o.kind = "unreadable: "+errText(err), KindUnreadable // the old version, if any, is kept
		return o
	}
	sum := sha256.Sum256(data)
	*hash = hex.EncodeToString(sum[:])
	old, ok := known[f.path]
	if ok && old == *hash {
		o.unchanged = true
		return o
	}
	if r, failed := opts.Failures.lookup(*hash); failed {
		o.skip, o.kind, o.stale = r.Reason+" (remembered: the file is not parsed again until it changes)", r.Kind, true
		return o
	}
	parse := opts.Parse
	if parse == nil {
		parse = func(_ context.Context, path string, data []byte) (Parsed, error) { return ParseFile(path, data) }
	}
	p, err := parse(ctx, f.path, data)
	if err != nil {
		if ctx.Err() == nil {
			opts.Failures.record(*hash, SkipKind(err), err.Error())
		}
		return skip(err)
	}
	o.added = !ok
	o.doc = quarry.Document{
		ID:      DocID(f.path),
		Path:    f.path,
		Title:   p.Title,
		Type:    p.Type,
		Lang:    p.Lang,
		Hash:    *hash,
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
		sum.Skipped = append(sum.Skipped, Skip{o.path, o.skip, o.kind})
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
func removeGone(ctx context.Context, files []file, walkSkips []Skip, known map[string]string, badDirs []string, sink Sink, sum *Summary) error {
	present := make(map[string]bool, len(files))
	for _, f := range files {
		present[f.path] = true // handled above
	}
	for _, s := range walkSkips {
		if s.Kind == KindUnreadable {
			present[s.Path] = true // still there, but could not be read this time
		}
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
