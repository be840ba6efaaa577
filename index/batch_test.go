package index_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/ingest"
)

// The writer takes batches from Sync (it is an ingest.BatchSink).
var _ ingest.BatchSink = (*index.Writer)(nil)

// replacingKeyword is a fakeKeyword that swaps documents in one call and
// counts the calls of each kind.
type replacingKeyword struct {
	*fakeKeyword
	replaces, deletes, upserts int
}

func (k *replacingKeyword) Replace(ctx context.Context, docIDs []string, cs []quarry.Chunk) error {
	k.replaces++
	if err := k.fakeKeyword.DeleteDocs(ctx, docIDs...); err != nil {
		return err
	}
	return k.fakeKeyword.Upsert(ctx, cs)
}

func (k *replacingKeyword) DeleteDocs(ctx context.Context, ids ...string) error {
	k.deletes++
	return k.fakeKeyword.DeleteDocs(ctx, ids...)
}

func (k *replacingKeyword) Upsert(ctx context.Context, cs []quarry.Chunk) error {
	k.upserts++
	return k.fakeKeyword.Upsert(ctx, cs)
}

func TestWriterPutBatch(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	kw := &replacingKeyword{fakeKeyword: r.kw}
	w, err := index.NewWriter(index.WriterConfig{Keyword: kw, Vectors: r.vec, Embedder: r.emb, ManifestPath: r.path, BatchSize: 4, SaveEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	a, acs := doc("a.txt", "h1", 3)
	if err := w.Put(ctx, a, acs); err != nil {
		t.Fatal(err)
	}
	r.emb.reset()

	// a shrinks to one chunk, b and c arrive: one Replace for all three.
	a2, acs2 := doc("a.txt", "h2", 1)
	b, bcs := doc("b.txt", "h1", 2)
	c, ccs := doc("c.txt", "h1", 4)
	if err := w.PutBatch(ctx, []quarry.Document{a2, b, c}, [][]quarry.Chunk{acs2, bcs, ccs}); err != nil {
		t.Fatal(err)
	}
	if kw.replaces != 2 || kw.deletes != 0 || kw.upserts != 0 {
		t.Errorf("keyword index calls: %d replaces, %d deletes, %d upserts; want one Replace per put", kw.replaces, kw.deletes, kw.upserts)
	}
	// The seven texts were embedded together, in batches of 4.
	if sizes := slices.Sorted(slices.Values(r.emb.batches)); !slices.Equal(sizes, []int{3, 4}) {
		t.Errorf("embedding batches %v, want 4 and 3", r.emb.batches)
	}
	for _, d := range []struct {
		doc  quarry.Document
		want int
	}{{a2, 1}, {b, 2}, {c, 4}} {
		if n, m := len(r.kw.docChunks(d.doc.ID)), len(r.vec.docChunks(d.doc.ID)); n != d.want || m != d.want {
			t.Errorf("%s: keyword %d, vectors %d chunks; want %d", d.doc.Path, n, m, d.want)
		}
	}
	if h, _ := w.Hash("a.txt"); h != "h2" {
		t.Errorf("a.txt recorded with hash %q, want h2", h)
	}
	// Four changes in all: the manifest is saved once the fifth comes.
	if m, _ := index.LoadManifest(r.path); len(m.Docs) != 0 {
		t.Errorf("manifest saved early: %v", m.Paths())
	}
	d, dcs := doc("d.txt", "h1", 1)
	if err := w.PutBatch(ctx, []quarry.Document{d}, [][]quarry.Chunk{dcs}); err != nil {
		t.Fatal(err)
	}
	if m, _ := index.LoadManifest(r.path); len(m.Docs) != 4 {
		t.Errorf("manifest after 5 changes holds %v, want 4 documents", m.Paths())
	}

	t.Run("a failed write forgets the whole batch", func(t *testing.T) {
		r.vec.failWrite = quarry.Errorf(quarry.CodeUnavailable, "down")
		defer func() { r.vec.failWrite = nil }()
		e, ecs := doc("e.txt", "h1", 1)
		b2, bcs2 := doc("b.txt", "h2", 1)
		err := w.PutBatch(ctx, []quarry.Document{e, b2}, [][]quarry.Chunk{ecs, bcs2})
		if !errors.Is(err, quarry.ErrUnavailable) || !strings.Contains(err.Error(), "2 documents (e.txt") {
			t.Fatalf("err = %v, want the store's error naming the batch", err)
		}
		for _, p := range []string{"e.txt", "b.txt"} {
			if _, ok := w.Hash(p); ok {
				t.Errorf("%s is still in the manifest after a failed batch", p)
			}
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		before := len(r.kw.chunks)
		x, xcs := doc("x.txt", "h1", 2)
		xcs[1].DocID = "other"
		if err := w.PutBatch(ctx, []quarry.Document{x}, [][]quarry.Chunk{xcs}); quarry.ErrorCode(err) != quarry.CodeInvalid {
			t.Errorf("chunk of another document: err = %v, want invalid", err)
		}
		if err := w.PutBatch(ctx, []quarry.Document{x}, nil); quarry.ErrorCode(err) != quarry.CodeInvalid {
			t.Errorf("mismatched lists: err = %v, want invalid", err)
		}
		if len(r.kw.chunks) != before {
			t.Errorf("rejected batches wrote chunks")
		}
	})
}
