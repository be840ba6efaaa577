package memvec

import "hash/maphash"

// slotTable finds points by a key the points themselves hold (their
// chunk ID, or their document ID): an open-addressing table of slot
// numbers, probed linearly, at most half full, whose keys are read from
// the points. At a million chunks a Go map of strings cost 40 bytes or
// more a point (the key's header, the value, the buckets' slack, and
// for documents a slice of slots each); this costs 8 or so.
type slotTable struct {
	seed  maphash.Seed
	doc   bool     // keyed by document ID, else by chunk ID
	cells []uint32 // slot+1, 0 where empty; len 0 or a power of two
	n     int
}

func newSlotTable(doc bool) slotTable {
	return slotTable{seed: maphash.MakeSeed(), doc: doc}
}

func (t *slotTable) key(s *Store, cell uint32) string {
	if t.doc {
		return s.field(&s.pts[cell-1], fieldDoc)
	}
	return s.field(&s.pts[cell-1], fieldID)
}

func (t *slotTable) home(k string) int {
	return int(maphash.String(t.seed, k) & uint64(len(t.cells)-1))
}

// reserve makes room for n keys.
func (t *slotTable) reserve(n int, s *Store) {
	size := 16
	for size/2 < n {
		size *= 2
	}
	if size <= len(t.cells) {
		return
	}
	old := t.cells
	t.cells = make([]uint32, size)
	for _, c := range old {
		if c != 0 {
			t.place(c, t.home(t.key(s, c)))
		}
	}
}

func (t *slotTable) place(c uint32, i int) {
	mask := len(t.cells) - 1
	for ; t.cells[i] != 0; i = (i + 1) & mask {
	}
	t.cells[i] = c
}

// find returns the index of the cell of k, or -1.
func (t *slotTable) find(k string, s *Store) int {
	if t.n == 0 {
		return -1
	}
	mask := len(t.cells) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		c := t.cells[i]
		if c == 0 {
			return -1
		}
		if t.key(s, c) == k {
			return i
		}
	}
}

// get returns the slot of k.
func (t *slotTable) get(k string, s *Store) (uint32, bool) {
	i := t.find(k, s)
	if i < 0 {
		return 0, false
	}
	return t.cells[i] - 1, true
}

// add adds slot under its point's key k, unless k is in the table
// already: then it adds nothing and returns the index of k's cell, else
// -1.
func (t *slotTable) add(slot uint32, k string, s *Store) int {
	t.reserve(t.n+1, s)
	mask := len(t.cells) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		c := t.cells[i]
		if c == 0 {
			t.cells[i] = slot + 1
			t.n++
			return -1
		}
		if t.key(s, c) == k {
			return i
		}
	}
}

// removeAt empties cell i, moving later cells of its probe run back
// into the gap when their home allows (backward-shift deletion), so that
// lookups need no tombstones.
func (t *slotTable) removeAt(i int, s *Store) {
	mask := len(t.cells) - 1
	t.cells[i] = 0
	t.n--
	for j := (i + 1) & mask; t.cells[j] != 0; j = (j + 1) & mask {
		h := t.home(t.key(s, t.cells[j]))
		// The cell at j may fill the gap at i unless its home lies
		// cyclically in (i, j].
		if i < j && (h <= i || h > j) || i > j && h <= i && h > j {
			t.cells[i], t.cells[j] = t.cells[j], 0
			i = j
		}
	}
}

// renumber maps every slot in the table through renum (see compact);
// the keys, and so the cells' places, do not change.
func (t *slotTable) renumber(renum []uint32) {
	for i, c := range t.cells {
		if c != 0 {
			t.cells[i] = renum[c-1] + 1
		}
	}
}
