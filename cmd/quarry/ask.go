package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/strategy"
)

func runAsk(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "ask", "quarry ask [flags] \"question\"",
		"Answer a question from the data directory, without a server, through the knowledge base's\n"+
			"reply strategy ("+strategy.FileName+") as quarry serve answers it. Hand-offs print the hand-off\n"+
			"text; the webhook is not posted (quarry serve posts it).", &o, "k", "json", "kb")
	noStrategy := fs.Bool("no-strategy", false, "answer from retrieval only, without the knowledge base's reply strategy")
	pf := providerFlags(fs, env, "llm", "embed")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	e, err := openKB(ctx, o.Data, kbName(o), prov.apply(engineConfig{}))
	if err != nil {
		return err
	}
	defer e.Close()
	var asker strategy.Asker = e
	if !*noStrategy {
		if asker, err = cliStrategy(o.Data, kbName(o), e, env.Stderr); err != nil {
			return err
		}
	}
	ans, err := asker.Ask(ctx, quarry.AskRequest{Question: fs.Arg(0), K: o.K}, nil)
	if err != nil {
		return err
	}
	if !ans.Answered && ans.Handoff == nil { // the strategy sets no contact: the old handoff.json, as serve reads it
		ans.Handoff = legacyHandoff(slog.New(slog.NewTextHandler(env.Stderr, nil)), o.Data, kbName(o))
	}
	if o.JSON {
		return writeJSON(env.Stdout, ans)
	}
	printAnswer(env.Stdout, ans)
	return nil
}

func printAnswer(w io.Writer, ans quarry.Answer) {
	fmt.Fprintln(w, ans.Text)
	if !ans.Answered {
		if h := ans.Handoff; h != nil {
			fmt.Fprintln(w)
			for _, s := range []string{h.Message, h.URL, h.Email} {
				if s != "" {
					fmt.Fprintln(w, s)
				}
			}
		}
		return
	}
	fmt.Fprintln(w)
	for _, c := range ans.Citations {
		loc := c.Path
		if c.Heading != "" {
			loc += " › " + c.Heading
		}
		if c.Page > 0 {
			loc += fmt.Sprintf(" (page %d)", c.Page)
		}
		fmt.Fprintf(w, "[%d] %s\n", c.N, loc)
	}
}

func runSearch(ctx context.Context, env *Env, args []string) error {
	var o options
	var explain bool
	var mode string
	fs := newFlags(env, "search", "quarry search [flags] \"query\"",
		"Show the passages that best match a query, without a server.", &o, "k", "json", "kb")
	fs.BoolVar(&explain, "explain", false, "show how each result's score was fused from the keyword and vector legs")
	fs.StringVar(&mode, "mode", quarry.ModeHybrid, "retrieval mode: hybrid, keyword or vector")
	pf := providerFlags(fs, env, "embed")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	e, err := openKB(ctx, o.Data, kbName(o), prov.apply(engineConfig{}))
	if err != nil {
		return err
	}
	defer e.Close()
	res, err := e.Search(ctx, quarry.SearchRequest{Query: fs.Arg(0), K: o.K, Explain: explain, Mode: mode})
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(env.Stdout, res)
	}
	for _, n := range res.Notes {
		fmt.Fprintln(env.Stdout, "note:", n)
	}
	for i, p := range res.Passages {
		loc := p.Path
		if p.Heading != "" {
			loc += " › " + p.Heading
		}
		if p.Page > 0 {
			loc += fmt.Sprintf(" (page %d)", p.Page)
		}
		fmt.Fprintf(env.Stdout, "%2d. %.3f  %s\n    %s\n", i+1, p.Score, loc, snippet(p.Text, 200))
		if p.Explain != nil {
			fmt.Fprintf(env.Stdout, "    %s\n", p.Explain.Summary)
		}
	}
	return nil
}

func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
