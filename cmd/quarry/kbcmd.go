package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/quarry-kb/quarry/auth"
	"github.com/quarry-kb/quarry/kb"
)

// runKB is quarry kb create|list|delete|show.
func runKB(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "show" {
		return runKBShow(ctx, env, args[1:]) // the reply strategy (strategy.go)
	}
	var o options
	fs := newFlags(env, "kb", "quarry kb create NAME | list | delete NAME | show NAME",
		"Manage the knowledge bases of the data directory. Each has its own sources, generations\n"+
			"and vectors; names are lower-case letters, digits and '-'. A running server serves a new\n"+
			"knowledge base as soon as something is ingested into it (quarry ingest --kb NAME DIR),\n"+
			"at /v1/kb/NAME/search, /v1/kb/NAME/ask and as the model NAME of /v1/chat/completions.", &o, "vectors", "json")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	want := func(n int) error {
		if fs.NArg() != n {
			fs.Usage()
			return errUsage
		}
		return nil
	}
	if fs.NArg() == 0 {
		return want(1)
	}
	m, err := newManager(env, o, engineConfig{}, managerHooks{})
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "create":
		if err := want(2); err != nil {
			return err
		}
		err := m.Create(fs.Arg(1))
		auditCLI(env, o.Data, auth.Event{Action: auth.ActionKBCreate, KB: fs.Arg(1)}, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Created knowledge base %s. Ingest into it: quarry ingest --kb %s SOURCE_DIR\n", fs.Arg(1), fs.Arg(1))
		return nil
	case "delete":
		if err := want(2); err != nil {
			return err
		}
		err := m.Delete(ctx, fs.Arg(1))
		auditCLI(env, o.Data, auth.Event{Action: auth.ActionKBDelete, KB: fs.Arg(1)}, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Deleted knowledge base %s.\n", fs.Arg(1))
		return nil
	case "list":
		if err := want(1); err != nil {
			return err
		}
		names, err := m.List()
		if err != nil {
			return err
		}
		infos := []kb.Info{}
		for _, n := range names {
			in, err := m.Describe(n)
			if err != nil {
				return err
			}
			infos = append(infos, in)
		}
		if o.JSON {
			return writeJSON(env.Stdout, infos)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tGENERATION\tDOCUMENTS\tCHUNKS\tSOURCES")
		for _, in := range infos {
			srcs := ""
			for i, s := range in.Sources {
				if i > 0 {
					srcs += ", "
				}
				if s.Prefix != "" {
					srcs += s.Prefix + "="
				}
				srcs += s.Path
			}
			g := in.Generation
			if g == "" {
				g = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", in.Name, g, in.Documents, in.Chunks, srcs)
		}
		return tw.Flush()
	}
	fmt.Fprintf(fs.Output(), "unknown kb command %q\n\n", fs.Arg(0))
	fs.Usage()
	return errUsage
}
