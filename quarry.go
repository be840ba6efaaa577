// Package quarry holds the domain types shared by every part of Quarry:
// documents and their chunks, retrieved passages, grounded answers with
// citations, the events an answer streams as, and the error codes that
// every layer speaks (see errors.go).
//
// The pipeline lives in subpackages, in the order data flows:
// ingest → index → retrieve → generate → server. Adapters (Bleve, the
// embedded vector store, Qdrant, LLM providers) never import each other;
// only cmd/quarry wires them together.
package quarry

import "time"

// Document is one source file of a knowledge base.
type Document struct {
	ID      string    `json:"doc_id"` // stable id derived from Path
	Path    string    `json:"path"`   // slash-separated, relative to the source root
	Title   string    `json:"title"`  // from the document (first heading, <title>, PDF metadata) or the file name
	Type    string    `json:"type"`   // "markdown", "html", "text", "pdf", "docx", "pptx", "xlsx", "csv", "image"
	Lang    string    `json:"lang"`   // "en" or "zh" (dominant script)
	Hash    string    `json:"hash"`   // hex SHA-256 of the file's bytes
	Size    int64     `json:"size"`   // bytes
	ModTime time.Time `json:"mod_time"`
}

// Chunk is a token-sized piece of a document, the unit that is indexed,
// retrieved and cited.
type Chunk struct {
	ID      string `json:"chunk_id"` // DocID + "#" + Ordinal
	DocID   string `json:"doc_id"`
	Path    string `json:"path"`
	Title   string `json:"title"`
	Heading string `json:"heading,omitempty"` // heading path, joined with " > "
	Page    int    `json:"page,omitempty"`    // 1-based PDF page or slide; 0 when the source has no pages
	Ordinal int    `json:"ordinal"`           // position of the chunk in its document, from 0
	Text    string `json:"text"`
	Tokens  int    `json:"tokens"` // cl100k_base tokens in Text
	Lang    string `json:"lang,omitempty"`
}

// Markers in a chunk's heading path (the last element) that tell how
// its text was obtained, for answers to say so.
const (
	// FAQHeadingPrefix starts the heading of a chunk made from one
	// question-and-answer pair of a FAQ sheet: "Q: question / paraphrase";
	// the chunk's text is the answer, whole.
	FAQHeadingPrefix = "Q: "
	// OCRHeadingSuffix ends the heading of a chunk whose text was
	// recognised by OCR from a scanned page or an image, and may hold
	// recognition errors.
	OCRHeadingSuffix = "(OCR)"
)

// Passage is a chunk returned by retrieval, with its fused score and,
// when asked for, how that score came about.
type Passage struct {
	Chunk
	Score   float64      `json:"score"`
	Explain *Explanation `json:"explain,omitempty"`
}

// Explanation tells how a passage's fused score was computed from the
// retrieval legs.
type Explanation struct {
	Method  string     `json:"method"` // "weighted" (normalised score fusion) or "rrf"
	Legs    []LegScore `json:"legs"`
	Summary string     `json:"summary"` // human-readable formula with the numbers filled in
}

// LegScore is one retrieval leg's view of a passage. Rank is 1-based; 0
// means the leg did not return the passage.
type LegScore struct {
	Leg          string  `json:"leg"` // "keyword" or "vector"
	Rank         int     `json:"rank"`
	Score        float64 `json:"score"`        // the leg's raw score
	Normalized   float64 `json:"normalized"`   // the score after normalisation (or the RRF term)
	Weight       float64 `json:"weight"`       // the leg's weight in the fusion
	Contribution float64 `json:"contribution"` // Weight × Normalized: this leg's share of Passage.Score
}

// Retrieval modes: which legs a search uses.
const (
	ModeHybrid  = "hybrid"
	ModeKeyword = "keyword"
	ModeVector  = "vector"
)

// SearchRequest asks for the passages that best match a query.
type SearchRequest struct {
	Query   string `json:"query"`
	K       int    `json:"k,omitempty"`       // results wanted; 0 means the default
	Explain bool   `json:"explain,omitempty"` // attach an Explanation to every passage
	Mode    string `json:"mode,omitempty"`    // ModeHybrid (default), ModeKeyword or ModeVector
}

// SearchResult is what a search returns. Notes tell the caller about a
// partial result, for example a retrieval leg that failed.
type SearchResult struct {
	Passages []Passage `json:"results"`
	Notes    []string  `json:"notes,omitempty"`
}

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"` // "user" or "assistant" (or "system")
	Content string `json:"content"`
}

// AskRequest asks for a grounded answer.
type AskRequest struct {
	Question string    `json:"question"`
	K        int       `json:"k,omitempty"`       // passages to retrieve; 0 means the default
	History  []Message `json:"history,omitempty"` // earlier turns, oldest first
}

// Answer is a grounded answer. When Answered is false, Text is a polite
// "I don't know" in the question's language and the question should be
// handed to a human.
type Answer struct {
	Text      string     `json:"answer"`
	Answered  bool       `json:"answered"`
	Grounded  bool       `json:"grounded"` // every claim cites a retrieved passage
	Lang      string     `json:"lang"`
	Citations []Citation `json:"citations"`
	Passages  []Passage  `json:"-"`
	// Query is the standalone question retrieval searched for when it
	// differs from the one asked (a follow-up rewritten from the
	// conversation); "" otherwise.
	Query string   `json:"query,omitempty"`
	Notes []string `json:"notes,omitempty"`
	// Strategy names the knowledge base's reply-strategy rule that gave
	// this answer instead of retrieval ("curated", "blocked",
	// "small_talk", "handoff"); empty for a retrieved answer.
	Strategy string `json:"strategy,omitempty"`
	// AnswerID and ConversationID identify the answer in the
	// conversation log (feedback names the AnswerID); the server sets
	// them.
	AnswerID       string `json:"answer_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Handoff is the knowledge base's way to reach a person, set on a
	// declined answer when one is configured.
	Handoff *Handoff `json:"handoff,omitempty"`
}

// Handoff tells an asker whom to turn to when Quarry cannot answer:
// any of a link, an e-mail address and a message.
type Handoff struct {
	Message string `json:"message,omitempty"`
	URL     string `json:"url,omitempty"`
	Email   string `json:"email,omitempty"`
}

// Citation ties the marker [N] in an answer to the passage it cites.
// Snippet is a verbatim substring of the cited chunk's text.
type Citation struct {
	N       int    `json:"n"`
	DocID   string `json:"doc_id"`
	Path    string `json:"path"`
	Title   string `json:"title"`
	Heading string `json:"heading,omitempty"`
	Page    int    `json:"page,omitempty"`
	ChunkID string `json:"chunk_id"`
	Snippet string `json:"snippet"`
}

// Event types of a streamed answer, in the order they are sent:
// passages, then any number of deltas, then citations, then done.
const (
	EventPassages  = "passages"
	EventDelta     = "delta"
	EventCitations = "citations"
	EventDone      = "done"
	EventError     = "error"
)

// Event is one step of a streamed answer. Only the field that matches
// Type is set.
type Event struct {
	Type      string     `json:"type"`
	Passages  []Passage  `json:"passages,omitempty"`
	Delta     string     `json:"delta,omitempty"`
	Citations []Citation `json:"citations,omitempty"`
	Answer    *Answer    `json:"answer,omitempty"` // on done
}
