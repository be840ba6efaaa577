package bleveindex

import (
	"context"
	"encoding/json"
	"fmt"

	bindex "github.com/blevesearch/bleve_index_api"

	"github.com/quarry-kb/quarry"
)

// storedFields are loaded with every hit to rebuild its chunk.
var storedFields = []string{
	fieldText, fieldTitle, fieldHeading, fieldDocID, fieldPath,
	fieldPage, fieldOrdinal, fieldTokens, fieldLang,
}

// Upsert adds chunks, replacing any with the same chunk ID; within one
// call the last chunk with an ID wins. Chunks are checked first: a chunk
// without ID or DocID, or with a negative Page, Ordinal or Tokens, fails
// the whole call with quarry.ErrInvalid before anything is written.
// Chunks are written in batches of Config.BatchSize; if ctx ends or a
// batch fails, the batches before it stay written (Upsert is idempotent,
// so retrying the call is safe).
func (ix *Index) Upsert(ctx context.Context, chunks []quarry.Chunk) error {
	for i, c := range chunks {
		if err := checkChunk(c); err != nil {
			return quarry.Errorf(quarry.CodeInvalid, "bleveindex: upsert: chunk %d (%q): %w", i, c.ID, err)
		}
	}
	// Last one wins, in first-seen order.
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
	if len(list) == 0 {
		return nil
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
		if err := ix.upsertBatch(list[start:end]); err != nil {
			return translate("upsert", err)
		}
	}
	return nil
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

// upsertBatch writes chunks (distinct IDs) and the statistics updated
// for them in one bleve batch. The caller holds writeMu.
func (ix *Index) upsertBatch(chunks []quarry.Chunk) error {
	r, err := ix.reader()
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	st, err := readStats(r)
	if err != nil {
		return err
	}
	var dv bindex.DocValueReader
	n, err := r.DocCount()
	if err != nil {
		return err
	}
	if n > 0 {
		if dv, err = r.DocValueReader([]string{fieldLens}); err != nil {
			return err
		}
	}

	b := ix.idx.NewBatch()
	for _, c := range chunks {
		if dv != nil {
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
		l := ix.lengths(c)
		st.add(l, +1)
		if err := b.Index(c.ID, document(c, l)); err != nil {
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

func (ix *Index) deleteDocs(ctx context.Context, docIDs []string) error {
	type victim struct {
		id   string
		lens lengths
	}
	var victims []victim
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
	seen := make(map[string]bool, len(docIDs))
	for _, docID := range docIDs {
		if seen[docID] {
			continue
		}
		seen[docID] = true
		tfr, err := r.TermFieldReader(ctx, []byte(docID), fieldDocID, false, false, false)
		if err != nil {
			return err
		}
		for {
			d, err := tfr.Next(nil)
			if err != nil {
				_ = tfr.Close()
				return err
			}
			if d == nil {
				break
			}
			ext, err := r.ExternalID(d.ID)
			if err != nil {
				_ = tfr.Close()
				return err
			}
			l, err := storedLengths(dv, d.ID)
			if err != nil {
				_ = tfr.Close()
				return fmt.Errorf("chunk %q: %w", ext, err)
			}
			victims = append(victims, victim{ext, l})
		}
		if err := tfr.Close(); err != nil {
			return err
		}
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
