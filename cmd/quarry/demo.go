package main

import (
	"context"
	"fmt"

	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/kb"
)

func runDemo(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "demo", "quarry demo [flags]",
		"Ingest the built-in sample help centre (English and Chinese; Markdown, HTML, text and PDF)\n"+
			"into the data directory and serve it. Needs no network, no API key and no Docker.", &o, "addr", "chunk")
	pf := providerFlags(fs, env, "llm", "embed")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	cfg := prov.apply(engineConfig{})
	fmt.Fprintf(env.Stdout, "Ingesting the sample help centre into %s ...\n", o.Data)
	sum, err := ingestInto(ctx, env, o, corpora.HelpCenter(), buildOptions{BuildOptions: kb.BuildOptions{Reason: "demo", Source: kb.BuiltinHelpCenter}, engine: cfg})
	if err != nil {
		return err
	}
	if err := sum.Write(env.Stdout); err != nil {
		return err
	}
	return serveWith(ctx, env, o, serveHooks{engine: cfg, announce: func(addr string) {
		fmt.Fprintf(env.Stdout, `
Quarry is serving the sample help centre at http://%[1]s

Try:
  curl -s http://%[1]s/v1/ask -H 'Content-Type: application/json' -d '{"question": "How long do refunds take?"}'
  curl -s http://%[1]s/v1/ask -H 'Content-Type: application/json' -d '{"question": "退款多久到账？"}'
  curl -s http://%[1]s/v1/search -H 'Content-Type: application/json' -d '{"query": "warranty", "k": 3, "explain": true}'
  curl -sN http://%[1]s/v1/ask -H 'Accept: text/event-stream' -d '{"question": "How do I reset my password?"}'

Press Ctrl+C to stop.
`, addr)
	}})
}
