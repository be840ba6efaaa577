package kb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/quarry-kb/quarry"
)

// Documents sent over the API (PUT and DELETE
// /v1/kb/{kb}/documents?path=...) are kept in a folder of the knowledge
// base's own, recorded as its source under the prefix UploadsPrefix: a
// rebuild reads them again like any other source, and an ingest of
// another source leaves them alone.
const (
	UploadsDir    = "uploads" // in the knowledge base's root
	UploadsPrefix = "uploads" // where they sit in the knowledge base
	// MaxDocumentPath bounds the path of an uploaded document.
	MaxDocumentPath = 512
)

// DocumentResult is what PutDocument and DeleteDocument did.
type DocumentResult struct {
	KB string `json:"kb"`
	// Path is the document's path in the knowledge base (what search
	// results and citations show): UploadsPrefix/PATH.
	Path string `json:"path"`
	// Action is "added", "updated", "unchanged" or "removed".
	Action string `json:"action"`
	// Chunks is the number of chunks written for the document.
	Chunks int `json:"chunks"`
	// Generation is the generation serving once the change is made (the
	// server answers from it within moments).
	Generation string `json:"generation"`
}

// CleanDocumentPath checks the path of a document sent over the API: a
// relative slash-separated path of visible names ("guide/install.md").
func CleanDocumentPath(p string) (string, error) {
	if p == "" || len(p) > MaxDocumentPath || !fs.ValidPath(p) || p == "." ||
		strings.HasPrefix(p, ".") || strings.Contains(p, "/.") || strings.ContainsAny(p, "\\\x00") {
		return "", quarry.Errorf(quarry.CodeInvalid,
			"invalid document path %q: use a relative path of at most %d bytes such as guide/install.md (no '..', no leading '/' or '.')", clipText(p), MaxDocumentPath)
	}
	return p, nil
}

// PutDocument adds or replaces the document at path p (see
// CleanDocumentPath) of knowledge base name with the content read from
// body, and ingests it at once into a new generation, switched to with
// no downtime (incrementally: only this document is parsed and
// embedded). The file's extension chooses its parser, as in a folder.
// A document that cannot be ingested (an unsupported type, a file with
// no text) is refused and the knowledge base left as it was. Another
// ingest or rebuild running on the knowledge base is quarry.ErrConflict.
func (m *Manager) PutDocument(ctx context.Context, name, p string, body io.Reader) (DocumentResult, error) {
	return m.changeDocument(ctx, name, p, func(file string) (func() error, error) {
		return replaceFile(file, body)
	})
}

// DeleteDocument removes the document at path p of knowledge base name,
// sent earlier with PutDocument, and ingests the change at once.
func (m *Manager) DeleteDocument(ctx context.Context, name, p string) (DocumentResult, error) {
	return m.changeDocument(ctx, name, p, func(file string) (func() error, error) {
		old, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, quarry.Errorf(quarry.CodeNotFound, "no document %q in knowledge base %q", p, name)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Base(file), err)
		}
		if err := os.Remove(file); err != nil {
			return nil, fmt.Errorf("remove %s: %w", filepath.Base(file), err)
		}
		return func() error { return writeFileAtomic(file, old) }, nil
	})
}

// changeDocument runs change on the document's file under the knowledge
// base's writer lock, then ingests the uploads folder; when that fails,
// the change is undone.
func (m *Manager) changeDocument(ctx context.Context, name, p string, change func(file string) (undo func() error, err error)) (DocumentResult, error) {
	p, err := CleanDocumentPath(p)
	if err != nil {
		return DocumentResult{}, err
	}
	d, err := m.existing(name)
	if err != nil {
		return DocumentResult{}, err
	}
	uploads := filepath.Join(d.Root(), UploadsDir)
	if srcs, err := loadSources(d); err == nil {
		for _, s := range srcs {
			if s.Prefix == UploadsPrefix && !sameSource(s.Path, uploads) {
				return DocumentResult{}, quarry.Errorf(quarry.CodeConflict,
					"knowledge base %q has a folder ingested under the prefix %q: documents cannot be sent over the API to it", name, UploadsPrefix)
			}
		}
	}
	// One change at a time in this process; the writer lock keeps out
	// other processes (and this one's rebuilds: 409).
	m.docMu.Lock()
	defer m.docMu.Unlock()
	w, err := d.Lock()
	if errors.Is(err, quarry.ErrConflict) {
		// (without the server's path, which the lock's error names)
		return DocumentResult{}, quarry.Errorf(quarry.CodeConflict, "another ingest or rebuild is running on knowledge base %q: try again when it is done", name)
	}
	if err != nil {
		return DocumentResult{}, err
	}
	defer w.Unlock()
	file := filepath.Join(uploads, filepath.FromSlash(p))
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		return DocumentResult{}, quarry.Errorf(quarry.CodeConflict, "document path %q is a folder of documents", p)
	}
	undo, err := change(file)
	if err != nil {
		return DocumentResult{}, err
	}
	vb, err := m.vectors(name)
	if err != nil {
		return DocumentResult{}, errors.Join(err, undo())
	}
	defer vb.Close()
	kbPath := UploadsPrefix + "/" + p
	b := BuildOptions{Prefix: UploadsPrefix, Source: uploads, Reason: "api"}
	if _, err := os.Stat(file); err == nil {
		b.require = kbPath
	}
	sum, st, err := m.buildLocked(ctx, name, d, w, vb, os.DirFS(uploads), b)
	if err != nil {
		return DocumentResult{}, errors.Join(err, undo())
	}
	res := DocumentResult{KB: name, Path: kbPath, Chunks: sum.Chunks}
	switch {
	case sum.Added > 0:
		res.Action = "added"
	case sum.Updated > 0:
		res.Action = "updated"
	case sum.Removed > 0:
		res.Action = "removed"
	default:
		res.Action = "unchanged"
	}
	if st.Current != "" {
		res.Generation = st.Current
		m.notify(ctx, name)
	} else if cur, err := d.State(); err == nil {
		res.Generation = cur.Current
	}
	return res, nil
}

// replaceFile writes body to file atomically and returns how to put the
// previous content (or absence) back.
func replaceFile(file string, body io.Reader) (func() error, error) {
	old, rerr := os.ReadFile(file)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, quarry.Errorf(quarry.CodeConflict, "a folder of the document's path is a document: %s", filepath.Base(filepath.Dir(file)))
	}
	f, err := os.CreateTemp(filepath.Dir(file), ".upload-*")
	if err != nil {
		return nil, fmt.Errorf("store the document: %w", err)
	}
	tmp := f.Name()
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("store the document: %w", err)
	}
	if rerr != nil {
		return func() error { return os.Remove(file) }, nil
	}
	return func() error { return writeFileAtomic(file, old) }, nil
}

func writeFileAtomic(file string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".upload-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), file)
}

func clipText(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
