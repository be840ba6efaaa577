package server

import (
	"strings"

	"github.com/quarry-kb/quarry"
)

// The wire types below are the HTTP API's JSON. They are declared here,
// not borrowed from package quarry, so that a field added to a domain
// type never changes the API (or becomes settable by callers) by
// accident.

// searchRequestJSON is the body of POST /v1/search.
type searchRequestJSON struct {
	Query   string `json:"query"`
	K       int    `json:"k"`
	Explain bool   `json:"explain"`
	Mode    string `json:"mode"`
}

func (in searchRequestJSON) toRequest(maxK int) (quarry.SearchRequest, error) {
	q := strings.TrimSpace(in.Query)
	if q == "" {
		return quarry.SearchRequest{}, quarry.Errorf(quarry.CodeInvalid, `field "query" is required and must not be blank`)
	}
	if err := checkK(in.K, maxK); err != nil {
		return quarry.SearchRequest{}, err
	}
	switch in.Mode {
	case "", quarry.ModeHybrid, quarry.ModeKeyword, quarry.ModeVector:
	default:
		return quarry.SearchRequest{}, quarry.Errorf(quarry.CodeInvalid, `field "mode" must be %q, %q or %q, got %q`,
			quarry.ModeHybrid, quarry.ModeKeyword, quarry.ModeVector, in.Mode)
	}
	return quarry.SearchRequest{Query: q, K: in.K, Explain: in.Explain, Mode: in.Mode}, nil
}

// askRequestJSON is the body of POST /v1/ask.
type askRequestJSON struct {
	Question string        `json:"question"`
	K        int           `json:"k"`
	History  []messageJSON `json:"history"`
	// ConversationID continues a conversation (the conversation_id of an
	// earlier answer); empty starts one.
	ConversationID string `json:"conversation_id"`
	// Channel is "api" (default) or "widget" (set by the website
	// widget; a key bound to an origin is always the widget's).
	Channel string `json:"channel"`
}

func (in askRequestJSON) channel() string {
	if in.Channel == quarry.ChannelWidget {
		return quarry.ChannelWidget
	}
	return quarry.ChannelAPI
}

type messageJSON struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func (in askRequestJSON) toRequest(maxK int) (quarry.AskRequest, error) {
	q := strings.TrimSpace(in.Question)
	if q == "" {
		return quarry.AskRequest{}, quarry.Errorf(quarry.CodeInvalid, `field "question" is required and must not be blank`)
	}
	if err := checkK(in.K, maxK); err != nil {
		return quarry.AskRequest{}, err
	}
	if err := checkConversationID(in.ConversationID); err != nil {
		return quarry.AskRequest{}, err
	}
	switch in.Channel {
	case "", quarry.ChannelAPI, quarry.ChannelWidget:
	default:
		return quarry.AskRequest{}, quarry.Errorf(quarry.CodeInvalid, `field "channel" must be %q or %q, got %q`, quarry.ChannelAPI, quarry.ChannelWidget, in.Channel)
	}
	var history []quarry.Message
	if len(in.History) > 0 {
		history = make([]quarry.Message, len(in.History))
	}
	for i, m := range in.History {
		// Callers may replay the conversation, not instruct the model:
		// a "system" turn from the outside would be a prompt injection.
		if m.Role != "user" && m.Role != "assistant" {
			return quarry.AskRequest{}, quarry.Errorf(quarry.CodeInvalid, `history[%d]: field "role" must be "user" or "assistant", got %q`, i, m.Role)
		}
		history[i] = quarry.Message{Role: m.Role, Content: m.Content}
	}
	return quarry.AskRequest{Question: q, K: in.K, History: history}, nil
}

func checkK(k, maxK int) error {
	if k < 0 || k > maxK {
		return quarry.Errorf(quarry.CodeInvalid, `field "k" must be between 1 and %d (or 0 for the default), got %d`, maxK, k)
	}
	return nil
}

// searchResponseJSON is the body of a successful POST /v1/search.
type searchResponseJSON struct {
	Results []passageJSON `json:"results"`
	Notes   []string      `json:"notes,omitempty"`
}

