package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

// rawServer serves s on a loopback port for the test's life and returns
// its address.
func rawServer(t *testing.T, cfg Config) string {
	t.Helper()
	if cfg.Searcher == nil {
		cfg.Searcher = staticSearch(quarry.SearchResult{})
	}
	s := newServer(t, cfg)
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := serve(s, ctx, ln)
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// rawExchange sends req on a new connection (the writes of send, in
// turn) and reads one response.
func rawExchange(t *testing.T, addr string, send func(net.Conn) error) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() { _ = send(conn) }()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, raw
}

// checkJSONError checks that a response is a JSON error with the status
// and code, naming no socket address.
func checkJSONError(t *testing.T, resp *http.Response, raw []byte, status int, code quarry.Code) errorDetail {
	t.Helper()
	var e errorJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, raw)
	}
	if resp.StatusCode != status || e.Error.Code != code {
		t.Errorf("status %d, code %q (%s); want %d, %q", resp.StatusCode, e.Error.Code, e.Error.Message, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if strings.Contains(string(raw), "127.0.0.1") {
		t.Errorf("the message names a socket address: %s", raw)
	}
	if statusOf(code) != status && connErrorCode(status) != code {
		t.Errorf("code %q and status %d are not mapped to each other in errors.go", code, status)
	}
	return e.Error
}

// Headers over the limit get a JSON 431 over real HTTP: a little over
// (the middleware's, with a request ID) and far over (net/http's own
// limit, rewritten by the connection guard).
func TestHeadersTooLarge(t *testing.T) {
	const limit = 4 << 10
	addr := rawServer(t, Config{MaxHeaderBytes: limit})
	for _, tc := range []struct {
		name      string
		size      int
		requestID bool
	}{
		{"just over the limit", limit + 100, true},
		{"over net/http's own limit", hardHeaderBytes(limit) + 8192, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := rawExchange(t, addr, func(c net.Conn) error {
				_, err := fmt.Fprintf(c, "POST /v1/search HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
					strings.Repeat("a", tc.size))
				return err
			})
			e := checkJSONError(t, resp, raw, http.StatusRequestHeaderFieldsTooLarge, CodeHeadersTooLarge)
			if !strings.Contains(e.Message, fmt.Sprint(limit)) {
				t.Errorf("message %q does not name the limit", e.Message)
			}
			if got := resp.Header.Get(RequestIDHeader) != ""; got != tc.requestID {
				t.Errorf("X-Request-ID present: %v, want %v", got, tc.requestID)
			}
		})
	}
	// Headers under the limit pass.
	resp, raw := rawExchange(t, addr, func(c net.Conn) error {
		_, err := fmt.Fprintf(c, "POST /v1/search HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"query\": \"tea\"}\n",
			strings.Repeat("a", limit/2))
		return err
	})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("headers under the limit: status %d: %s", resp.StatusCode, raw)
	}
}

// Headers that stop short get a JSON 408 "timeout" once
// ReadHeaderTimeout has passed, on a new connection and on a kept-alive
// one.
func TestSlowHeadersTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := rawServer(t, Config{ReadHeaderTimeout: timeout})
	t.Run("first request", func(t *testing.T) {
		start := time.Now()
		resp, raw := rawExchange(t, addr, func(c net.Conn) error {
			_, err := io.WriteString(c, "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Ty")
			return err // and nothing more
		})
		checkJSONError(t, resp, raw, http.StatusRequestTimeout, quarry.CodeTimeout)
		if d := time.Since(start); d < timeout {
			t.Errorf("answered after %s, before the %s timeout", d, timeout)
		}
		if resp.Header.Get("Connection") != "close" && !resp.Close {
			t.Errorf("the connection is not closed after a 408")
		}
	})
	t.Run("second request on a kept-alive connection", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"query\": \"tea\"}\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first request: status %d", resp.StatusCode)
		}
		io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHo")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no response to the slow second request: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkJSONError(t, resp, raw, http.StatusRequestTimeout, quarry.CodeTimeout)
	})
	t.Run("nothing sent", func(t *testing.T) {
		// No request began: the connection is closed without a response.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(conn)
		if err != nil || len(b) != 0 {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the idle connection was not closed")
			}
			t.Errorf("an idle connection got %q (%v); want a close without a response", b, err)
		}
	})
}

// The malformed requests net/http refuses itself get JSON errors.
func TestMalformedRequestIsJSON(t *testing.T) {
	addr := rawServer(t, Config{})
	for _, tc := range []struct {
		name, req string
		status    int
		code      quarry.Code
	}{
		{"no Host header", "GET /healthz HTTP/1.1\r\n\r\n", http.StatusBadRequest, CodeBadRequest},
		{"broken header line", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", http.StatusBadRequest, CodeBadRequest},
		{"unknown transfer coding", "POST /v1/search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: rot13\r\n\r\n", http.StatusNotImplemented, quarry.CodeUnsupported},
		{"HTTP/2 request line over HTTP/1", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", http.StatusHTTPVersionNotSupported, quarry.CodeUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := rawExchange(t, addr, func(c net.Conn) error {
				_, err := io.WriteString(c, tc.req)
				return err
			})
			checkJSONError(t, resp, raw, tc.status, tc.code)
		})
	}
}

func TestParseGoError(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
		text     string
		ok       bool
	}{
		{"431", "HTTP/1.1 431 Request Header Fields Too Large" + goErrorHeaders + "431 Request Header Fields Too Large", 431, "431 Request Header Fields Too Large", true},
		{"400 with reason", "HTTP/1.1 400 Bad Request: missing required Host header" + goErrorHeaders + "400 Bad Request: missing required Host header", 400, "400 Bad Request: missing required Host header", true},
		{"a handler's response", "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Thu, 03 Dec 2026 10:00:00 GMT\r\nConnection: close\r\n\r\nno", 0, "", false},
		{"a success", "HTTP/1.1 200 OK" + goErrorHeaders + "ok", 0, "", false},
		{"not a status line", "hello", 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, text, ok := parseGoError([]byte(tc.in))
			if status != tc.status || text != tc.text || ok != tc.ok {
				t.Errorf("parseGoError = %d, %q, %v; want %d, %q, %v", status, text, ok, tc.status, tc.text, tc.ok)
			}
		})
	}
}
