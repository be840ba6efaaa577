package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/corpora/synth"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/kb"
)

// benchConfig are the settings of quarry bench.
type benchConfig struct {
	chunks, words   int
	queries         string
	nQueries        int
	clients         []int
	requests        int
	mode            string
	k               int
	http            string
	inProcess       bool
	pdfCopies       int
	keep, synthetic bool
	profile         string // directory for CPU and block profiles of ingest and in-process search
}

func runBench(ctx context.Context, env *Env, args []string) error {
	var o options
	var bc benchConfig
	var clients string
	fs := newFlags(env, "bench", "quarry bench [flags]",
		"Measure ingest and search speed. Without a knowledge base in --data (a temporary\n"+
			"directory unless given), it generates a synthetic corpus of --chunks one-chunk documents\n"+
			"(corpora/synth) and ingests it: documents/s, MB/s of text. Then it opens the index and\n"+
			"measures search in process (cold open, then latency p50/p99 and throughput at each\n"+
			"--clients level) and over HTTP against `quarry serve` started on the data as a child\n"+
			"process (time to answer /readyz, latency and throughput at each level, errors, memory).\n"+
			"--data with a knowledge base benchmarks it as it is (queries from --queries).\n"+
			"Loopback only; every level runs a bounded number of requests.", &o, "json")
	fs.IntVar(&bc.chunks, "chunks", 10000, "synthetic corpus: number of one-chunk documents")
	fs.IntVar(&bc.words, "words", 100, "synthetic corpus: average words per document")
	fs.StringVar(&bc.queries, "queries", "", "queries file: one query a line, or ID<TAB>QUERY lines (the TSV of ../shared/peers/prep.py); default, or \"synth\": drawn from the synthetic corpus of --chunks and --words (\"synth\" also over a --data that holds it)")
	fs.IntVar(&bc.nQueries, "n-queries", 1000, "synthetic corpus: number of distinct queries")
	fs.StringVar(&clients, "clients", "1,8,64", "comma-separated numbers of concurrent clients")
	fs.IntVar(&bc.requests, "requests", 2000, "requests per client level (each in process and over HTTP)")
	fs.StringVar(&bc.mode, "mode", quarry.ModeHybrid, "search mode: hybrid, keyword or vector")
	fs.IntVar(&bc.k, "k", 10, "passages per search")
	fs.StringVar(&bc.http, "http", "self", "self: run `quarry serve` on --data as a child process; a URL (http://127.0.0.1:8080): a server already running on it; off")
	fs.BoolVar(&bc.inProcess, "in-process", true, "measure search in process (before the HTTP run)")
	fs.IntVar(&bc.pdfCopies, "pdf-copies", 0, "also ingest the sample help centre's PDFs this many times over, for pages/s")
	fs.BoolVar(&bc.keep, "keep", false, "keep the temporary data directory")
	fs.StringVar(&bc.profile, "profile", "", "write CPU, heap and block profiles of the ingest (ingest.cpu, ingest.heap, ingest.block) and CPU and heap profiles of in-process search (search.cpu, search.heap) into this directory, for go tool pprof")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	for _, c := range splitList(clients) {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 1024 {
			return quarry.Errorf(quarry.CodeInvalid, "--clients: %q is not a number of clients from 1 to 1024", c)
		}
		bc.clients = append(bc.clients, n)
	}
	if bc.requests < 1 || bc.chunks < 1 || bc.k < 1 {
		return quarry.Errorf(quarry.CodeInvalid, "--requests, --chunks and --k must be positive")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["data"] && env.Getenv("QUARRY_DATA") == "" {
		tmp, err := os.MkdirTemp("", "quarry-bench-")
		if err != nil {
			return err
		}
		o.Data = tmp
		if !bc.keep {
			defer os.RemoveAll(tmp)
		}
	}
	rep, err := bench(ctx, env, o, bc, set["chunks"])
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(env.Stdout, rep)
	}
	rep.write(env.Stdout)
	return nil
}

