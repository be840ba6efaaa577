package kb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
)

// BuildOptions choose how a generation is built.
type BuildOptions struct {
	// Fresh builds from nothing instead of starting from the serving
	// generation (a full rebuild; also how the embedder or the vector
	// store is changed).
	Fresh  bool
	Reason string // "ingest" by default; recorded in the generation's info
	// Source names where the documents come from (an absolute path, or
	// BuiltinHelpCenter); it is recorded in the knowledge base after a
	// successful build, for rebuilds. "" records nothing.
	Source string
	// Prefix places the documents under this path in the knowledge base
	// and limits the build to it: documents under other prefixes (other
	// sources) are kept as they are. "" is the whole knowledge base.
	Prefix string
	// Exclude lists patterns (gitignore syntax, relative to the source
	// folder) of files to leave out, besides the Manager's
	// Config.Ingest.Exclude and the folder's .quarryignore files. They
	// are recorded with the source, so rebuilds leave the same files out.
	Exclude []string
	// FollowSymlinks follows symbolic links out of the folder (besides
	// Config.Ingest.FollowSymlinks); recorded with the source.
	FollowSymlinks bool
	// Strict fails the build when a file of the source cannot be read or
	// the source holds no document, rather than switching to an index
	// that silently lacks them. Rebuilds are strict.
	Strict bool
	// Gate, when set, must pass before the new generation is switched to.
	Gate *Gate
	// except lists the prefixes of other sources, with trailing
	// slashes, which an ingest of the root source leaves alone.
	except []string
	// sources, on a rebuild, are the recorded sources being rebuilt:
	// their exclusions apply below their prefixes.
	sources []Source
	// require is the path of a document the build must ingest: one it
	// skips fails the build (a document sent over the API).
	require string
	// Create makes the knowledge base if it does not exist (quarry
	// ingest into a new name); otherwise a missing one is
	// quarry.ErrNotFound. The default knowledge base is always created.
	Create bool
}

// Ingest syncs fsys into a new generation of knowledge base name and
// switches serving to it. On any failure the serving generation is left
// untouched and the half-built one removed. The state returned is the
// one switched to; it is zero when nothing changed.
func (m *Manager) Ingest(ctx context.Context, name string, fsys fs.FS, b BuildOptions) (ingest.Summary, gen.State, error) {
	if err := ValidateName(name); err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	if !m.Exists(name) && !b.Create && name != Default {
		return ingest.Summary{}, gen.State{}, errNoKB(name)
	}
	if b.Prefix != "" {
		p, err := CleanPrefix(b.Prefix)
		if err != nil {
			return ingest.Summary{}, gen.State{}, err
		}
		b.Prefix = p
	}
	d, err := m.dir(name)
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	if b.Prefix == "" {
		srcs, _ := loadSources(d)
		for _, s := range srcs {
			if s.Prefix != "" {
				b.except = append(b.except, s.Prefix+"/")
			}
		}
	}
	w, err := d.Lock()
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	defer w.Unlock()
	vb, err := m.vectors(name)
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	defer vb.Close()
	sum, st, err := m.buildLocked(ctx, name, d, w, vb, fsys, b)
	if err == nil && st.Current != "" {
		m.notify(ctx, name)
	}
	return sum, st, err
}

// CleanPrefix checks a source's prefix: a relative slash-separated path
// inside the knowledge base.
func CleanPrefix(p string) (string, error) {
	p = strings.Trim(filepath.ToSlash(p), "/")
	if p == "" {
		return "", nil
	}
	if !fs.ValidPath(p) || strings.HasPrefix(p, ".") || strings.Contains(p, "/.") {
		return "", quarry.Errorf(quarry.CodeInvalid, "invalid prefix %q: use a relative path such as en or docs/en", p)
	}
	return p, nil
}

