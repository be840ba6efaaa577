package retrieve_test

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/bleveindex"
	"github.com/quarry-kb/quarry/index/charngram"
	"github.com/quarry-kb/quarry/index/memvec"
	"github.com/quarry-kb/quarry/retrieve"
)

// helpCentreChunks cuts the help centre's Markdown and text files into
// paragraphs, one chunk each, so that documents have many chunks.
func helpCentreChunks(t *testing.T) []quarry.Chunk {
	t.Helper()
	var out []quarry.Chunk
	hc := corpora.HelpCenter()
	err := fs.WalkDir(hc, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".md" && path.Ext(p) != ".txt") {
			return err
		}
		b, err := fs.ReadFile(hc, p)
		if err != nil {
			return err
		}
		title := strings.TrimSuffix(path.Base(p), path.Ext(p))
		for _, para := range strings.Split(string(b), "\n\n") {
			para = strings.TrimSpace(para)
			if para == "" {
				continue
			}
			if strings.HasPrefix(para, "# ") {
				title = strings.TrimPrefix(strings.SplitN(para, "\n", 2)[0], "# ")
			}
			n := 0
			for _, c := range out {
				if c.DocID == p {
					n++
				}
			}
			out = append(out, quarry.Chunk{ID: fmt.Sprintf("%s#%d", p, n), DocID: p, Path: p, Title: title,
				Ordinal: n, Text: para, Tokens: len(strings.Fields(para)), Lang: "en"})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("only %d chunks", len(out))
	}
	return out
}

// countingKW is a keyword leg that ranks before reading, counting the
// chunks it reads and the rankings not yet released.
type countingKW struct {
	*bleveindex.Index
	loads, open, ranked atomic.Int64
}

func (c *countingKW) SearchRanking(ctx context.Context, q string, k int) (index.Ranking, error) {
	rk, err := c.Index.SearchRanking(ctx, q, k)
	if err != nil {
		return rk, err
	}
	c.open.Add(1)
	c.ranked.Add(int64(len(rk.Hits)))
	load, release := rk.Load, rk.Release
	released := false
	rk.Load = func(i int) (quarry.Chunk, error) {
		c.loads.Add(1)
		return load(i)
	}
	rk.Release = func() {
		if released {
			panic("released twice")
		}
		released = true
		c.open.Add(-1)
		release()
	}
	return rk, nil
}

// A keyword leg that ranks before reading its chunks (bleveindex's
// SearchRanking) gives exactly the result of one that returns whole
// chunks (its Search): the same passages with the same chunks, scores,
// order and explanations, on the help centre's questions, in hybrid
// and keyword mode, with both fusions, with and without a per-document
// cap, at several k; and it reads only the chunks it returns (and, with
// a cap, those the cap looks at).
func TestRankingLegMatchesWholeHits(t *testing.T) {
	ctx := context.Background()
	kw, err := bleveindex.Open(t.TempDir(), bleveindex.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer kw.Close()
	emb, err := charngram.New(charngram.Config{})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := memvec.Open("", emb.Space(), memvec.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer vs.Close()
	chunks := helpCentreChunks(t)
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.Title + "\n" + c.Text
	}
	vecs, err := emb.EmbedPassages(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]index.Record, len(chunks))
	for i := range chunks {
		recs[i] = index.Record{Chunk: chunks[i], Vector: vecs[i]}
	}
	// Two batches: two segments in the keyword index.
	half := len(chunks) / 2
	for _, part := range [][2]int{{0, half}, {half, len(chunks)}} {
		if err := kw.Upsert(ctx, chunks[part[0]:part[1]]); err != nil {
			t.Fatal(err)
		}
		if err := vs.Upsert(ctx, recs[part[0]:part[1]]); err != nil {
			t.Fatal(err)
		}
	}
	questions, err := corpora.Questions()
	if err != nil {
		t.Fatal(err)
	}

	lazy := &countingKW{Index: kw}
	whole := struct{ retrieve.KeywordSearcher }{kw} // Search only
	configs := []retrieve.Config{
		{},
		{MaxPerDoc: 1},
		{MaxPerDoc: 2, Fusion: retrieve.MethodRRF},
		{CandidateK: 20, KeywordWeight: 0.3, VectorWeight: 0.7},
	}
	for _, cfg := range configs {
		want := retrieve.New(cfg, whole, vs, emb)
		got := retrieve.New(cfg, lazy, vs, emb)
		for _, q := range questions {
			for _, mode := range []string{quarry.ModeHybrid, quarry.ModeKeyword} {
				for _, k := range []int{1, 10, 30} {
					req := quarry.SearchRequest{Query: q.Question, K: k, Mode: mode, Explain: k == 10}
					w, err := want.Search(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					before := lazy.loads.Load()
					g, err := got.Search(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					// Without a cap, only the passages returned are read.
					if n := lazy.loads.Load() - before; cfg.MaxPerDoc == 0 && n > int64(len(g.Passages)) {
						t.Fatalf("%q mode %s k %d: read %d chunks for %d passages", q.Question, mode, k, n, len(g.Passages))
					}
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("%+v %q mode %s k %d: ranking leg gives\n%+v\nwhole hits give\n%+v", cfg, q.Question, mode, k, g, w)
					}
				}
			}
		}
	}
	if n := lazy.open.Load(); n != 0 {
		t.Errorf("%d rankings not released", n)
	}
	if loads, ranked := lazy.loads.Load(), lazy.ranked.Load(); loads == 0 || loads >= ranked/2 {
		t.Errorf("read %d chunks of %d ranked", loads, ranked)
	} else {
		t.Logf("read %d chunks of %d ranked", loads, ranked)
	}
}
