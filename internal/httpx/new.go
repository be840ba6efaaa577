package httpx

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
)

// New returns a Client for a provider adapter. It sends with hc, or with
// an http.Client of its own (released by Close) when hc is nil. A
// non-empty bearer key is sent as "Authorization: Bearer …" and blanked
// out of error messages.
func New(service string, hc *http.Client, bearer string, timeout time.Duration, maxRetries int) *Client {
	c := &Client{Service: service, HTTP: hc, Secret: bearer, Timeout: timeout, Retry: Policy{MaxRetries: maxRetries}}
	if hc == nil {
		c.owned = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.HTTP = c.owned
	}
	if bearer != "" {
		c.Header = http.Header{"Authorization": {"Bearer " + bearer}}
	}
	return c
}

// Close releases the idle connections of the Client's own http.Client;
// one given by the caller is the caller's to manage.
func (c *Client) Close() error {
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
	return nil
}

// Endpoint checks a provider's base URL (http or https, a host, no
// credentials: keys go in their own setting, never in a URL that may be
// logged) and returns it with path appended.
func Endpoint(service, base, path string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, "%s: base URL %q: %w", service, base, err)
	}
	if u.User != nil {
		return "", quarry.Errorf(quarry.CodeInvalid, "%s: base URL must not hold credentials; use the API key setting", service)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", quarry.Errorf(quarry.CodeInvalid, "%s: base URL %q: want http(s)://host[:port][/path]", service, base)
	}
	return strings.TrimRight(u.String(), "/") + path, nil
}
