package main

import (
	"context"
	"fmt"

	"github.com/quarry-kb/quarry/auth"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
	"github.com/quarry-kb/quarry/kb"
)

func runReindex(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "reindex", "quarry reindex [flags] [SOURCE_DIR]",
		"Rebuild the index from scratch from the recorded source folders (those quarry ingest\n"+
			"or quarry demo last used; SOURCE_DIR replaces the one without a prefix) into a new\n"+
			"generation, validate it and switch to it atomically. A running server picks it up\n"+
			"within a second. If anything fails, the serving generation is untouched. Also the way\n"+
			"to change the embedder or the vector store. Safe to run from cron while quarry serve\n"+
			"runs on the same --data.", &o, "chunk", "vectors", "gate", "kb", "parse")
	pf := providerFlags(fs, env, "embed")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(fs.Output(), "expected at most 1 argument, got %d\n\n", fs.NArg())
		fs.Usage()
		return errUsage
	}
	prov, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer prov.Close()
	req := rebuildRequest{RebuildRequest: kb.RebuildRequest{Trigger: "cli"}, engine: prov.apply(engineConfig{})}
	if fs.NArg() == 1 {
		src, err := sourceDir(fs.Arg(0))
		if err != nil {
			return err
		}
		req.Source = src
	}
	g, err := kb.LoadGate(o.GateQuestions, o.GateMargin)
	if err != nil {
		return err
	}
	req.gate = g
	sum, st, err := reindex(ctx, env, o, req)
	auditCLI(env, o.Data, auth.Event{Action: "reindex", KB: kbName(o), Detail: st.Current}, err)
	if err != nil {
		return err
	}
	if err := sum.Write(env.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Switched to generation %s (%d documents, %d chunks, vectors in the %s store); the previous one, %s, is kept for quarry rollback.\n",
		st.Current, st.Info.Documents, st.Info.Chunks, st.Info.VectorStore, st.Previous)
	return nil
}

// rebuildRequest asks reindex for a full rebuild.
type rebuildRequest struct {
	kb.RebuildRequest
	gate   *kb.Gate
	engine engineConfig
}

// reindex rebuilds knowledge base o.KB from scratch (see kb.Manager.Reindex).
func reindex(ctx context.Context, env *Env, o options, r rebuildRequest) (ingest.Summary, gen.State, error) {
	bar := newProgress(env.Stderr, "ingesting", "files")
	defer bar.finish()
	m, err := newManager(env, o, r.engine, managerHooks{gate: r.gate, progress: bar.update})
	if err != nil {
		return ingest.Summary{}, gen.State{}, err
	}
	return m.Reindex(ctx, kbName(o), r.RebuildRequest)
}

func runRollback(ctx context.Context, env *Env, args []string) error {
	var o options
	fs := newFlags(env, "rollback", "quarry rollback [flags]",
		"Switch serving back to the previous generation (the one before the last ingest or\n"+
			"reindex). A running server picks it up within a second. Rolling back twice undoes the\n"+
			"first rollback.", &o, "vectors", "kb")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	vb, err := newBackend(env, o, kbName(o))
	if err != nil {
		return err
	}
	defer vb.Close()
	st, err := rollback(ctx, env, o, vb)
	auditCLI(env, o.Data, auth.Event{Action: "rollback", KB: kbName(o), Detail: st.Current}, err)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Rolled back to generation %s (%d documents, %d chunks); %s is now the previous generation.\n",
		st.Current, st.Info.Documents, st.Info.Chunks, st.Previous)
	return nil
}

// rollback switches knowledge base o.KB back to its previous generation.
func rollback(ctx context.Context, env *Env, o options, vb vectorBackend) (gen.State, error) {
	m, err := newManager(env, o, engineConfig{vectors: vb}, managerHooks{})
	if err != nil {
		return gen.State{}, err
	}
	return m.Rollback(ctx, kbName(o))
}
