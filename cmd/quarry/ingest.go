package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quarry-kb/quarry/crawl"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/kb"
)

func runIngest(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "ingest", "quarry ingest [flags] SOURCE_DIR | URL",
		"Ingest a folder of documents (.md, .html, .txt, .pdf, .docx, .pptx, .xlsx, .csv, and\n"+
			".png/.jpg and scanned PDF pages by OCR when tesseract is installed) into the data directory.\n"+
			"A URL (a sitemap.xml, or a start page with --crawl-depth) crawls a web help centre\n"+
			"politely into <data>/crawl/<kb>/<host> and ingests that under the prefix <host>.\n"+
			"Runs are incremental: unchanged files are skipped, changed files are re-indexed and\n"+
			"files removed from the folder are removed from the index. A running server picks up\n"+
			"the result without a restart. The folder is remembered for quarry reindex.\n"+
			"--kb names the knowledge base (made if new); --prefix puts the folder's documents\n"+
			"under a path of their own, so that several folders share a knowledge base.\n"+
			"Files named in .quarryignore files (gitignore syntax) or by --exclude are left out.", &o, "chunk", "vectors", "kb", "parse")
	fs.Var(&o.Exclude, "exclude", "pattern (gitignore syntax) of files to leave out; may be repeated")
	fs.BoolVar(&o.Verbose, "verbose", false, "name every skipped file in the summary")
	var prefix string
	fs.StringVar(&prefix, "prefix", "", "path under which the folder's documents sit in the knowledge base (e.g. en); each prefix is a source of its own, ingested and removed independently of the others")
	var cc crawl.Config
	var allow string
	fs.IntVar(&cc.Depth, "crawl-depth", 0, "links to follow from the start URL (or the sitemap's pages)")
	fs.DurationVar(&cc.Interval, "crawl-interval", crawl.DefaultInterval, "time between two requests to the site (robots.txt Crawl-delay wins if longer)")
	fs.IntVar(&cc.MaxPages, "crawl-max-pages", crawl.DefaultMaxPages, "pages fetched per run")
	fs.Int64Var(&cc.MaxPageBytes, "crawl-max-page-bytes", crawl.DefaultMaxPageBytes, "larger pages are skipped")
	fs.StringVar(&allow, "crawl-allow-hosts", "", "comma-separated hosts besides the start URL's that may be crawled")
	fs.StringVar(&cc.UserAgent, "crawl-user-agent", "", "User-Agent the crawler sends and matches in robots.txt (default "+strconv.Quote(crawl.DefaultUserAgent)+")")
	pf := providerFlags(fs, env, "embed")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	source := fs.Arg(0)
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		if allow != "" {
			cc.AllowHosts = strings.Split(allow, ",")
		}
		host := strings.ToLower(u.Host)
		if prefix == "" {
			prefix = strings.ReplaceAll(host, ":", "_")
		}
		source = filepath.Join(o.Data, "crawl", kbName(o), prefix)
		csum, err := crawl.Run(ctx, u.String(), source, cc)
		if err != nil {
			return err
		}
		fmt.Fprint(env.Stdout, csum.String())
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	src, err := sourceDir(source)
	if err != nil {
		return err
	}
	sum, err := ingestInto(ctx, env, o, os.DirFS(src), buildOptions{
		BuildOptions: kb.BuildOptions{Source: src, Prefix: prefix, Exclude: o.Exclude, FollowSymlinks: o.FollowSymlinks, Create: true},
		engine:       prov.apply(engineConfig{}),
	})
	if err != nil {
		return err
	}
	return sum.Report(env.Stdout, o.Verbose)
}

// sourceDir returns the absolute path of a documents folder, which must
// be a readable directory.
func sourceDir(src string) (string, error) { return kb.SourceDir(src) }

// buildOptions choose how a generation is built (see kb.BuildOptions),
// with the engine to build it with.
type buildOptions struct {
	kb.BuildOptions
	engine engineConfig
}

// ingestInto syncs fsys into a new generation of knowledge base o.KB (the
// default one when unset) and switches serving to it.
func ingestInto(ctx context.Context, env *Env, o options, fsys fs.FS, b buildOptions) (ingest.Summary, error) {
	bar := newProgress(env.Stderr, "ingesting", "files")
	defer bar.finish()
	m, err := newManager(env, o, b.engine, managerHooks{progress: bar.update})
	if err != nil {
		return ingest.Summary{}, err
	}
	sum, _, err := m.Ingest(ctx, kbName(o), fsys, b.BuildOptions)
	return sum, err
}

// progress draws a progress bar on a terminal. Elsewhere (a log file, a
// pipe, a test) it writes a plain line every progressEvery, so that a long
// ingest still shows how far it has got, and nothing for a short one.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	what  string // the work ("ingesting") and
	unit  string // what it counts ("files")
	plain bool
	start time.Time
	last  time.Time
	now   func() time.Time
}

// progressEvery is how often a plain progress line is written.
const progressEvery = 10 * time.Second

func newProgress(w io.Writer, what, unit string) *progress {
	p := &progress{w: w, what: what, unit: unit, now: time.Now}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		p.plain = true
	}
	p.start = p.now()
	p.last = p.start
	return p
}

func (p *progress) update(pr ingest.Progress) {
	if p.w == nil {
		return
	}
	if p.plain {
		now := p.now()
		if now.Sub(p.last) < progressEvery || pr.Total == 0 {
			return
		}
		p.last = now
		secs := now.Sub(p.start).Seconds()
		fmt.Fprintf(p.w, "%s: %d of %d %s (%.0f%%), %.0f %s/s, %s so far\n", p.what,
			pr.Done, pr.Total, p.unit, 100*float64(pr.Done)/float64(pr.Total), float64(pr.Done)/secs, p.unit, now.Sub(p.start).Round(time.Second))
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(pr.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.what),
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
