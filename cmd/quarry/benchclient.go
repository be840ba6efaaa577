package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
)

// The HTTP load generator of quarry bench. It shares the machine with the
// server it measures (two cores here), so it must cost the server as
// little CPU as it can: every client keeps one connection alive and
// sends a request made once per query (the bytes of a POST
// /v1/search), then reads the response with net/http's parser
// (Content-Length or chunked) and throws the body away unless the
// status is an error. net/http's client (a Transport with two
// goroutines, channels and a context per request) cost about a sixth
// of the server's CPU per request; this one a few per cent.

// loadClient sends prepared requests over a pool of kept-alive
// connections.
type loadClient struct {
	addr  string
	conns chan *loadConn
}

// newLoadClient returns a client for base (http://HOST:PORT[/prefix])
// with room for clients connections, and the prepared requests for
// queries.
func newLoadClient(base string, clients int, queries []string, k int, mode string) (*loadClient, map[string][]byte, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, nil, quarry.Errorf(quarry.CodeInvalid, "--http %q: want http://HOST:PORT", base)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	path := strings.TrimRight(u.Path, "/") + "/v1/search"
	reqs := make(map[string][]byte, len(queries))
	for _, q := range queries {
		if _, ok := reqs[q]; ok {
			continue
		}
		body, err := json.Marshal(map[string]any{"query": q, "k": k, "mode": mode})
		if err != nil {
			return nil, nil, err
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, u.Host, len(body))
		b.Write(body)
		reqs[q] = b.Bytes()
	}
	return &loadClient{addr: host, conns: make(chan *loadConn, clients)}, reqs, nil
}

// loadConn is one kept-alive connection.
type loadConn struct {
	c  net.Conn
	br *bufio.Reader
}

// do sends req and reads the response; a status other than 200 is an
// error carrying the start of the body.
func (lc *loadClient) do(ctx context.Context, req []byte) error {
	var c *loadConn
	select {
	case c = <-lc.conns:
	default:
	}
	for attempt := 0; ; attempt++ {
		reused := c != nil
		if c == nil {
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", lc.addr)
			if err != nil {
				return err
			}
			c = &loadConn{c: nc, br: bufio.NewReaderSize(nc, 16<<10)}
		}
		keep, err := c.roundTrip(req)
		if err != nil && reused && attempt == 0 && isStaleConn(err) {
			// The server closed a kept-alive connection between
			// requests: once more on a new one.
			c.c.Close()
			c = nil
			continue
		}
		if err != nil || !keep {
			c.c.Close()
			return err
		}
		select {
		case lc.conns <- c:
		default:
			c.c.Close()
		}
		return nil
	}
}

// roundTrip writes req and reads one response; keep says whether the
// connection may be used again.
func (c *loadConn) roundTrip(req []byte) (keep bool, err error) {
	_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.c.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		return false, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return false, err
	}
	resp.Body.Close()
	return !resp.Close, nil
}

// isStaleConn reports whether err is what a connection the server had
// already closed gives.
func isStaleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// closeIdle closes the pooled connections.
func (lc *loadClient) closeIdle() {
	for {
		select {
		case c := <-lc.conns:
			c.c.Close()
		default:
			return
		}
	}
}

// httpSearchFunc returns the search function runLoad calls against the
// server at base, and a function that closes its connections.
func httpSearchFunc(base string, clients int, queries []string, k int, mode string) (func(context.Context, string) error, func(), error) {
	lc, reqs, err := newLoadClient(base, clients, queries, k, mode)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, q string) error {
		req, ok := reqs[q]
		if !ok {
			return fmt.Errorf("no prepared request for %q", q)
		}
		return lc.do(ctx, req)
	}, lc.closeIdle, nil
}
