package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
)

// A body trickled slower than the request timeout gets a JSON timeout
// error that names no socket address (raw connection: the client sends
// the headers and then a byte now and then).
func TestSlowBodyIsTimeout(t *testing.T) {
	s := newServer(t, Config{Timeout: 300 * time.Millisecond, Searcher: searchFunc(func(context.Context, quarry.SearchRequest) (quarry.SearchResult, error) {
		return quarry.SearchResult{}, nil
	})})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := serve(s, ctx, ln)
	defer func() { cancel(); <-done }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"query": "refund policy"}`
	fmt.Fprintf(conn, "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	go func() {
		for i := range len(body) {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e errorJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, raw)
	}
	if e.Error.Code != quarry.CodeTimeout || (resp.StatusCode != http.StatusGatewayTimeout && resp.StatusCode != http.StatusRequestTimeout) {
		t.Errorf("status %d, body %s; want a timeout", resp.StatusCode, raw)
	}
	if strings.Contains(string(raw), "127.0.0.1") {
		t.Errorf("the message names a socket address: %s", raw)
	}
}

// A body announced larger than the limit, with "Expect: 100-continue",
// gets the JSON 413 at once: no 100 Continue, no connection reset.
func TestTooLargeWithExpectContinue(t *testing.T) {
	s := newServer(t, Config{Searcher: searchFunc(func(context.Context, quarry.SearchRequest) (quarry.SearchResult, error) {
		return quarry.SearchResult{}, nil
	})})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := serve(s, ctx, ln)
	defer func() { cancel(); <-done }()
	for range 5 {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", 10<<20)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Fatalf("no response: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		var e errorJSON
		if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(raw, &e) != nil || e.Error.Code != quarry.CodeTooLarge {
			t.Fatalf("status %d, body %q; want a JSON 413", resp.StatusCode, raw)
		}
	}
}
