package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
)

func runIngest(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "ingest", "quarry ingest [flags] SOURCE_DIR",
		"Ingest a folder of documents (.md, .html, .txt, .pdf) into the data directory.\n"+
			"Runs are incremental: unchanged files are skipped, changed files are re-indexed and\n"+
			"files removed from the folder are removed from the index. A running server picks up\n"+
			"the result without a restart. The folder is remembered for quarry reindex.", &o, "chunk", "vectors")
	pf := providerFlags(fs, env, "embed")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	src, err := sourceDir(fs.Arg(0))
	if err != nil {
		return err
	}
	sum, err := ingestInto(ctx, env, o, os.DirFS(src), buildOptions{Source: src, engine: prov.apply(engineConfig{})})
	if err != nil {
		return err
	}
	return sum.Write(env.Stdout)
}

// sourceDir returns the absolute path of a documents folder, which must
// be a readable directory.
func sourceDir(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, "source %q: %w", src, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", quarry.Errorf(quarry.CodeInvalid, "source %q is not a readable directory", src)
	}
	return abs, nil
}

// buildOptions choose how a generation is built.
type buildOptions struct {
	// Fresh builds from nothing instead of starting from the serving
	// generation (a full rebuild; also how the embedder or the vector
	// store is changed).
	Fresh  bool
	Reason string
	// Source names where the documents come from (an absolute path, or
	// builtinHelpCenter); it is recorded in the data directory after a
	// successful build, for quarry reindex.
	Source string
	// Strict fails the build when a file of the source cannot be read or
	// the source holds no document, rather than switching to an index
	// that silently lacks them. Rebuilds are strict.
	Strict bool
	// Gate, when set, must pass before the new generation is switched to.
	Gate *gate
	// serving, when set, lends the engine that serves now (an in-process
	// rebuild: the server holds that generation open, so it cannot be
	// opened a second time). release is called when done with it.
	serving func() (e *engine, release func(), err error)
	engine  engineConfig
}

// ingestInto syncs fsys into a new generation of the data directory and
// switches serving to it. On any failure the serving generation is left
// untouched and the half-built one removed.
func ingestInto(ctx context.Context, env *Env, o options, fsys fs.FS, b buildOptions) (ingest.Summary, error) {
	d, err := gen.Open(kbRoot(o.Data))
	if err != nil {
		return ingest.Summary{}, err
	}
	w, err := d.Lock()
	if err != nil {
		return ingest.Summary{}, err
	}
	defer w.Unlock()
	if b.engine.vectors == nil {
		vb, err := newBackend(env, o)
		if err != nil {
			return ingest.Summary{}, err
		}
		defer vb.Close()
		b.engine.vectors = vb
	}
	sum, _, err := buildLocked(ctx, env, o, d, w, fsys, b)
	return sum, err
}

// buildLocked builds a new generation from fsys, validates it, and
// switches to it (see publish); w must be held and b.engine.vectors set.
// The state returned is the one switched to; it is zero when nothing
// changed and the serving generation was kept.
func buildLocked(ctx context.Context, env *Env, o options, d *gen.Dir, w *gen.Writer, fsys fs.FS, b buildOptions) (ingest.Summary, gen.State, error) {
	vb := b.engine.vectors
	// The writer lock removed the directories of builds abandoned by a
	// crash; drop what they left in the vector store too.
	if gens, err := d.Generations(); err == nil {
		if err := vb.Cleanup(ctx, gens); err != nil {
			warn(env, "removing vectors of abandoned generations", err)
		}
	}
	emb, err := b.engine.embedder()
	if err != nil {
		return ingest.Summary{}, gen.State{}, fmt.Errorf("embedder: %w", err)
	}
	from := ""
	serving, err := d.State()
	switch {
	case err == nil && !b.Fresh:
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
				warn(env, "removing the vectors of generation "+g, cerr)
			}
		}
		return err
	}
	if err := vb.Prepare(ctx, g, dir, from, emb.Space()); err != nil {
		return ingest.Summary{}, gen.State{}, abandon(err)
	}
	sum, info, err := syncGeneration(ctx, env, o, fsys, g, dir, b)
	if err != nil {
		return sum, gen.State{}, abandon(err)
	}
	if b.Strict {
		if err := checkComplete(sum, info); err != nil {
			return sum, gen.State{}, abandon(err)
		}
	}
	if from != "" && sum.Added+sum.Updated+sum.Removed == 0 {
		// Nothing changed: keep serving what is there.
		return sum, gen.State{}, abandon(nil)
	}
	info.Gen = g
	info.Reason = b.Reason
	if info.Reason == "" {
		info.Reason = "ingest"
	}
	info.VectorStore = vb.Kind()
	if b.Gate != nil {
		if err := b.Gate.check(ctx, env, d, w, g, serving, b); err != nil {
			return sum, gen.State{}, abandon(err)
		}
	}
	st, err := publish(ctx, env, d, w, vb, info)
	if err != nil {
		return sum, gen.State{}, abandon(err)
	}
	src := b.Source
	if src == "" && b.Reason == "demo" {
		src = builtinHelpCenter
	}
	if src != "" {
		if err := recordSource(d, src); err != nil {
			warn(env, "recording the source for quarry reindex", err)
		}
	}
	return sum, st, nil
}

