package httpx

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxMessage bounds the message taken from an error body.
const maxMessage = 500

// ErrorMessage extracts a human-readable message from an error
// response's body. It understands the shapes model servers use:
//
//	OpenAI and most compatible servers  {"error": {"message": "...", "type": "...", "code": "..."}}
//	Ollama, llama.cpp, LM Studio        {"error": "..."}
//	vLLM                                {"object": "error", "message": "...", "type": "..."}
//	FastAPI-based servers (TEI, ...)    {"detail": "..."} or {"detail": [{"msg": "..."}]}
//
// Anything else yields the body's text, trimmed to one short line.
func ErrorMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Detail  json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return oneLine(string(body))
	}
	if len(v.Error) > 0 && string(v.Error) != "null" {
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return oneLine(s)
		}
		var e struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		}
		if json.Unmarshal(v.Error, &e) == nil && e.Message != "" {
			return oneLine(withKind(e.Message, e.Type, e.Code))
		}
	}
	if v.Message != "" {
		return oneLine(withKind(v.Message, v.Type, v.Code))
	}
	if len(v.Detail) > 0 {
		var s string
		if json.Unmarshal(v.Detail, &s) == nil {
			return oneLine(s)
		}
		var ds []struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(v.Detail, &ds) == nil && len(ds) > 0 {
			msgs := make([]string, 0, len(ds))
			for _, d := range ds {
				msgs = append(msgs, d.Msg)
			}
			return oneLine(strings.Join(msgs, "; "))
		}
	}
	return oneLine(string(body))
}

// withKind appends the error type and code, when known, to msg.
func withKind(msg, typ string, code json.RawMessage) string {
	var parts []string
	if typ != "" {
		parts = append(parts, "type "+typ)
	}
	if c := strings.Trim(string(code), `"`); c != "" && c != "null" {
		parts = append(parts, "code "+c)
	}
	if len(parts) == 0 {
		return msg
	}
	return fmt.Sprintf("%s (%s)", msg, strings.Join(parts, ", "))
}

// oneLine collapses whitespace and cuts s to maxMessage bytes on a
// character boundary.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
