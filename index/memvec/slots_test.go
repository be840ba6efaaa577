package memvec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// slotTable against a map, through adds, removals (backward shifts in
// runs that wrap around the table) and a renumbering.
func TestSlotTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pts []point
	tab := newSlotTable(false)
	want := map[string]uint32{}
	check := func(when string) {
		t.Helper()
		if tab.n != len(want) {
			t.Fatalf("%s: %d keys, want %d", when, tab.n, len(want))
		}
		for k, slot := range want {
			if got, ok := tab.get(k, pts); !ok || got != slot {
				t.Fatalf("%s: get(%q) = %d, %v; want %d", when, k, got, ok, slot)
			}
		}
		for i := range pts {
			k := fmt.Sprintf("gone%d", i)
			if _, ok := tab.get(k, pts); ok {
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
			i := tab.find(k, pts)
			if i < 0 {
				t.Fatalf("round %d: %q not found", round, k)
			}
			tab.removeAt(i, pts)
			delete(want, k)
			continue
		}
		k := fmt.Sprintf("k%d", rng.IntN(5000))
		if _, ok := want[k]; ok {
			continue
		}
		pts = append(pts, point{id: k})
		slot := uint32(len(pts) - 1)
		tab.add(slot, pts)
		want[k] = slot
		if round%4000 == 0 {
			check(fmt.Sprintf("round %d", round))
		}
	}
	check("the end")

	// Renumber: keep the live points, in order.
	renum := make([]uint32, len(pts))
	var kept []point
	for slot, p := range pts {
		if s, ok := want[p.id]; ok && s == uint32(slot) {
			renum[slot] = uint32(len(kept))
			want[p.id] = uint32(len(kept))
			kept = append(kept, p)
		}
	}
	pts = kept
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
			out = append(out, s.pts[slot].id)
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