// buildLocked builds a new generation from fsys, validates it, and
// switches to it (see publish); w must be held.
func (m *Manager) buildLocked(ctx context.Context, name string, d *gen.Dir, w *gen.Writer, vb VectorBackend, fsys fs.FS, b BuildOptions) (ingest.Summary, gen.State, error) {
	start := time.Now()
	// The writer lock removed the directories of builds abandoned by a
	// crash; drop what they left in the vector store too.
	if gens, err := d.Generations(); err == nil {
		if err := vb.Cleanup(ctx, gens); err != nil {
			m.warn("removing vectors of abandoned generations", err)
		}
	}
	cfg := m.cfg.Engine
	cfg.Vectors = vb
	emb, err := cfg.Embedder()
	if err != nil {
		return ingest.Summary{}, gen.State{}, fmt.Errorf("embedder: %w", err)
	}
	from := ""
	serving, err := d.State()
	switch {
	case err == nil && (!b.Fresh || b.Prefix != ""):
		// A fresh build of one prefix starts from the other prefixes.
		from = serving.Current
		if err := checkIncremental(d.Path(from), from, emb.Space(), vb.Kind()); err != nil {
			return ingest.Summary{}, gen.State{}, err
		}
	case err != nil && !errors.Is(err, quarry.ErrNotFound):
		return ingest.Summary{}, gen.State{}, err
	}
	g, dir, err := w.Begin(from)
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	// abandon removes the new generation, files and vectors.
	abandon := func(err error) error {
		if aerr := w.Abort(g); aerr != nil {
			err = errors.Join(err, aerr)
		}
		if gens, gerr := d.Generations(); gerr == nil {
			if cerr := vb.Cleanup(context.WithoutCancel(ctx), gens); cerr != nil {
				m.warn("removing the vectors of generation "+g, cerr)
			}
		}
		return err
	}
	if err := vb.Prepare(ctx, g, dir, from, emb.Space()); err != nil {
		return ingest.Summary{}, gen.State{}, abandon(err)
	}
	sum, info, err := m.syncGeneration(ctx, name, fsys, g, dir, d.Root(), cfg, b)
	if err != nil {
		return sum, gen.State{}, abandon(err)
	}
	if b.Strict {
		if err := checkComplete(sum, info, b.Prefix != ""); err != nil {
			return sum, gen.State{}, abandon(err)
		}
	}
	if err := requireIngested(sum, b.require); err != nil {
		return sum, gen.State{}, abandon(err)
	}
	if from != "" && sum.Added+sum.Updated+sum.Removed == 0 && !b.Fresh {
		// Nothing changed: keep serving what is there.
		if b.Source != "" {
			if err := recordSource(d, b.source()); err != nil {
				m.warn("recording the source for quarry reindex", err)
			}
		}
		return sum, gen.State{}, abandon(nil)
	}
	info.Gen = g
	info.Reason = b.Reason
	if info.Reason == "" {
		info.Reason = "ingest"
	}
	info.VectorStore = vb.Kind()
	if b.Gate != nil {
		if err := b.Gate.check(ctx, m, name, d, w, g, serving, cfg); err != nil {
			return sum, gen.State{}, abandon(err)
		}
	}
	info.BuildSeconds = time.Since(start).Seconds()
	st, err := m.publish(ctx, d, w, vb, info)
	if err != nil {
		return sum, gen.State{}, abandon(err)
	}
	if b.Source != "" {
		if err := recordSource(d, b.source()); err != nil {
			m.warn("recording the source for quarry reindex", err)
		}
	}
	return sum, st, nil
}

// checkIncremental refuses to build incrementally on the serving
// generation (in dir) when its vectors cannot be mixed with new ones:
// another embedder, or another vector store. Both need quarry reindex.
func checkIncremental(dir, g string, space index.Space, kind string) error {
	m, err := index.LoadManifest(filepath.Join(dir, ManifestFile))
	if err != nil {
		return err
	}
	if !m.Empty() && !m.Space.Equal(space) {
		return quarry.Errorf(quarry.CodeConflict,
			"the serving generation %s was built with embedder %q (dim %d) but %q (dim %d) is configured; vectors of two embedders cannot be mixed: run quarry reindex to rebuild everything with the new embedder",
			g, m.Space.Embedder, m.Space.Dim, space.Embedder, space.Dim)
	}
	r, err := ReadVectorsRecord(dir)
	if err != nil {
		return err
	}
	if r.Store != kind {
		return quarry.Errorf(quarry.CodeConflict,
			"the serving generation %s keeps its vectors in the %s store but the %s store is configured: run quarry reindex to rebuild into the %s store",
			g, r.Store, kind, kind)
	}
	return nil
}

// checkComplete fails a strict build that could not read every file of
// its source, or found no document at all (a folder that went missing
// or empty must not replace a good index with an empty one). partial is
// set when the build covered one prefix of several.
func checkComplete(sum ingest.Summary, info gen.Info, partial bool) error {
	var unreadable []string
	for _, sk := range sum.Skipped {
		// files it could not read, as opposed to files it cannot parse
		if sk.Kind == ingest.KindUnreadable {
			unreadable = append(unreadable, sk.Path+": "+sk.Reason)
		}
	}
	if len(unreadable) > 0 {
		return quarry.Errorf(quarry.CodeUnavailable, "the source could not be read completely (%d %s): %s",
			len(unreadable), plural(len(unreadable), "file", "files"), strings.Join(unreadable[:min(3, len(unreadable))], "; "))
	}
	got := sum.Added + sum.Updated + sum.Unchanged
	if !partial && got != info.Documents {
		return quarry.Errorf(quarry.CodeInternal, "validation failed: %d documents were ingested from the source but the manifest lists %d", got, info.Documents)
	}
	if got == 0 {
		return quarry.Errorf(quarry.CodeInvalid, "the source holds no document that could be ingested (%d files found); refusing to replace the index with an empty one", sum.Files)
	}
	return nil
}

