// Package webhooktest checks hand-off deliveries the way the README tells
// receivers to, written apart from package webhook so that tests of the
// sender do not check it against itself.
package webhooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Verify checks a delivery: the X-Quarry-Signature is "sha256=" + hex
// HMAC-SHA256 of X-Quarry-Timestamp + "." + the body, and the timestamp
// is within a minute of now.
func Verify(secret string, h http.Header, body []byte) error {
	ts, err := strconv.ParseInt(h.Get("X-Quarry-Timestamp"), 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", h.Get("X-Quarry-Timestamp"), err)
	}
	if d := time.Since(time.Unix(ts, 0)); d > time.Minute || d < -time.Minute {
		return fmt.Errorf("timestamp %d is %v away", ts, d)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(h.Get("X-Quarry-Timestamp") + "."))
	m.Write(body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(want), []byte(h.Get("X-Quarry-Signature"))) {
		return fmt.Errorf("signature %q, want %q", h.Get("X-Quarry-Signature"), want)
	}
	return nil
}
