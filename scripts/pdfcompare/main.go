// Command pdfcompare compares Quarry's PDF parser (ingest, on
// github.com/ledongthuc/pdf) with PDFium's text extraction (Chrome's PDF
// engine, compiled to WebAssembly and run in pure Go by wazero:
// github.com/klippa-app/go-pdfium/webassembly) on the help centre's
// sample PDFs and on the hostile PDFs of internal/hostile: words
// extracted against the PDFs' text sources (corpora/pdfsrc), time, and
// how each fails. Every extraction runs in a child process with a 30 s
// limit and a 1 GiB limit on its resident memory, as Quarry's parse
// worker does.
//
// It is a module of its own so that go-pdfium (and wazero) stay out of
// Quarry's go.mod. From the repository root:
//
//	cd scripts/pdfcompare && go run .
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"

	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/internal/hostile"
)

const (
	timeLimit = 30 * time.Second
	memLimit  = 1 << 30
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "extract" {
		os.Exit(extractMain(os.Args[2], os.Args[3]))
	}
	root := flag.String("repo", "../..", "the repository root (for corpora/pdfsrc)")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "pdfcompare:", err)
		os.Exit(1)
	}
}

// sample is a PDF to extract, with its expected text (empty for hostile
// ones).
type sample struct {
	name   string
	data   []byte
	source string
}

func samples(root string) ([]sample, error) {
	var out []sample
	hc := corpora.HelpCenter()
	pdfs, err := fs.Glob(hc, "*/*.pdf")
	if err != nil {
		return nil, err
	}
	sort.Strings(pdfs)
	for _, p := range pdfs {
		data, err := fs.ReadFile(hc, p)
		if err != nil {
			return nil, err
		}
		src, err := os.ReadFile(filepath.Join(root, "corpora", "pdfsrc", strings.TrimSuffix(p, ".pdf")+".txt"))
		if err != nil {
			return nil, err
		}
		out = append(out, sample{name: path.Base(p), data: data, source: string(src)})
	}
	for _, h := range []struct {
		name string
		data []byte
	}{
		{"hostile: decompression bomb (256 MiB of text operators)", hostile.Bomb(256 << 20)},
		{"hostile: unterminated hex string", hostile.UnterminatedHex()},
		{"hostile: page tree claiming 10^9 pages", hostile.HugePageCount()},
		{"hostile: truncated", hostile.Truncated()},
		{"hostile: junk behind a PDF header", hostile.Junk()},
		{"hostile: encrypted, no password opens it", hostile.Encrypted()},
		{"sound one-page PDF (internal/hostile.TextPDF)", hostile.TextPDF("Quarry reads this line.", "And this one.")},
	} {
		out = append(out, sample{name: h.name, data: h.data})
	}
	return out, nil
}

var engines = []string{"quarry", "pdfium"}

// result is one extraction's outcome, measured by the parent.
type result struct {
	status  string // "ok", "error: ...", "timeout", "memory limit", "crashed"
	text    string
	seconds float64
	extract float64 // of which extracting, start-up apart (ok only)
	peakRSS int64
}

