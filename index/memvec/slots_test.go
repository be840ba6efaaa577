package memvec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quarry-kb/quarry"
)

// slotTable against a map, through adds, removals (backward shifts in
// runs that wrap around the table) and a renumbering.
func TestSlotTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := &Store{}
	tab := newSlotTable(false)
	want := map[string]uint32{}
	check := func(when string) {
		t.Helper()
		if tab.n != len(want) {
			t.Fatalf("%s: %d keys, want %d", when, tab.n, len(want))
		}
		for k, slot := range want {
			if got, ok := tab.get(k, s); !ok || got != slot {
				t.Fatalf("%s: get(%q) = %d, %v; want %d", when, k, got, ok, slot)
			}
		}
		for i := range s.pts {
			k := fmt.Sprintf("gone%d", i)
			if _, ok := tab.get(k, s); ok {
				t.Fatalf("%s: found %q", when, k)
			}
		}
	}
	for round := range 20_000 {
		if len(want) > 0 && rng.IntN(3) == 0 {
			// Remove a random key.
			var k string
			for k = range want {
				break
			}
			i := tab.find(k, s)
			if i < 0 {
				t.Fatalf("round %d: %q not found", round, k)
			}
			tab.removeAt(i, s)
			delete(want, k)
			continue
		}
		k := fmt.Sprintf("k%d", rng.IntN(5000))
		if _, ok := want[k]; ok {
			continue
		}
		s.pts = append(s.pts, point{c: &quarry.Chunk{ID: k}})
		slot := uint32(len(s.pts) - 1)
		if tab.add(slot, k, s) >= 0 {
			t.Fatalf("round %d: %q added twice", round, k)
		}
		want[k] = slot
		if round%4000 == 0 {
			check(fmt.Sprintf("round %d", round))
		}
	}
	check("the end")
	for k, slot := range want {
		if i := tab.add(uint32(len(s.pts)), k, s); i < 0 || tab.cells[i] != slot+1 {
			t.Fatalf("adding %q again gave cell %d, want its own", k, i)
		}
	}

	// Renumber: keep the live points, in order.
	renum := make([]uint32, len(s.pts))
	var kept []point
	for slot, p := range s.pts {
		if was, ok := want[p.c.ID]; ok && was == uint32(slot) {
			renum[slot] = uint32(len(kept))
			want[p.c.ID] = uint32(len(kept))
			kept = append(kept, p)
		}
	}
	s.pts = kept
	tab.renumber(renum)
	check("after renumbering")
}

// A document's slots form one chain whatever the order of writes, and
// leave it as they are deleted, replaced or compacted.
func TestDocChains(t *testing.T) {
	ctx := context.Background()
	sp := sparseSpace
	s := mustOpen(t, "", sp, Config{})
	mustUpsert(t, s, batch(sp, "a", 5)...)
	mustUpsert(t, s, batch(sp, "b", 3)...)
	mustUpsert(t, s, testRecord(sp, "a", 2), testRecord(sp, "a", 0), testRecord(sp, "a", 4)) // replaced: middle, tail, head
	if err := s.Replace(ctx, []string{"b"}, batch(sp, "b", 2)); err != nil {
		t.Fatal(err)
	}
	ids := func(doc string) []string {
		var out []string
		for _, slot := range s.docSlots(nil, doc) {
			out = append(out, s.field(&s.pts[slot], fieldID))
		}
		slices.Sort(out)
		return out
	}
	for doc, want := range map[string][]string{
		"a": {"a#0", "a#1", "a#2", "a#3", "a#4"},
		"b": {"b#0", "b#1"},
		"c": nil,
	} {
		if got := ids(doc); !slices.Equal(got, want) {
			t.Fatalf("document %s has %v, want %v", doc, got, want)
		}
	}
	s.compact()
	if got := ids("a"); len(got) != 5 || s.live != 7 || len(s.pts) != 7 {
		t.Fatalf("after compaction: a has %v; %d live of %d", got, s.live, len(s.pts))
	}
	if err := s.DeleteDocs(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := ids("a"); got != nil || s.docs.n != 1 || s.ids.n != 2 {
		t.Fatalf("after deleting a: %v; %d documents, %d IDs", got, s.docs.n, s.ids.n)
	}
}
