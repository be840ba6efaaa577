package main

import (
	"net"
	"testing"
)

func FuzzDialAddr(f *testing.F) {
	for _, seed := range []string{"0.0.0.0:8080", ":80", "[::]:443", "example.com:1", "nonsense", "", "[::1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got := dialAddr(addr)
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			if got != addr {
				t.Errorf("dialAddr(%q) = %q; an address it cannot split must pass through", addr, got)
			}
			return
		}
		h, p, err := net.SplitHostPort(got)
		if err != nil || p != port {
			t.Fatalf("dialAddr(%q) = %q (%v): the port must be kept", addr, got, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h != "127.0.0.1" && h != "::1" {
				t.Errorf("dialAddr(%q) = %q: a wildcard host must become loopback", addr, got)
			}
		} else if h != host {
			t.Errorf("dialAddr(%q) = %q: a concrete host must be kept", addr, got)
		}
	})
}
