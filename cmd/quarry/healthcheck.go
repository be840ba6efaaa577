package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/quarry-kb/quarry"
)

// runHealthcheck is for container health checks: distroless and scratch
// images have no curl, so the binary checks itself.
func runHealthcheck(ctx context.Context, env *Env, args []string) error {
	var o options
	var path string
	var timeout time.Duration
	fs := newFlags(env, "healthcheck", "quarry healthcheck [flags]",
		"GET /healthz (or --path) of the server listening on --addr and exit 0 if it answers 200,\n"+
			"1 otherwise. For container health checks in images without curl.", &o, "addr")
	fs.StringVar(&path, "path", "/healthz", "path to check, e.g. /readyz")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	url := "http://" + dialAddr(o.Addr) + path
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return quarry.Errorf(quarry.CodeInvalid, "healthcheck %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return quarry.Errorf(quarry.CodeUnavailable, "healthcheck %s: %s: %s", url, resp.Status, body)
	}
	fmt.Fprintf(env.Stdout, "%s: %s", url, body)
	return nil
}

// dialAddr turns a listen address into one to connect to: a wildcard
// host (0.0.0.0, ::, none) becomes loopback.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
