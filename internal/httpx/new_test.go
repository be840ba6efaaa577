package httpx

import (
	"net/http"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry"
)

func TestEndpoint(t *testing.T) {
	tests := []struct {
		base, want, wantErr string
	}{
		{"https://api.example.com/v1/", "https://api.example.com/v1/chat", ""},
		{" http://localhost:11434 ", "http://localhost:11434/chat", ""},
		{"localhost:11434", "", "want http(s)://"},
		{"ftp://x", "", "want http(s)://"},
		{"http://user:secret@x/v1", "", "must not hold credentials"},
	}
	for _, tc := range tests {
		got, err := Endpoint("svc", tc.base, "/chat")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || quarry.ErrorCode(err) != quarry.CodeInvalid {
				t.Errorf("Endpoint(%q) err = %v, want invalid %q", tc.base, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("Endpoint(%q) error leaks the password: %v", tc.base, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	c := New("svc", nil, "k", 0, 0)
	if c.HTTP == nil || c.owned != c.HTTP || c.Header.Get("Authorization") != "Bearer k" || c.Secret != "k" {
		t.Errorf("New without a client: %+v", c)
	}
	hc := &http.Client{}
	if c := New("svc", hc, "", 0, 0); c.HTTP != hc || c.owned != nil || c.Header != nil {
		t.Errorf("New with a client: %+v", c)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}