// checkIncremental refuses to build incrementally on the serving
// generation (in dir) when its vectors cannot be mixed with new ones:
// another embedder, or another vector store. Both need quarry reindex.
func checkIncremental(dir, g string, space index.Space, kind string) error {
	m, err := index.LoadManifest(filepath.Join(dir, manifestFile))
	if err != nil {
		return err
	}
	if !m.Empty() && !m.Space.Equal(space) {
		return quarry.Errorf(quarry.CodeConflict,
			"the serving generation %s was built with embedder %q (dim %d) but %q (dim %d) is configured; vectors of two embedders cannot be mixed: run quarry reindex to rebuild everything with the new embedder",
			g, m.Space.Embedder, m.Space.Dim, space.Embedder, space.Dim)
	}
	r, err := readVectorsRecord(dir)
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
// or empty must not replace a good index with an empty one).
func checkComplete(sum ingest.Summary, info gen.Info) error {
	var unreadable []string
	for _, sk := range sum.Skipped {
		// ingest reports files it could not read (as opposed to files it
		// cannot parse) with this prefix.
		if strings.HasPrefix(sk.Reason, "unreadable") {
			unreadable = append(unreadable, sk.Path+": "+sk.Reason)
		}
	}
	if len(unreadable) > 0 {
		return quarry.Errorf(quarry.CodeUnavailable, "the source could not be read completely (%d %s): %s",
			len(unreadable), plural(len(unreadable), "file", "files"), strings.Join(unreadable[:min(3, len(unreadable))], "; "))
	}
	if got := sum.Added + sum.Updated + sum.Unchanged; got != info.Documents {
		return quarry.Errorf(quarry.CodeInternal, "validation failed: %d documents were ingested from the source but the manifest lists %d", got, info.Documents)
	}
	if info.Documents == 0 {
		return quarry.Errorf(quarry.CodeInvalid, "the source holds no document that could be ingested (%d files found); refusing to replace the index with an empty one", sum.Files)
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
func publish(ctx context.Context, env *Env, d *gen.Dir, w *gen.Writer, vb vectorBackend, info gen.Info) (gen.State, error) {
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
		warn(env, "pruning old generations", err)
	}
	if gens, err := d.Generations(); err == nil {
		if err := vb.Cleanup(context.WithoutCancel(ctx), gens); err != nil {
			warn(env, "removing the vectors of pruned generations", err)
		}
	}
	return st, nil
}

func warn(env *Env, what string, err error) {
	fmt.Fprintf(env.Stderr, "quarry: warning: %s: %v\n", what, err)
}

// syncGeneration runs the ingestion pipeline into generation g (in dir)
// and validates the result.
func syncGeneration(ctx context.Context, env *Env, o options, fsys fs.FS, g, dir string, b buildOptions) (ingest.Summary, gen.Info, error) {
	var info gen.Info
	e, err := openEngine(ctx, g, dir, b.engine)
	if err != nil {
		return ingest.Summary{}, info, err
	}
	defer e.Close()
	wr, err := index.NewWriter(index.WriterConfig{
		Keyword: e.kw, Vectors: e.vs, Embedder: e.emb,
		ManifestPath: filepath.Join(dir, manifestFile),
	})
	if err != nil {
		return ingest.Summary{}, info, err
	}
	bar := newProgress(env.Stderr)
	sum, err := ingest.Sync(ctx, fsys, wr, ingest.Options{
		Chunk:    ingest.ChunkConfig{Size: o.ChunkSize, Overlap: o.ChunkOverlap},
		Progress: bar.update,
	})
	bar.finish()
	if err != nil {
		return sum, info, err
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

// progress draws a progress bar on a terminal and nothing elsewhere.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		p.w = nil
	}
	return p
}

func (p *progress) update(pr ingest.Progress) {
	if p.w == nil {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(pr.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("ingesting"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.bar.Set(pr.Done)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
