package bleveindex

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	bindex "github.com/blevesearch/bleve_index_api"

	"github.com/quarry-kb/quarry"
)

// Upsert adds chunks, replacing any with the same chunk ID; within one
// call the last chunk with an ID wins. Chunks are checked first: a chunk
// without ID or DocID, or with a negative Page, Ordinal or Tokens, fails
// the whole call with quarry.ErrInvalid before anything is written.
// Chunks are written in batches of Config.BatchSize; if ctx ends or a
// batch fails, the batches before it stay written (Upsert is idempotent,
// so retrying the call is safe).
func (ix *Index) Upsert(ctx context.Context, chunks []quarry.Chunk) error {
	list, err := distinctChunks("upsert", chunks)
	if err != nil || len(list) == 0 {
		return err
	}
	if err := ix.acquire(); err != nil {
		return err
	}
	defer ix.mu.RUnlock()
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()

	for start := 0; start < len(list); start += ix.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return ctxError(err)
		}
		end := min(start+ix.cfg.BatchSize, len(list))
		if err := ix.write(ctx, nil, list[start:end]); err != nil {
			return translate("upsert", err)
		}
	}
	return nil
}

// Replace removes every chunk of the documents docIDs and adds chunks
// (as Upsert would), all in one bleve batch whatever its size: a search
// sees the index before or after it, and a crash keeps one or the other.
// It is how an index writer swaps many documents at once, with one
// segment and one sync instead of two per document. Chunks are checked
// as Upsert checks them, before anything is written.
func (ix *Index) Replace(ctx context.Context, docIDs []string, chunks []quarry.Chunk) error {
	for _, id := range docIDs {
		if id == "" {
			return quarry.Errorf(quarry.CodeInvalid, "bleveindex: replace: empty document id")
		}
	}
	list, err := distinctChunks("replace", chunks)
	if err != nil {
		return err
	}
	if len(list) == 0 && len(docIDs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	if err := ix.acquire(); err != nil {
		return err
	}
	defer ix.mu.RUnlock()
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	if err := ix.write(ctx, docIDs, list); err != nil {
		return translate("replace", err)
	}
	return nil
}

// distinctChunks checks chunks and keeps the last chunk of each ID, in
// first-seen order.
func distinctChunks(op string, chunks []quarry.Chunk) ([]quarry.Chunk, error) {
	for i, c := range chunks {
		if err := checkChunk(c); err != nil {
			return nil, quarry.Errorf(quarry.CodeInvalid, "bleveindex: %s: chunk %d (%q): %w", op, i, c.ID, err)
		}
	}
	at := make(map[string]int, len(chunks))
	list := make([]quarry.Chunk, 0, len(chunks))
	for _, c := range chunks {
		if i, ok := at[c.ID]; ok {
			list[i] = c
			continue
		}
		at[c.ID] = len(list)
		list = append(list, c)
	}
	return list, nil
}

func checkChunk(c quarry.Chunk) error {
	switch {
	case c.ID == "":
		return fmt.Errorf("empty chunk ID")
	case c.DocID == "":
		return fmt.Errorf("empty DocID")
	case c.Page < 0:
		return fmt.Errorf("negative Page %d", c.Page)
	case c.Ordinal < 0:
		return fmt.Errorf("negative Ordinal %d", c.Ordinal)
	case c.Tokens < 0:
		return fmt.Errorf("negative Tokens %d", c.Tokens)
	}
	return nil
}

// write deletes the chunks of docIDs and indexes chunks (distinct IDs),
// with the statistics updated for both, in one bleve batch. The caller
// holds writeMu.
func (ix *Index) write(ctx context.Context, docIDs []string, chunks []quarry.Chunk) error {
	r, err := ix.reader()
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	st, err := readStats(r)
	if err != nil {
		return err
	}
	n, err := r.DocCount()
	if err != nil {
		return err
	}
	var dv bindex.DocValueReader
	var victims []victim
	if n > 0 {
		if dv, err = r.DocValueReader([]string{fieldLens}); err != nil {
			return err
		}
		if victims, err = docChunks(ctx, r, dv, docIDs); err != nil {
			return err
		}
	}
	// Field lengths take an analysis of each chunk: spread it over the
	// cores, as bleve spreads its own analysis of the batch.
	lens := ix.lengthsAll(chunks)

	b := ix.idx.NewBatch()
	gone := make(map[string]bool, len(victims))
	for _, v := range victims {
		b.Delete(v.id)
		st.add(v.lens, -1)
		gone[v.id] = true
	}
	for i, c := range chunks {
		if dv != nil && !gone[c.ID] {
			id, err := r.InternalID(c.ID)
			if err != nil {
				return err
			}
			if id != nil {
				old, err := storedLengths(dv, id)
				if err != nil {
					return fmt.Errorf("chunk %q: %w", c.ID, err)
				}
				st.add(old, -1)
			}
		}
		st.add(lens[i], +1)
		if err := b.Index(c.ID, document(c, lens[i])); err != nil {
			return fmt.Errorf("chunk %q: %w", c.ID, err)
		}
	}
	sb, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b.SetInternal(statsKey, sb)
	return ix.idx.Batch(b)
}

// lengthsAll returns the field lengths of each chunk, computed on up to
// GOMAXPROCS goroutines for a large batch.
func (ix *Index) lengthsAll(chunks []quarry.Chunk) []lengths {
	out := make([]lengths, len(chunks))
	workers := min(runtime.GOMAXPROCS(0), len(chunks)/64)
	if workers <= 1 {
		for i, c := range chunks {
			out[i] = ix.lengths(c)
		}
		return out
	}
	var wg sync.WaitGroup
	per := (len(chunks) + workers - 1) / workers
	for start := 0; start < len(chunks); start += per {
		end := min(start+per, len(chunks))
		wg.Go(func() {
			for i := start; i < end; i++ {
				out[i] = ix.lengths(chunks[i])
			}
		})
	}
	wg.Wait()
	return out
}

// lengths analyses a chunk's searchable fields as bleve will, to keep
// the BM25 length statistics.
func (ix *Index) lengths(c quarry.Chunk) lengths {
	var l lengths
	for i, v := range [len(searchFields)]string{c.Text, c.Title, c.Heading} {
		if v != "" {
			l[i] = len(ix.terms.Analyze([]byte(v)))
		}
	}
	return l
}

func storedLengths(dv bindex.DocValueReader, id bindex.IndexInternalID) (lengths, error) {
	var l lengths
	ok := false
	err := dv.VisitDocValues(id, func(field string, term []byte) {
		if field == fieldLens {
			l, ok = decodeLengths(term)
		}
	})
	if err != nil {
		return l, err
	}
	if !ok {
		return l, fmt.Errorf("no field lengths stored")
	}
	return l, nil
}

// document is the bleve document of a chunk.
func document(c quarry.Chunk, l lengths) map[string]any {
	return map[string]any{
		fieldText:    c.Text,
		fieldTitle:   c.Title,
		fieldHeading: c.Heading,
		fieldDocID:   c.DocID,
		fieldPath:    c.Path,
		fieldLang:    c.Lang,
		fieldPage:    float64(c.Page),
		fieldOrdinal: float64(c.Ordinal),
		fieldTokens:  float64(c.Tokens),
		fieldLens:    l.encode(),
	}
}

// chunkFromFields rebuilds a chunk from a hit's stored fields.
func chunkFromFields(id string, f map[string]any) quarry.Chunk {
	str := func(k string) string { s, _ := f[k].(string); return s }
	num := func(k string) int { n, _ := f[k].(float64); return int(n) }
	return quarry.Chunk{
		ID:      id,
		DocID:   str(fieldDocID),
		Path:    str(fieldPath),
		Title:   str(fieldTitle),
		Heading: str(fieldHeading),
		Page:    num(fieldPage),
		Ordinal: num(fieldOrdinal),
		Text:    str(fieldText),
		Tokens:  num(fieldTokens),
		Lang:    str(fieldLang),
	}
}

// DeleteDocs removes every chunk of the given documents. Unknown ids are
// not an error; an empty id is quarry.ErrInvalid.
func (ix *Index) DeleteDocs(ctx context.Context, docIDs ...string) error {
	for _, id := range docIDs {
		if id == "" {
			return quarry.Errorf(quarry.CodeInvalid, "bleveindex: delete: empty document id")
		}
	}
	if len(docIDs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	if err := ix.acquire(); err != nil {
		return err
	}
	defer ix.mu.RUnlock()
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	if err := ix.deleteDocs(ctx, docIDs); err != nil {
		return translate("delete", err)
	}
	return nil
}

// victim is an indexed chunk about to be deleted, with its field
// lengths (to take them out of the statistics).
type victim struct {
	id   string
	lens lengths
}

// docChunks lists the chunks of the documents docIDs.
func docChunks(ctx context.Context, r bindex.IndexReader, dv bindex.DocValueReader, docIDs []string) ([]victim, error) {
	var victims []victim
	seen := make(map[string]bool, len(docIDs))
	for _, docID := range docIDs {
		if seen[docID] {
			continue
		}
		seen[docID] = true
		tfr, err := r.TermFieldReader(ctx, []byte(docID), fieldDocID, false, false, false)
		if err != nil {
			return nil, err
		}
		for {
			d, err := tfr.Next(nil)
			if err != nil {
				_ = tfr.Close()
				return nil, err
			}
			if d == nil {
				break
			}
			ext, err := r.ExternalID(d.ID)
			if err != nil {
				_ = tfr.Close()
				return nil, err
			}
			l, err := storedLengths(dv, d.ID)
			if err != nil {
				_ = tfr.Close()
				return nil, fmt.Errorf("chunk %q: %w", ext, err)
			}
			victims = append(victims, victim{ext, l})
		}
		if err := tfr.Close(); err != nil {
			return nil, err
		}
	}
	return victims, nil
}

func (ix *Index) deleteDocs(ctx context.Context, docIDs []string) error {
	r, err := ix.reader()
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	st, err := readStats(r)
	if err != nil {
		return err
	}
	dv, err := r.DocValueReader([]string{fieldLens})
	if err != nil {
		return err
	}
	victims, err := docChunks(ctx, r, dv, docIDs)
	if err != nil {
		return err
	}

	for start := 0; start < len(victims); start += ix.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := ix.idx.NewBatch()
		for _, v := range victims[start:min(start+ix.cfg.BatchSize, len(victims))] {
			b.Delete(v.id)
			st.add(v.lens, -1)
		}
		sb, err := json.Marshal(st)
		if err != nil {
			return err
		}
		b.SetInternal(statsKey, sb)
		if err := ix.idx.Batch(b); err != nil {
			return err
		}
	}
	return nil
}