// requireIngested fails when the document at path p (if any) was
// skipped by the sync of sum.
func requireIngested(sum ingest.Summary, p string) error {
	if p == "" {
		return nil
	}
	for _, sk := range sum.Skipped {
		if sk.Path != p {
			continue
		}
		code := quarry.CodeInvalid
		if sk.Kind == ingest.KindUnsupported {
			code = quarry.CodeUnsupported
		}
		return quarry.Errorf(code, "document %q was not ingested (%s): %s", p, sk.Kind, scrubPaths(sk.Reason))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// publish makes generation info.Gen the serving one. The vector backend
// publishes it first (Qdrant: the alias quarry_<kb> is switched), then
// state.json is replaced in one atomic rename: the moment every Quarry
// reader switches. If replacing state.json fails, the alias is switched
// back. Pruning old generations afterwards is best effort.
func (m *Manager) publish(ctx context.Context, d *gen.Dir, w *gen.Writer, vb VectorBackend, info gen.Info) (gen.State, error) {
	undo, err := vb.Publish(ctx, info.Gen)
	if err != nil {
		return gen.State{}, err
	}
	st, err := w.Switch(info)
	if err != nil {
		if uerr := undo(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, fmt.Errorf("switching the %s store back: %w", vb.Kind(), uerr))
		}
		return gen.State{}, err
	}
	if _, err := w.Prune(); err != nil {
		m.warn("pruning old generations", err)
	}
	if gens, err := d.Generations(); err == nil {
		if err := vb.Cleanup(context.WithoutCancel(ctx), gens); err != nil {
			m.warn("removing the vectors of pruned generations", err)
		}
	}
	return st, nil
}

// syncGeneration runs the ingestion pipeline into generation g (in dir)
// and validates the result.
func (m *Manager) syncGeneration(ctx context.Context, name string, fsys fs.FS, g, dir, root string, cfg EngineConfig, b BuildOptions) (ingest.Summary, gen.Info, error) {
	var info gen.Info
	e, err := OpenEngine(ctx, name, g, dir, cfg)
	if err != nil {
		return ingest.Summary{}, info, err
	}
	defer e.Close()
	wr, err := index.NewWriter(index.WriterConfig{
		Keyword: e.kw, Vectors: e.vs, Embedder: e.emb,
		ManifestPath: filepath.Join(dir, ManifestFile),
	})
	if err != nil {
		return ingest.Summary{}, info, err
	}
	var sink ingest.Sink = wr
	switch {
	case b.Prefix != "":
		fsys, sink = mount(fsys, b.Prefix), underPrefix(wr, b.Prefix+"/")
	case len(b.except) > 0:
		sink = outsidePrefixes(wr, b.except)
	}
	opts := m.cfg.Ingest
	opts.Chunk, opts.Progress = m.cfg.Chunk, m.cfg.Progress
	opts.Exclude, opts.ExcludeIn = slices.Clone(opts.Exclude), nil
	excludeIn := func(prefix string, patterns []string) {
		if len(patterns) == 0 {
			return
		}
		if opts.ExcludeIn == nil {
			opts.ExcludeIn = map[string][]string{}
		}
		opts.ExcludeIn[prefix] = append(opts.ExcludeIn[prefix], patterns...)
	}
	if b.sources != nil {
		follow := true
		for _, s := range b.sources {
			excludeIn(s.Prefix, s.Exclude)
			follow = follow && s.FollowSymlinks
		}
		// Links out of the folders are followed on a rebuild only when
		// every source was ingested so (the walk has one setting).
		opts.FollowSymlinks = opts.FollowSymlinks || follow
	} else {
		excludeIn(b.Prefix, b.Exclude)
		opts.FollowSymlinks = opts.FollowSymlinks || b.FollowSymlinks
	}
	opts.Failures = ingest.LoadFailures(filepath.Join(root, ParseFailuresFile))
	opts.Root = ""
	if filepath.IsAbs(b.Source) && b.Prefix == "" {
		// Absolute symbolic links into the folder count as inside (under
		// a prefix they count as outside: they are not resolved there).
		if opts.Root, err = filepath.EvalSymlinks(b.Source); err != nil {
			opts.Root = b.Source
		}
	}
	sum, err := ingest.Sync(ctx, fsys, sink, opts)
	if err != nil {
		return sum, info, err
	}
	if err := opts.Failures.Save(); err != nil {
		m.warn("remembering the files that failed to parse", err)
	}
	if err := wr.Commit(); err != nil {
		return sum, info, err
	}
	// Validate the generation before anyone serves it: both indexes must
	// hold exactly the chunks the manifest lists.
	want := 0
	docs := wr.Documents()
	for _, d := range docs {
		want += d.Chunks
	}
	kn, err := e.kw.Count(ctx)
	if err != nil {
		return sum, info, err
	}
	vn, err := e.vs.Count(ctx)
	if err != nil {
		return sum, info, err
	}
	if kn != want || vn != want {
		return sum, info, quarry.Errorf(quarry.CodeInternal,
			"validation failed: manifest lists %d chunks, keyword index holds %d, vector store %d", want, kn, vn)
	}
	if err := e.Close(); err != nil {
		return sum, info, err
	}
	info = gen.Info{Documents: len(docs), Chunks: want, Embedder: e.emb.Space().Embedder, Built: time.Now().UTC()}
	return sum, info, nil
}

// source is the record of the build's source.
func (b BuildOptions) source() Source {
	return Source{Path: b.Source, Prefix: b.Prefix, Exclude: slices.Clone(b.Exclude), FollowSymlinks: b.FollowSymlinks}
}
