package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/qdrantstore"
	"github.com/quarry-kb/quarry/kb"
)

// qdrantBackend keeps each generation's vectors in its own Qdrant
// collection, quarry_<kb>_<gen> (quarry_default_g000003), and keeps the
// alias quarry_<kb> pointing at the serving generation's collection.
//
// Quarry's own readers never go through the alias: state.json is the
// source of truth, and a server opens the collection of the generation
// state.json names, by name, together with that generation's Bleve
// index, so the keyword and vector results of a request always come from
// one generation. The alias is for consumers outside Quarry; it is
// switched just before state.json, and switched back if writing
// state.json fails. (An external reader may therefore see the new
// generation up to a second before Quarry's server does; Quarry's answers
// never mix generations.)
type qdrantBackend struct {
	kbName string
	cfg    qdrantstore.Config // connection settings only
	addr   string
	keyEnv string

	mu    sync.Mutex
	admin *qdrantstore.Admin // dialled on first use
}

func newQdrantBackend(kbName, addr, apiKey, keyEnv string, tls bool) (*qdrantBackend, error) {
	host, port, err := qdrantstore.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("--qdrant-addr: %w", err)
	}
	return &qdrantBackend{
		kbName: kbName,
		cfg:    qdrantstore.Config{Host: host, Port: port, APIKey: apiKey, UseTLS: tls},
		addr:   addr,
		keyEnv: keyEnv,
	}, nil
}

func (b *qdrantBackend) Kind() string { return storeQdrant }

// collection names generation g's collection.
func (b *qdrantBackend) collection(g string) string { return "quarry_" + b.kbName + "_" + g }

// alias is the name external consumers query.
func (b *qdrantBackend) alias() string { return "quarry_" + b.kbName }

func (b *qdrantBackend) adm(ctx context.Context) (*qdrantstore.Admin, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.admin != nil {
		return b.admin, nil
	}
	a, err := qdrantstore.Dial(ctx, b.cfg)
	if err != nil {
		return nil, err
	}
	b.admin = a
	return a, nil
}

func (b *qdrantBackend) open(ctx context.Context, collection string, space index.Space, create bool) (*qdrantstore.Store, error) {
	cfg := b.cfg
	cfg.Collection = collection
	cfg.Space = space
	cfg.NoCreate = !create
	st, err := qdrantstore.New(ctx, cfg)
	if errors.Is(err, quarry.ErrNotFound) {
		return nil, quarry.Errorf(quarry.CodeNotFound, "qdrant at %s has no collection %q (was it deleted, or is this another Qdrant?); run quarry reindex to rebuild it: %w", b.addr, collection, err)
	}
	return st, err
}

func (b *qdrantBackend) Prepare(ctx context.Context, g, dir, from string, space index.Space) error {
	adm, err := b.adm(ctx)
	if err != nil {
		return err
	}
	name := b.collection(g)
	// A collection by this name can only be left over from a build that
	// was abandoned (generation numbers are reused once the directory is
	// gone): start from nothing.
	if err := adm.DeleteCollection(ctx, name); err != nil {
		return fmt.Errorf("drop leftover collection %q: %w", name, err)
	}
	st, err := b.open(ctx, name, space, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if from != "" {
		if _, err := st.CopyFrom(ctx, b.collection(from)); err != nil {
			return fmt.Errorf("start generation %s from %s: %w", g, from, err)
		}
	}
	return kb.WriteVectorsRecord(dir, kb.VectorsRecord{
		Store: storeQdrant, Collection: name, Addr: b.addr, TLS: b.cfg.UseTLS, APIKeyEnv: b.keyEnv,
	})
}

func (b *qdrantBackend) Open(ctx context.Context, g, dir string, space index.Space) (index.VectorStore, error) {
	r, err := kb.ReadVectorsRecord(dir)
	if err != nil {
		return nil, err
	}
	if err := kb.CheckRecordKind(g, r, storeQdrant); err != nil {
		return nil, err
	}
	name := r.Collection
	if name == "" {
		name = b.collection(g)
	}
	return b.open(ctx, name, space, false)
}

func (b *qdrantBackend) Publish(ctx context.Context, g string) (func(context.Context) error, error) {
	adm, err := b.adm(ctx)
	if err != nil {
		return nil, err
	}
	old, err := adm.ResolveAlias(ctx, b.alias())
	if err != nil && !errors.Is(err, quarry.ErrNotFound) {
		return nil, err
	}
	if err := adm.SwitchAlias(ctx, b.alias(), b.collection(g)); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if old == "" {
			return adm.DeleteAlias(ctx, b.alias())
		}
		return adm.SwitchAlias(ctx, b.alias(), old)
	}, nil
}

var genCollection = regexp.MustCompile(`^g[0-9]+$`)

func (b *qdrantBackend) Cleanup(ctx context.Context, keep []string) error {
	adm, err := b.adm(ctx)
	if err != nil {
		return err
	}
	prefix := "quarry_" + b.kbName + "_"
	names, err := adm.ListCollections(ctx, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		g := name[len(prefix):]
		if !genCollection.MatchString(g) || slices.Contains(keep, g) {
			continue
		}
		if err := adm.DeleteCollection(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *qdrantBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.admin == nil {
		return nil
	}
	err := b.admin.Close()
	b.admin = nil
	return err
}
