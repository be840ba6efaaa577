package qdrantstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"github.com/quarry-kb/quarry"
)

// The helpers below manage collections and aliases for zero-downtime
// rebuilds: build generation N+1 in a new collection through its own
// Store, SwitchAlias the serving alias to it, then DeleteCollection
// generation N. Searches through a Store opened on the alias follow the
// switch on their next call; a Store whose Space differs from the new
// generation's must be reopened, since it checks vectors against the
// space it was opened for.

// SwitchAlias points alias at collection, creating the alias if needed.
// The change is one UpdateAliases request (delete the old alias, create
// the new one), which Qdrant applies atomically: a search through the
// alias sees the old collection or the new one, never neither.
func (s *Store) SwitchAlias(ctx context.Context, alias, collection string) error {
	if alias == "" || collection == "" {
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: switch alias: alias and collection names are required")
	}
	release, err := s.live()
	if err != nil {
		return err
	}
	defer release()
	return s.call(ctx, fmt.Sprintf("switch alias %q to collection %q", alias, collection), func(ctx context.Context) error {
		current, found, err := s.lookupAlias(ctx, alias)
		if err != nil {
			return err
		}
		if found && current == collection {
			return nil
		}
		var actions []*qdrant.AliasOperations
		if found {
			actions = append(actions, qdrant.NewAliasDelete(alias))
		}
		actions = append(actions, qdrant.NewAliasCreate(alias, collection))
		_, err = s.client.GetCollectionsClient().UpdateAliases(ctx, &qdrant.ChangeAliases{Actions: actions})
		return err
	})
}

// ResolveAlias returns the collection alias points at, or
// quarry.ErrNotFound.
func (s *Store) ResolveAlias(ctx context.Context, alias string) (string, error) {
	release, err := s.live()
	if err != nil {
		return "", err
	}
	defer release()
	var (
		target string
		found  bool
	)
	if err := s.call(ctx, fmt.Sprintf("resolve alias %q", alias), func(ctx context.Context) (err error) {
		target, found, err = s.lookupAlias(ctx, alias)
		return err
	}); err != nil {
		return "", err
	}
	if !found {
		return "", quarry.Errorf(quarry.CodeNotFound, "qdrantstore: alias %q does not exist", alias)
	}
	return target, nil
}

func (s *Store) lookupAlias(ctx context.Context, alias string) (target string, found bool, err error) {
	resp, err := s.client.GetCollectionsClient().ListAliases(ctx, &qdrant.ListAliasesRequest{})
	if err != nil {
		return "", false, err
	}
	for _, a := range resp.GetAliases() {
		if a.GetAliasName() == alias {
			return a.GetCollectionName(), true, nil
		}
	}
	return "", false, nil
}

// DeleteAlias removes alias (the collection stays). Deleting a missing
// alias is not an error.
func (s *Store) DeleteAlias(ctx context.Context, alias string) error {
	if alias == "" {
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: delete alias: name is required")
	}
	release, err := s.live()
	if err != nil {
		return err
	}
	defer release()
	return s.call(ctx, fmt.Sprintf("delete alias %q", alias), func(ctx context.Context) error {
		_, found, err := s.lookupAlias(ctx, alias)
		if err != nil || !found {
			return err
		}
		_, err = s.client.GetCollectionsClient().UpdateAliases(ctx, &qdrant.ChangeAliases{
			Actions: []*qdrant.AliasOperations{qdrant.NewAliasDelete(alias)},
		})
		return err
	})
}

// DeleteCollection drops the collection called name (not an alias) and
// its points. It refuses, with quarry.ErrConflict, while an alias points
// at the collection: switch the alias first. Deleting a missing
// collection is not an error.
func (s *Store) DeleteCollection(ctx context.Context, name string) error {
	if name == "" {
		return quarry.Errorf(quarry.CodeInvalid, "qdrantstore: delete collection: name is required")
	}
	release, err := s.live()
	if err != nil {
		return err
	}
	defer release()
	var aliases []string
	err = s.call(ctx, fmt.Sprintf("list aliases of collection %q", name), func(ctx context.Context) error {
		resp, err := s.client.GetCollectionsClient().ListAliases(ctx, &qdrant.ListAliasesRequest{})
		aliases = aliases[:0]
		for _, a := range resp.GetAliases() {
			if a.GetCollectionName() == name {
				aliases = append(aliases, a.GetAliasName())
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(aliases) > 0 {
		return quarry.Errorf(quarry.CodeConflict, "qdrantstore: collection %q is still served by alias %s; switch the alias first",
			name, strings.Join(quoteAll(aliases), ", "))
	}
	err = s.call(ctx, fmt.Sprintf("delete collection %q", name), func(ctx context.Context) error {
		_, err := s.client.GetCollectionsClient().Delete(ctx, &qdrant.DeleteCollection{CollectionName: name})
		return err
	})
	if errors.Is(err, quarry.ErrNotFound) {
		return nil
	}
	return err
}

// ListCollections returns the names of the collections (not aliases)
// that start with prefix, sorted.
func (s *Store) ListCollections(ctx context.Context, prefix string) ([]string, error) {
	release, err := s.live()
	if err != nil {
		return nil, err
	}
	defer release()
	var names []string
	err = s.call(ctx, "list collections", func(ctx context.Context) error {
		resp, err := s.client.GetCollectionsClient().List(ctx, &qdrant.ListCollectionsRequest{})
		names = names[:0]
		for _, c := range resp.GetCollections() {
			if strings.HasPrefix(c.GetName(), prefix) {
				names = append(names, c.GetName())
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
