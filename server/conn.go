package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/quarry-kb/quarry"
)

// Errors found before a request reaches a route.
//
// net/http answers some requests itself, before any handler runs: request
// headers over http.Server.MaxHeaderBytes (431), a malformed request line
// or header (400), an unknown transfer coding (501), an unsupported HTTP
// version (505). It writes those as plain text. And when the headers do
// not arrive within ReadHeaderTimeout it closes the connection without a
// word. So that every error a client can get is JSON with a code, Serve
// does three things:
//
//   - The real header limit (Config.MaxHeaderBytes) is enforced by the
//     outermost middleware (limitHeaders), with the JSON 431, the request
//     ID and the access log line of any other error. http.Server's own
//     limit is set well above it, so it only catches the headers too
//     large to parse at all.
//   - Each connection is wrapped (guardedConn). When net/http writes one
//     of its plain-text errors, the wrapper writes the same status as
//     JSON instead ({"error":{"code":"headers_too_large",...}}, "bad_request",
//     "unsupported"); net/http then closes the connection as before.
//   - When reading a request's headers times out after some of them
//     arrived, the wrapper writes a JSON 408 with the code "timeout"
//     before net/http closes the connection. A connection that sent
//     nothing at all (a keep-alive connection between requests, or one
//     that never started) is closed without a response, as before: there
//     is no request to answer.
//
// None of these messages carries a socket address. Servers that run
// Handler on their own http.Server get the middleware's 431, not the
// rest.

// DefaultMaxHeaderBytes is the default of Config.MaxHeaderBytes.
const DefaultMaxHeaderBytes = 64 << 10

// DefaultReadHeaderTimeout is the default of Config.ReadHeaderTimeout.
const DefaultReadHeaderTimeout = 10 * time.Second

// hardHeaderBytes is http.Server.MaxHeaderBytes for a header limit:
// room for the middleware to see (and refuse) headers somewhat over the
// limit.
func hardHeaderBytes(limit int) int { return 2*limit + 4096 }

// headerSize is the size of r's request line and headers as they came
// on the wire (give or take spaces): what MaxHeaderBytes limits.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	if r.Host != "" && r.Header.Get("Host") == "" {
		n += len("Host: \r\n") + len(r.Host) // net/http moves Host out of Header
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n + 2
}

// limitHeaders answers 431 to requests whose headers are over
// MaxHeaderBytes.
func (s *Server) limitHeaders(next http.Handler) http.Handler {
	limit := s.cfg.MaxHeaderBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerSize(r) > limit {
			w.Header().Set("Connection", "close")
			s.fail(w, r, quarry.Errorf(CodeHeadersTooLarge, "request headers are larger than the limit of %d bytes", limit))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guardedListener wraps the connections it accepts in guardedConns.
type guardedListener struct {
	net.Listener
	s *Server
}

func (l guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardedConn{Conn: c, s: l.s}, nil
}

// connState records each connection's state in its guardedConn
// (http.Server.ConnState).
func connState(c net.Conn, st http.ConnState) {
	if gc, ok := c.(*guardedConn); ok {
		gc.state.Store(int32(st))
		if st == http.StateIdle {
			gc.pending.Store(0)
		}
	}
}

// guardedConn turns net/http's plain-text errors into JSON and answers
// headers that come too slowly with a JSON 408 (see above).
type guardedConn struct {
	net.Conn
	s *Server
	// state is the http.ConnState net/http last reported: New or Idle
	// while it reads a request's headers, Active from then on.
	state atomic.Int32
	// pending counts the bytes read since the connection went idle (or
	// was opened): the start of a request.
	pending atomic.Int64
	// answered is set once the wrapper has written a response itself.
	answered atomic.Bool
}

func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.pending.Add(int64(n))
	}
	if err != nil && isTimeout(err) && c.readingHeaders() && c.pending.Load() > 0 {
		c.writeError(http.StatusRequestTimeout,
			fmt.Sprintf("the request headers did not arrive within %s", c.s.cfg.ReadHeaderTimeout))
	}
	return n, err
}

// readingHeaders reports whether net/http is reading a request's
// headers (and not a body, or waiting on an active request).
func (c *guardedConn) readingHeaders() bool {
	st := http.ConnState(c.state.Load())
	return st == http.StateNew || st == http.StateIdle
}

// goErrorHeaders is what follows the status line of an error net/http
// writes itself (net/http's server.go, conn.serve); a response of a
// handler always has a Date header, so it never looks like this.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *guardedConn) Write(p []byte) (int, error) {
	if status, text, ok := parseGoError(p); ok {
		c.writeError(status, text)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// parseGoError recognises a plain-text error response of net/http's own:
// "HTTP/1.1 431 Request Header Fields Too Large" + goErrorHeaders +
// text.
func parseGoError(p []byte) (status int, text string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found || len(rest) < 4 || rest[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 || status > 599 {
		return 0, "", false
	}
	// The status line ends at the first CRLF (a short scan: every
	// response's first write starts with "HTTP/1.1 ").
	i := bytes.Index(rest, []byte("\r\n"))
	if i < 0 || !bytes.HasPrefix(rest[i:], []byte(goErrorHeaders)) {
		return 0, "", false
	}
	return status, string(rest[i+len(goErrorHeaders):]), true
}

// writeError writes a JSON error response on the raw connection, once;
// net/http closes the connection after it.
func (c *guardedConn) writeError(status int, text string) {
	if !c.answered.CompareAndSwap(false, true) {
		return
	}
	code := connErrorCode(status)
	msg := text
	switch code {
	case CodeHeadersTooLarge:
		msg = fmt.Sprintf("request headers are larger than the limit of %d bytes", c.s.cfg.MaxHeaderBytes)
	case CodeBadRequest, quarry.CodeUnsupported:
		// net/http's texts ("400 Bad Request: missing required Host
		// header", "Unsupported transfer encoding") name no address.
		msg = "malformed HTTP request: " + text
	}
	body, _ := marshal(errorJSON{Error: errorDetail{Code: code, Message: msg}})
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n", status, http.StatusText(status), len(body))
	b.Write(body)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(b.Bytes()) // the client may be gone
	c.s.log.LogAttrs(context.Background(), slog.LevelInfo, "http request refused before routing",
		slog.Int("status", status), slog.String("code", string(code)))
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection.
func (c *guardedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
