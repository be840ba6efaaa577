package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
			"the result without a restart.", &o, "chunk")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	src := fs.Arg(0)
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return quarry.Errorf(quarry.CodeInvalid, "source %q is not a readable directory", src)
	}
	sum, err := ingestInto(ctx, env, o, os.DirFS(src), buildOptions{})
	if err != nil {
		return err
	}
	return sum.Write(env.Stdout)
}

// buildOptions choose how a generation is built.
type buildOptions struct {
	// Fresh builds from nothing instead of starting from the serving
	// generation (a full rebuild; also how the embedder is changed).
	Fresh  bool
	Reason string
	engine engineConfig
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

	from := ""
	if s, err := d.State(); err == nil && !b.Fresh {
		from = s.Current
	} else if err != nil && !errors.Is(err, quarry.ErrNotFound) {
		return ingest.Summary{}, err
	}
	g, dir, err := w.Begin(from)
	if err != nil {
		return ingest.Summary{}, err
	}
	sum, info, err := syncGeneration(ctx, env, o, fsys, dir, b)
	if err != nil {
		if aerr := w.Abort(g); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return sum, err
	}
	if from != "" && sum.Added+sum.Updated+sum.Removed == 0 {
		// Nothing changed: keep serving what is there.
		return sum, w.Abort(g)
	}
	info.Gen = g
	info.Reason = b.Reason
	if info.Reason == "" {
		info.Reason = "ingest"
	}
	if _, err := w.Switch(info); err != nil {
		return sum, errors.Join(err, w.Abort(g))
	}
	return sum, nil
}

// syncGeneration runs the ingestion pipeline into the generation in dir.
func syncGeneration(ctx context.Context, env *Env, o options, fsys fs.FS, dir string, b buildOptions) (ingest.Summary, gen.Info, error) {
	var info gen.Info
	e, err := openEngine("", dir, b.engine)
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
