package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
)

// Documents is what the document routes need: adding, replacing and
// removing a document of a knowledge base, ingested at once (a new
// generation is switched to, with no downtime). The results are encoded
// as the JSON response.
type Documents interface {
	// PutDocument adds or replaces the document at path of knowledge
	// base kb with body (its extension chooses the parser).
	PutDocument(ctx context.Context, kb, path string, body io.Reader) (any, error)
	// DeleteDocument removes a document added with PutDocument.
	DeleteDocument(ctx context.Context, kb, path string) (any, error)
}

// DefaultMaxDocumentBytes caps a document sent to PUT
// /v1/kb/{kb}/documents.
const DefaultMaxDocumentBytes = 32 << 20

// documentRoutes mounts PUT and DELETE /v1/kb/{kb}/documents?path=...
// (scope ingest: see policy) when Config.Documents is set.
func (s *Server) documentRoutes(r chi.Router) {
	if s.cfg.Documents == nil {
		return
	}
	a := s.api(r, GroupIngest, urlKB)
	a.Put("/v1/kb/{kb}/documents", s.handlePutDocument)
	a.Delete("/v1/kb/{kb}/documents", s.handleDeleteDocument)
}

// documentPath returns the ?path= of a document request.
func documentPath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", quarry.Errorf(quarry.CodeInvalid, "missing ?path=: the document's path in the knowledge base, such as guide/install.md")
	}
	return p, nil
}

// handlePutDocument stores the request body as the document and
// ingests it before answering.
func (s *Server) handlePutDocument(w http.ResponseWriter, r *http.Request) {
	p, err := documentPath(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit := s.cfg.MaxDocumentBytes
	if r.ContentLength > limit {
		s.fail(w, r, quarry.Errorf(quarry.CodeTooLarge, "document is larger than the limit of %d bytes", limit))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = quarry.Errorf(quarry.CodeTooLarge, "document is larger than the limit of %d bytes", limit)
		} else {
			err = quarry.Errorf(quarry.CodeInvalid, "reading the document: %w", err)
		}
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	res, err := s.cfg.Documents.PutDocument(ctx, KnowledgeBase(r.Context()), p, bytes.NewReader(body))
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, res)
}

// handleDeleteDocument removes the document and ingests the change
// before answering.
func (s *Server) handleDeleteDocument(w http.ResponseWriter, r *http.Request) {
	p, err := documentPath(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	res, err := s.cfg.Documents.DeleteDocument(ctx, KnowledgeBase(r.Context()), p)
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, res)
}