// benchReport is what quarry bench measured.
type benchReport struct {
	Machine   string        `json:"machine"`
	Data      string        `json:"data"`
	Chunks    int           `json:"chunks"`
	Ingest    *ingestBench  `json:"ingest,omitempty"`
	PDF       *ingestBench  `json:"pdf,omitempty"`
	Open      *openBench    `json:"open,omitempty"`
	InProcess []searchBench `json:"in_process,omitempty"`
	Serve     *serveBench   `json:"serve,omitempty"`
	HTTP      []searchBench `json:"http,omitempty"`
	PeakRSS   int64         `json:"peak_rss_bytes"` // of this process
}

type ingestBench struct {
	Docs     int     `json:"docs"`
	Chunks   int     `json:"chunks"`
	Pages    int     `json:"pages,omitempty"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	DocsPerS float64 `json:"docs_per_s"`
	MBPerS   float64 `json:"mb_per_s"`
	PagesPS  float64 `json:"pages_per_s,omitempty"`
}

type openBench struct {
	Seconds        float64 `json:"seconds"`          // open the generation and answer one search
	HeapBytes      int64   `json:"heap_bytes"`       // live heap of the open engine
	HeapPer100k    int64   `json:"heap_per_100k"`    // the same, per 100,000 chunks
	IndexDiskBytes int64   `json:"index_disk_bytes"` // the generation on disk
}

type serveBench struct {
	ReadySeconds float64 `json:"ready_seconds"` // from starting quarry serve to /readyz 200
	RSSBytes     int64   `json:"rss_bytes"`     // after the HTTP run
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	RSSPer100k   int64   `json:"rss_per_100k"`
}

type searchBench struct {
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerS     float64 `json:"per_s"`
	MeanMS   float64 `json:"mean_ms"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	// FirstError is the first failure, to tell what went wrong.
	FirstError string `json:"first_error,omitempty"`
}

func bench(ctx context.Context, env *Env, o options, bc benchConfig, chunksSet bool) (*benchReport, error) {
	rep := &benchReport{Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()), Data: o.Data}
	d, err := gen.Open(kb.Root(o.Data, kbName(o)))
	if err != nil {
		return nil, err
	}
	_, err = d.State()
	exists := err == nil
	if err != nil && !errors.Is(err, quarry.ErrNotFound) {
		return nil, err
	}
	var corpus *synth.Corpus
	switch {
	case exists && bc.queries == synthQueries:
		corpus = synth.New(synth.Config{Docs: bc.chunks, Words: bc.words})
	case exists && chunksSet:
		return nil, quarry.Errorf(quarry.CodeConflict, "--data %s holds a knowledge base; --chunks generates a corpus into an empty --data (or none)", o.Data)
	case !exists:
		corpus = synth.New(synth.Config{Docs: bc.chunks, Words: bc.words})
		fmt.Fprintf(env.Stderr, "bench: ingesting a synthetic corpus of %d documents into %s\n", bc.chunks, o.Data)
		stop, err := startProfile(bc.profile, "ingest", true)
		if err != nil {
			return nil, err
		}
		ib, err := benchIngest(ctx, env, o, corpus)
		if perr := stop(); err == nil {
			err = perr
		}
		if err != nil {
			return nil, err
		}
		rep.Ingest = ib
	}
	if bc.pdfCopies > 0 {
		pb, err := benchPDF(ctx, env, bc.pdfCopies)
		if err != nil {
			return nil, err
		}
		rep.PDF = pb
	}
	queries, err := benchQueries(bc, corpus)
	if err != nil {
		return nil, err
	}
	if bc.inProcess {
		if err := benchInProcess(ctx, env, o, bc, queries, rep); err != nil {
			return nil, err
		}
	}
	if bc.http != "off" {
		if err := benchHTTP(ctx, env, o, bc, queries, rep); err != nil {
			return nil, err
		}
	}
	rep.PeakRSS = procStatus(os.Getpid(), "VmHWM")
	return rep, nil
}

