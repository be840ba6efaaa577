package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/convlog"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/kb"
	"github.com/quarry-kb/quarry/server"
)

// The operator's side of serving: the conversation log, its retention,
// the metrics listener, hand-off settings, and the commands that read
// the log (quarry log export, quarry questions export, quarry report).

// defaultLogRetention is how long turns are kept unless told otherwise.
const defaultLogRetention = "90d"

// convlogPath is the conversation log of a data directory.
func convlogPath(data string) string { return filepath.Join(data, convlog.FileName) }

// operatorSetup is what serve adds to the server for the operator.
type operatorSetup struct {
	log       *convlog.Log
	metrics   *server.Metrics
	retention time.Duration
}

func openOperator(ctx context.Context, o options, m *kb.Manager) (*operatorSetup, error) {
	if o.LogRetention == "" {
		o.LogRetention = defaultLogRetention
	}
	retention, err := convlog.ParseAge(o.LogRetention)
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--log-retention: %w", err)
	}
	l, err := convlog.Open(ctx, convlog.Config{Path: convlogPath(o.Data)})
	if err != nil {
		return nil, err
	}
	met := server.NewMetrics()
	if err := met.Registry().Register(newIndexCollector(m)); err != nil {
		l.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &operatorSetup{log: l, metrics: met, retention: retention}, nil
}

func (op *operatorSetup) Close() error { return op.log.Close() }

// run prunes the log daily and serves the metrics on addr (if set)
// until ctx is done.
func (op *operatorSetup) run(ctx context.Context, addr string, log *slog.Logger) (wait func(), err error) {
	var wg sync.WaitGroup
	if op.retention > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op.log.PruneEvery(ctx, op.retention, 0, func(err error) { log.Error("conversation log: prune", "err", err) })
		}()
	}
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, quarry.Errorf(quarry.CodeUnavailable, "--metrics-addr %s: %w", addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", op.metrics.Handler())
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
		wg.Add(2)
		go func() { defer wg.Done(); _ = hs.Serve(ln) }()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
	}
	return wg.Wait, nil
}

// handoffFile names a knowledge base's hand-off settings: JSON with
// "message", "url" and "email", any of them.
const handoffFile = "handoff.json"

// handoffs reads each knowledge base's handoff.json, again when it
// changes.
type handoffs struct {
	data string
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]handoffEntry
}

type handoffEntry struct {
	mod time.Time
	h   *quarry.Handoff
}

func (hs *handoffs) get(name string) *quarry.Handoff {
	path := filepath.Join(kb.Root(hs.data, name), handoffFile)
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if e, ok := hs.seen[path]; ok && e.mod.Equal(fi.ModTime()) {
		return e.h
	}
	var h quarry.Handoff
	b, err := os.ReadFile(path)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&h)
	}
	e := handoffEntry{mod: fi.ModTime()}
	if err != nil {
		hs.log.Error("hand-off settings ignored", "file", path, "err", err)
	} else if h != (quarry.Handoff{}) {
		e.h = &h
	}
	if hs.seen == nil {
		hs.seen = map[string]handoffEntry{}
	}
	hs.seen[path] = e
	return e.h
}

// openLogForReading opens the conversation log of a data directory for
// the commands that read it; a data directory without one is an error.
func openLogForReading(ctx context.Context, data string) (*convlog.Log, error) {
	path := convlogPath(data)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, quarry.Errorf(quarry.CodeNotFound, "no conversation log in %s (quarry serve writes one)", data)
		}
		return nil, err
	}
	return convlog.Open(ctx, convlog.Config{Path: path})
}

// sinceFlag parses --since into the start of the range.
func sinceFlag(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := convlog.ParseAge(s)
	if err != nil {
		return time.Time{}, quarry.Errorf(quarry.CodeInvalid, "--since: %w", err)
	}
	return time.Now().Add(-d), nil
}

func runLog(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(env.Stderr, "usage: quarry log export [--kb NAME] [--since 7d] [--format jsonl]")
		return errUsage
	}
	var o options
	fs := newFlags(env, "log export", "quarry log export [flags]",
		"Write the conversation log (questions, rewritten queries, answers, citations, answered or\n"+
			"declined, latency, channel, knowledge base, key id, feedback) as JSON lines.", &o)
	name := fs.String("kb", "", "only this knowledge base (default: all)")
	since := fs.String("since", "", "only turns newer than this (7d, 36h; default: all)")
	format := fs.String("format", "jsonl", "output format: jsonl")
	if err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	if *format != "jsonl" {
		return quarry.Errorf(quarry.CodeInvalid, "--format %q: only jsonl is supported", *format)
	}
	from, err := sinceFlag(*since)
	if err != nil {
		return err
	}
	l, err := openLogForReading(ctx, o.Data)
	if err != nil {
		return err
	}
	defer l.Close()
	turns, err := l.Turns(ctx, quarry.TurnFilter{KB: *name, Since: from})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	for _, t := range turns {
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	return nil
}

