package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeliverRetriesAndSigns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int // answers, in order; the last repeats
		attempts int
		wantErr  bool
	}{
		{"ok at once", []int{200}, 1, false},
		{"retried after a 500", []int{500, 200}, 2, false},
		{"retried after 503 and 429", []int{503, 429, 204}, 3, false},
		{"not retried after a 400", []int{400}, 1, true},
		{"gives up after max attempts", []int{502}, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				body, _ := io.ReadAll(r.Body)
				if err := Verify("s3cret", r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 0); err != nil {
					t.Errorf("attempt %d: %v", i+1, err)
				}
				if r.Header.Get(HeaderDelivery) != "ev-1" || r.Header.Get(HeaderEvent) != "escalation" {
					t.Errorf("headers %v", r.Header)
				}
				w.WriteHeader(tc.statuses[min(i, len(tc.statuses)-1)])
			}))
			defer srv.Close()
			d := New(Config{Backoff: time.Millisecond})
			err := d.Deliver(context.Background(), Target{URL: srv.URL, Secret: "s3cret", MaxAttempts: 3}, "escalation", "ev-1", []byte(`{"a":1}`))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got := int(n.Load()); got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
			st := d.Stats()
			if st.Attempts != int64(tc.attempts) || (st.Failed == 1) != tc.wantErr || (st.Delivered == 1) == tc.wantErr {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestDeliverRetriesTimeouts(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // hang past the attempt's timeout
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	d := New(Config{Backoff: time.Millisecond})
	if err := d.Deliver(context.Background(), Target{URL: srv.URL, Timeout: 100 * time.Millisecond}, "escalation", "x", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Errorf("%d attempts, want 2", n.Load())
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"1"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := Sign("k", now.Unix(), body)
	// Computed outside Go (Python's hmac, as in the README): HMAC-SHA256
	// of "1800000000." + body with key "k".
	if want := "sha256=fe8150ce585e3236111a88d01464fd8fed3c4d51d55cf16faecbd54da77c0282"; sig != want {
		t.Errorf("Sign = %s, want %s", sig, want)
	}
	if err := Verify("k", ts, sig, body, now.Add(time.Minute), 0); err != nil {
		t.Errorf("good signature: %v", err)
	}
	if err := Verify("k", ts, sig, []byte(`{"id":"2"}`), now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: %v", err)
	}
	if err := Verify("other", ts, sig, body, now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Verify("k", ts, sig, body, now.Add(time.Hour), 0); !errors.Is(err, ErrStale) {
		t.Errorf("replayed an hour later: %v", err)
	}
}

func TestPostInBackgroundAndClose(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer srv.Close()
	d := New(Config{})
	d.Post(Target{URL: srv.URL}, "escalation", "1", map[string]string{"k": "v"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != `{"k":"v"}` {
		t.Errorf("body %s", b)
	}
	d.Post(Target{URL: srv.URL}, "escalation", "2", 1)
	if st := d.Stats(); st.Delivered != 1 || st.Failed != 1 {
		t.Errorf("after close: %+v", st)
	}
}