type passageJSON struct {
	DocID   string              `json:"doc_id"`
	ChunkID string              `json:"chunk_id"`
	Path    string              `json:"path"`
	Title   string              `json:"title"`
	Heading string              `json:"heading"`
	Page    int                 `json:"page"` // 1-based; 0 when the source has no pages
	Text    string              `json:"text"`
	Score   float64             `json:"score"`
	Explain *quarry.Explanation `json:"explain,omitempty"`
}

func toSearchResponse(res quarry.SearchResult) searchResponseJSON {
	return searchResponseJSON{Results: toPassages(res.Passages), Notes: res.Notes}
}

func toPassages(ps []quarry.Passage) []passageJSON {
	out := make([]passageJSON, len(ps))
	for i, p := range ps {
		out[i] = passageJSON{
			DocID:   p.DocID,
			ChunkID: p.ID,
			Path:    p.Path,
			Title:   p.Title,
			Heading: p.Heading,
			Page:    p.Page,
			Text:    p.Text,
			Score:   p.Score,
			Explain: p.Explain,
		}
	}
	return out
}

// answerJSON is the body of a successful POST /v1/ask, and the answer
// carried by the SSE done event.
type answerJSON struct {
	Answer         string         `json:"answer"`
	Answered       bool           `json:"answered"`
	Grounded       bool           `json:"grounded"`
	Lang           string         `json:"lang"`
	Citations      []citationJSON `json:"citations"`
	Notes          []string       `json:"notes,omitempty"`
	AnswerID       string         `json:"answer_id,omitempty"`
	ConversationID string         `json:"conversation_id,omitempty"`
	Handoff        *handoffJSON   `json:"handoff,omitempty"`
	// Strategy names the reply-strategy rule that answered instead of
	// retrieval: curated, blocked, small_talk or handoff.
	Strategy string `json:"strategy,omitempty"`
}

type handoffJSON struct {
	Message string `json:"message,omitempty"`
	URL     string `json:"url,omitempty"`
	Email   string `json:"email,omitempty"`
}

func toHandoff(h *quarry.Handoff) *handoffJSON {
	if h == nil {
		return nil
	}
	return &handoffJSON{Message: h.Message, URL: h.URL, Email: h.Email}
}

type citationJSON struct {
	N       int    `json:"n"`
	DocID   string `json:"doc_id"`
	Path    string `json:"path"`
	Title   string `json:"title"`
	Heading string `json:"heading"`
	Page    int    `json:"page"`
	ChunkID string `json:"chunk_id"`
	Snippet string `json:"snippet"`
}

func toAnswer(a quarry.Answer) answerJSON {
	return answerJSON{
		Answer:    a.Text,
		Answered:  a.Answered,
		Grounded:  a.Grounded,
		Lang:      a.Lang,
		Citations: toCitations(a.Citations),
		Notes:     a.Notes,

		AnswerID:       a.AnswerID,
		ConversationID: a.ConversationID,
		Handoff:        toHandoff(a.Handoff),
		Strategy:       a.Strategy,
	}
}

func toCitations(cs []quarry.Citation) []citationJSON {
	out := make([]citationJSON, len(cs))
	for i, c := range cs {
		out[i] = citationJSON{
			N:       c.N,
			DocID:   c.DocID,
			Path:    c.Path,
			Title:   c.Title,
			Heading: c.Heading,
			Page:    c.Page,
			ChunkID: c.ChunkID,
			Snippet: c.Snippet,
		}
	}
	return out
}

// SSE event data. Each carries its type, so a client that only reads
// data lines still knows what it got.

type passagesEventJSON struct {
	Type     string        `json:"type"`
	Passages []passageJSON `json:"passages"`
}

type deltaEventJSON struct {
	Type  string `json:"type"`
	Delta string `json:"delta"`
}

type citationsEventJSON struct {
	Type      string         `json:"type"`
	Citations []citationJSON `json:"citations"`
}

type doneEventJSON struct {
	Type   string     `json:"type"`
	Answer answerJSON `json:"answer"`
}

type statusJSON struct {
	Status string `json:"status"`
}