func runQuestions(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(env.Stderr, "usage: quarry questions export --kb NAME [--unanswered] [--down-rated] [--since 30d]")
		return errUsage
	}
	var o options
	fs := newFlags(env, "questions export", "quarry questions export [flags] > review.jsonl",
		"Write logged questions in the question-file format of quarry eval, for an operator to label:\n"+
			"declined ones as unanswerable, down-rated answers as answerable with the documents Quarry\n"+
			"cited as expected_docs and an empty expected_answer to fill in. Without --unanswered or\n"+
			"--down-rated, both.", &o)
	name := fs.String("kb", kb.Default, "knowledge base")
	unanswered := fs.Bool("unanswered", false, "questions Quarry declined")
	down := fs.Bool("down-rated", false, "questions whose answer was rated down")
	since := fs.String("since", "30d", "only questions newer than this")
	if err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	if !*unanswered && !*down {
		*unanswered, *down = true, true
	}
	from, err := sinceFlag(*since)
	if err != nil {
		return err
	}
	l, err := openLogForReading(ctx, o.Data)
	if err != nil {
		return err
	}
	defer l.Close()
	turns, err := l.Turns(ctx, quarry.TurnFilter{KB: *name, Since: from, Unanswered: *unanswered, DownRated: *down})
	if err != nil {
		return err
	}
	return writeReviewQuestions(env.Stdout, turns)
}

// writeReviewQuestions writes turns as eval questions, one per distinct
// question (the latest turn's answer counts).
func writeReviewQuestions(w io.Writer, turns []quarry.Turn) error {
	latest := map[string]int{}
	var order []string
	for i, t := range turns {
		q := strings.TrimSpace(t.Question)
		if _, ok := latest[q]; !ok {
			order = append(order, q)
		}
		latest[q] = i
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for n, q := range order {
		t := turns[latest[q]]
		lang := t.Lang
		if lang != "zh" {
			lang = "en"
		}
		out := corpora.Question{ID: fmt.Sprintf("review-%03d", n+1), Question: q, Lang: lang, ExpectedDocs: []string{}}
		if t.Answered {
			// Quarry thought it answerable: the operator checks the
			// documents it cited and writes the phrase a right answer holds.
			out.Answerable = true
			for _, c := range t.Citations {
				if c.Path != "" && !containsString(out.ExpectedDocs, c.Path) {
					out.ExpectedDocs = append(out.ExpectedDocs, c.Path)
				}
			}
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func runReport(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "report", "quarry report [flags]",
		"Print the dashboard's key figures from the conversation log: questions, answer rate,\n"+
			"satisfaction, latency, the most frequent unanswered questions, the lowest-rated answers.", &o, "json")
	name := fs.String("kb", kb.Default, `knowledge base ("all" for every one)`)
	since := fs.String("since", "7d", "the range: questions newer than this")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	from, err := sinceFlag(*since)
	if err != nil {
		return err
	}
	l, err := openLogForReading(ctx, o.Data)
	if err != nil {
		return err
	}
	defer l.Close()
	f := quarry.TurnFilter{KB: *name, Since: from}
	if *name == "all" {
		f.KB = ""
	}
	rep, err := l.Report(ctx, f)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeReport(env.Stdout, *name, *since, rep)
}

func writeReport(w io.Writer, name, since string, r *quarry.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "knowledge base\t%s\n", name)
	fmt.Fprintf(tw, "range\t%s (%s – %s UTC)\n", since, r.Since.Format("2006-01-02 15:04"), r.Until.Format("2006-01-02 15:04"))
	fmt.Fprintf(tw, "questions\t%d in %d conversations\n", r.Questions, r.Conversations)
	fmt.Fprintf(tw, "answered\t%d (%.1f%%)\n", r.Answered, 100*r.AnswerRate)
	fmt.Fprintf(tw, "declined\t%d\n", r.Declined)
	fmt.Fprintf(tw, "feedback\t%d up, %d down\n", r.Up, r.Down)
	if r.Up+r.Down > 0 {
		fmt.Fprintf(tw, "satisfaction\t%.1f%%\n", 100*r.Satisfaction)
	} else {
		fmt.Fprintf(tw, "satisfaction\t–\n")
	}
	fmt.Fprintf(tw, "latency\tmedian %.0f ms, p95 %.0f ms\n", r.LatencyP50MS, r.LatencyP95MS)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Unanswered) > 0 {
		fmt.Fprintln(w, "\nmost frequent unanswered questions:")
		for _, g := range r.Unanswered {
			fmt.Fprintf(w, "  %4d  %s\n", g.Count, g.Question)
		}
	}
	if len(r.LowestRated) > 0 {
		fmt.Fprintln(w, "\nlowest-rated answers:")
		for _, t := range r.LowestRated {
			comment := ""
			if t.Feedback != nil && t.Feedback.Comment != "" {
				comment = " — " + t.Feedback.Comment
			}
			var cites []string
			for _, c := range t.Citations {
				cites = append(cites, c.Path)
			}
			fmt.Fprintf(w, "  %s  %s%s\n        cited: %s\n", t.Time.Format("2006-01-02 15:04"), t.Question, comment, strings.Join(cites, ", "))
		}
	}
	return nil
}