// benchIngest ingests fsys into o.Data and reports the speed.
func benchIngest(ctx context.Context, env *Env, o options, fsys iofs.FS) (*ingestBench, error) {
	start := time.Now()
	sum, err := ingestInto(ctx, env, o, fsys, buildOptions{BuildOptions: kb.BuildOptions{Reason: "bench"}})
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	ib := &ingestBench{Docs: sum.Added + sum.Updated, Chunks: sum.Chunks, Seconds: secs}
	if m, err := currentManifest(o); err == nil {
		for _, d := range m.Docs {
			ib.Bytes += d.Size
		}
	}
	ib.DocsPerS = float64(ib.Docs) / secs
	ib.MBPerS = float64(ib.Bytes) / (1 << 20) / secs
	return ib, nil
}

func chunkCount(m *index.Manifest) int {
	n := 0
	for _, d := range m.Docs {
		n += d.Chunks
	}
	return n
}

func currentManifest(o options) (*index.Manifest, error) {
	d, err := gen.Open(kb.Root(o.Data, kbName(o)))
	if err != nil {
		return nil, err
	}
	s, err := d.State()
	if err != nil {
		return nil, err
	}
	return index.LoadManifest(filepath.Join(d.Path(s.Current), kb.ManifestFile))
}

// benchPDF ingests copies of the sample help centre's PDFs into a
// temporary data directory and reports pages/s.
func benchPDF(ctx context.Context, env *Env, copies int) (*ingestBench, error) {
	hc := corpora.HelpCenter()
	pdfs, err := iofs.Glob(hc, "*/*.pdf")
	if err != nil {
		return nil, err
	}
	mfs := fstest.MapFS{}
	pages := 0
	for _, p := range pdfs {
		data, err := iofs.ReadFile(hc, p)
		if err != nil {
			return nil, err
		}
		parsed, err := ingest.ParseFile(p, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		n := 0
		for _, s := range parsed.Sections {
			n = max(n, s.Page)
		}
		pages += n * copies
		for c := range copies {
			mfs[fmt.Sprintf("copy%03d/%s", c, p)] = &fstest.MapFile{Data: data, Mode: 0o444}
		}
	}
	tmp, err := os.MkdirTemp("", "quarry-bench-pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(env.Stderr, "bench: ingesting %d PDFs (%d pages)\n", len(pdfs)*copies, pages)
	ib, err := benchIngest(ctx, env, options{Data: tmp}, mfs)
	if err != nil {
		return nil, err
	}
	ib.Pages = pages
	ib.PagesPS = float64(pages) / ib.Seconds
	return ib, nil
}

// benchQueries reads the queries file, or draws queries from the
// synthetic corpus.
func benchQueries(bc benchConfig, corpus *synth.Corpus) ([]string, error) {
	if bc.queries == "" || bc.queries == synthQueries {
		if corpus == nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "--queries is needed to benchmark an existing knowledge base")
		}
		return corpus.Queries(bc.nQueries, 1), nil
	}
	f, err := os.Open(bc.queries)
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--queries: %w", err)
	}
	defer f.Close()
	var qs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if _, text, ok := strings.Cut(line, "\t"); ok {
			line = text
		}
		if line = strings.TrimSpace(line); line != "" {
			qs = append(qs, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--queries: %w", err)
	}
	if len(qs) == 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--queries %s holds no query", bc.queries)
	}
	return qs, nil
}

// synthQueries as --queries draws the queries from the synthetic corpus
// of --chunks and --words, also when --data holds it already (ingested
// by an earlier run with --keep or --data).
const synthQueries = "synth"

// warmup is how many searches run before the first measured level.
const warmup = 50