func run(root string) error {
	ss, err := samples(root)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pdfcompare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Printf("load: %s\n\n", loadavg())
	fmt.Println("| file | engine | outcome | s (process) | s (extraction) | peak RSS MiB | words | recall | precision |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	totals := map[string][2]float64{}
	for i, s := range ss {
		file := filepath.Join(dir, strconv.Itoa(i)+".pdf")
		if err := os.WriteFile(file, s.data, 0o644); err != nil {
			return err
		}
		for _, eng := range engines {
			r := extract(exe, eng, file)
			words := tokens(r.text)
			rec, prec := "", ""
			if s.source != "" && r.status == "ok" {
				rc, pc := overlap(tokens(sourceText(s.source)), words)
				rec, prec = fmt.Sprintf("%.3f", rc), fmt.Sprintf("%.3f", pc)
				t := totals[eng]
				totals[eng] = [2]float64{t[0] + rc, t[1] + 1}
			}
			ext := ""
			if r.status == "ok" {
				ext = fmt.Sprintf("%.3f", r.extract)
			}
			fmt.Printf("| %s | %s | %s | %.2f | %s | %.0f | %d | %s | %s |\n", s.name, eng, r.status, r.seconds, ext,
				float64(r.peakRSS)/(1<<20), len(words), rec, prec)
		}
	}
	fmt.Println()
	for _, eng := range engines {
		t := totals[eng]
		if t[1] > 0 {
			fmt.Printf("%s: mean word recall on the %d sample PDFs %.3f\n", eng, int(t[1]), t[0]/t[1])
		}
	}
	fmt.Printf("load: %s\n", loadavg())
	return nil
}

// extract runs one extraction in a child process, killing it at the
// time or memory limit.
func extract(exe, engine, file string) result {
	var out, errOut bytes.Buffer
	cmd := exec.Command(exe, "extract", engine, file)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{status: "error: " + err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	var killed string
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeLimit)
	for {
		select {
		case err := <-done:
			r := result{seconds: time.Since(start).Seconds(), peakRSS: peak}
			if cmd.ProcessState != nil {
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss<<10 > peak {
					r.peakRSS = ru.Maxrss << 10
				}
			}
			switch {
			case killed != "":
				r.status = killed
			case err != nil:
				msg := strings.TrimSpace(errOut.String())
				if msg == "" {
					msg = err.Error()
				}
				r.status = "error: " + firstLine(msg)
			default:
				r.status, r.text = "ok", out.String()
				for line := range strings.SplitSeq(errOut.String(), "\n") {
					if v, ok := strings.CutPrefix(line, "extract-seconds "); ok {
						r.extract, _ = strconv.ParseFloat(v, 64)
					}
				}
			}
			return r
		case <-tick.C:
			if rss := rssOf(cmd.Process.Pid); rss > peak {
				peak = rss
			}
			if peak > memLimit && killed == "" {
				killed = "memory limit (killed over 1 GiB)"
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		case <-deadline:
			if killed == "" {
				killed = "timeout (killed after 30 s)"
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	}
}

// extractMain is the child: it prints the text of file as engine reads
// it.
func extractMain(engine, file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var text string
	start := time.Now()
	switch engine {
	case "quarry":
		text, err = quarryText(data)
	case "pdfium":
		text, err = pdfiumText(data)
	default:
		err = fmt.Errorf("unknown engine %q", engine)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print(text)
	fmt.Fprintf(os.Stderr, "extract-seconds %.3f\n", time.Since(start).Seconds()-initSeconds)
	return 0
}

// quarryText is what Quarry indexes of a PDF: its sections' text, as
// ingest parses it.
func quarryText(data []byte) (string, error) {
	p, err := ingest.ParseFile("x.pdf", data)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var last []string
	for _, s := range p.Sections {
		// A heading once, where its section starts (sections carry the
		// whole path of headings above them).
		for i, h := range s.Heading {
			if i >= len(last) || last[i] != h {
				b.WriteString(h + "\n")
			}
		}
		last = s.Heading
		b.WriteString(s.Text + "\n")
	}
	return b.String(), nil
}

// pdfiumText is PDFium's text of every page (FPDFText_GetText, through
// go-pdfium's GetPageText).
func pdfiumText(data []byte) (string, error) {
	t0 := time.Now()
	pool, err := webassembly.Init(webassembly.Config{MinIdle: 1, MaxIdle: 1, MaxTotal: 1})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	inst, err := pool.GetInstance(30 * time.Second)
	if err != nil {
		return "", err
	}
	defer inst.Close()
	initSeconds = time.Since(t0).Seconds()
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		return "", err
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
	n, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := range min(n.PageCount, 10_000) {
		t, err := inst.GetPageText(&requests.GetPageText{Page: requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document, Index: i}}})
		if err != nil {
			return "", fmt.Errorf("page %d: %w", i+1, err)
		}
		b.WriteString(t.Text + "\n")
	}
	return b.String(), nil
}

var _ pdfium.Pdfium // the interface the instance implements

// initSeconds is the time PDFium took to start (compiling its
// WebAssembly), apart from the extraction.
var initSeconds float64

var wordRE = regexp.MustCompile(`[\p{L}\p{N}]+`)

func tokens(s string) []string {
	return wordRE.FindAllString(strings.ToLower(s), -1)
}

// sourceText is the text a PDF source shows: without its %directives.
func sourceText(src string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(src, "\n") {
		if strings.HasPrefix(line, "%") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// overlap returns the share of want's words found in got (recall) and
// of got's words found in want (precision), as multisets.
func overlap(want, got []string) (recall, precision float64) {
	count := func(ws []string) map[string]int {
		m := map[string]int{}
		for _, w := range ws {
			m[w]++
		}
		return m
	}
	wm, gm := count(want), count(got)
	common := 0
	for w, n := range wm {
		common += min(n, gm[w])
	}
	if len(want) > 0 {
		recall = float64(common) / float64(len(want))
	}
	if len(got) > 0 {
		precision = float64(common) / float64(len(got))
	}
	return recall, precision
}

func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