func benchInProcess(ctx context.Context, env *Env, o options, bc benchConfig, queries []string, rep *benchReport) error {
	// Twice: what sync.Pools held (an ingest just before leaves plenty)
	// survives one collection in their victim caches, and would then be
	// counted out of the open's heap.
	runtime.GC()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	e, err := openKB(ctx, o.Data, kbName(o), engineConfig{})
	if err != nil {
		return err
	}
	defer e.Close()
	if _, err := e.Search(ctx, quarry.SearchRequest{Query: queries[0], K: bc.k, Mode: bc.mode}); err != nil {
		return err
	}
	ob := &openBench{Seconds: time.Since(start).Seconds()}
	if d, err := gen.Open(kb.Root(o.Data, kbName(o))); err == nil {
		ob.IndexDiskBytes = dirSize(d.Path(e.Gen()))
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	ob.HeapBytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if rep.Chunks, err = e.Chunks(ctx); err != nil {
		return err
	}
	if rep.Chunks > 0 {
		ob.HeapPer100k = ob.HeapBytes * 100000 / int64(rep.Chunks)
	}
	rep.Open = ob
	search := func(ctx context.Context, q string) error {
		_, err := e.Search(ctx, quarry.SearchRequest{Query: q, K: bc.k, Mode: bc.mode})
		return err
	}
	for i := range min(warmup, len(queries)) {
		_ = search(ctx, queries[i])
	}
	stop, err := startProfile(bc.profile, "search", false)
	if err != nil {
		return err
	}
	for _, c := range bc.clients {
		fmt.Fprintf(env.Stderr, "bench: in process, %d clients\n", c)
		rep.InProcess = append(rep.InProcess, runLoad(ctx, c, bc.requests, queries, search))
	}
	return stop()
}

// startProfile starts a CPU profile into dir/name.cpu, writes the heap
// profile into dir/name.heap when stopped (and, with block, records
// blocking events into dir/name.block). With no dir it does nothing.
func startProfile(dir, name string, block bool) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, name+".cpu"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	if block {
		runtime.SetBlockProfileRate(int(time.Millisecond / 10))
	}
	return func() error {
		pprof.StopCPUProfile()
		err := f.Close()
		// The live heap at the end of the run: what the open index
		// holds, by allocation site.
		if hf, herr := os.Create(filepath.Join(dir, name+".heap")); herr != nil {
			err = errors.Join(err, herr)
		} else {
			runtime.GC()
			err = errors.Join(err, pprof.Lookup("heap").WriteTo(hf, 0), hf.Close())
		}
		if !block {
			return err
		}
		defer runtime.SetBlockProfileRate(0)
		bf, berr := os.Create(filepath.Join(dir, name+".block"))
		if berr != nil {
			return errors.Join(err, berr)
		}
		berr = pprof.Lookup("block").WriteTo(bf, 0)
		return errors.Join(err, berr, bf.Close())
	}, nil
}

func benchHTTP(ctx context.Context, env *Env, o options, bc benchConfig, queries []string, rep *benchReport) error {
	base := strings.TrimRight(bc.http, "/")
	pid := 0
	if bc.http == "self" {
		url, p, ready, stop, err := startChildServe(ctx, o.Data)
		if err != nil {
			return err
		}
		defer stop()
		base, pid = url, p
		rep.Serve = &serveBench{ReadySeconds: ready.Seconds()}
	}
	search, closeIdle, err := httpSearchFunc(base, slices.Max(bc.clients), queries, bc.k, bc.mode)
	if err != nil {
		return err
	}
	defer closeIdle()
	for i := range min(warmup, len(queries)) {
		_ = search(ctx, queries[i])
	}
	for _, c := range bc.clients {
		fmt.Fprintf(env.Stderr, "bench: over HTTP, %d clients\n", c)
		rep.HTTP = append(rep.HTTP, runLoad(ctx, c, bc.requests, queries, search))
	}
	if pid > 0 {
		rep.Serve.RSSBytes = procStatus(pid, "VmRSS")
		rep.Serve.PeakRSSBytes = procStatus(pid, "VmHWM")
		if rep.Chunks == 0 {
			if m, err := currentManifest(o); err == nil {
				rep.Chunks = chunkCount(m)
			}
		}
		if rep.Chunks > 0 {
			rep.Serve.RSSPer100k = rep.Serve.RSSBytes * 100000 / int64(rep.Chunks)
		}
	}
	return nil
}

// startChildServe runs this executable's serve command on data, on a
// free loopback port, and waits until /readyz answers 200.
func startChildServe(ctx context.Context, data string) (url string, pid int, ready time.Duration, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, 0, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	cmd := exec.Command(exe, "serve", "--data", data, "--addr", addr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, 0, nil, fmt.Errorf("start quarry serve: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	url = "http://" + addr
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd.Process.Pid, time.Since(start), stop, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", 0, 0, nil, quarry.Errorf(quarry.CodeUnavailable, "quarry serve on %s did not become ready", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runLoad runs n requests from c concurrent clients, each taking the next
// query in turn, and summarises their latencies.
func runLoad(ctx context.Context, c, n int, queries []string, do func(context.Context, string) error) searchBench {
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				errs[i] = do(ctx, queries[i%len(queries)])
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sb := searchBench{Clients: c, Requests: n, Seconds: secs, PerS: float64(n) / secs}
	var sum time.Duration
	for i, err := range errs {
		if err != nil {
			if sb.Errors == 0 {
				sb.FirstError = err.Error()
			}
			sb.Errors++
		}
		sum += lat[i]
	}
	slices.Sort(lat)
	sb.MeanMS = ms(sum / time.Duration(n))
	sb.P50MS, sb.P99MS = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))
	return sb
}

// percentile is the nearest-rank percentile of sorted values (the
// definition of ../shared/peers/peerlib.py).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(0, int(math.Ceil(q*float64(len(sorted))))-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// procStatus reads a size field (in kB) of /proc/PID/status, in bytes;
// 0 where there is no /proc.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// write prints the report as Markdown tables.
func (r *benchReport) write(w io.Writer) {
	fmt.Fprintf(w, "machine: %s; data: %s; %d chunks\n", r.Machine, r.Data, r.Chunks)
	for _, x := range []struct {
		name string
		ib   *ingestBench
	}{{"ingest", r.Ingest}, {"ingest PDF", r.PDF}} {
		if x.ib == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d documents, %d chunks, %s of text in %.2f s: %.0f documents/s, %.2f MB/s",
			x.name, x.ib.Docs, x.ib.Chunks, mib(x.ib.Bytes), x.ib.Seconds, x.ib.DocsPerS, x.ib.MBPerS)
		if x.ib.Pages > 0 {
			fmt.Fprintf(w, ", %d pages: %.1f pages/s", x.ib.Pages, x.ib.PagesPS)
		}
		fmt.Fprintln(w)
	}
	if r.Open != nil {
		fmt.Fprintf(w, "\nopen and first search: %.3f s; heap %s (%s per 100k chunks); index on disk %s\n",
			r.Open.Seconds, mib(r.Open.HeapBytes), mib(r.Open.HeapPer100k), mib(r.Open.IndexDiskBytes))
	}
	if r.Serve != nil {
		fmt.Fprintf(w, "quarry serve: /readyz after %.3f s; RSS %s after the HTTP run (%s per 100k chunks), peak %s\n",
			r.Serve.ReadySeconds, mib(r.Serve.RSSBytes), mib(r.Serve.RSSPer100k), mib(r.Serve.PeakRSSBytes))
	}
	table := func(name string, rows []searchBench) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n\n| clients | requests | errors | req/s | mean ms | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- | --- | --- |\n", name)
		for _, s := range rows {
			fmt.Fprintf(w, "| %d | %d | %d | %.0f | %.2f | %.2f | %.2f |\n", s.Clients, s.Requests, s.Errors, s.PerS, s.MeanMS, s.P50MS, s.P99MS)
		}
		for _, s := range rows {
			if s.FirstError != "" {
				fmt.Fprintf(w, "first error with %d clients: %s\n", s.Clients, s.FirstError)
			}
		}
	}
	table("search in process", r.InProcess)
	table("search over HTTP (loopback)", r.HTTP)
	fmt.Fprintf(w, "\npeak RSS of quarry bench: %s\n", mib(r.PeakRSS))
}
