package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The embeddable website widget: one script a host page loads with
//
//	<script src="https://quarry.example/widget.js" data-kb="support" data-key="qk_..." async></script>
//
// It is plain JavaScript (static/widget.js), compiled into the binary.
// /widget.js is the stable URL, cached for five minutes and revalidated
// by ETag; /widget/{version}/widget.js is the same file under a URL that
// changes with its content, cached for a year.

//go:embed static/widget.js
var staticFS embed.FS

var (
	widgetJS = mustRead("static/widget.js")
	widgetGz = gzipped(widgetJS)
)

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// WidgetVersion is the content hash that names the widget's versioned URL.
var WidgetVersion = func() string {
	h := sha256.Sum256(widgetJS)
	return hex.EncodeToString(h[:6])
}()

// WidgetPath is the versioned URL path of the widget's script.
func WidgetPath() string { return "/widget/" + WidgetVersion + "/widget.js" }

func mustRead(name string) []byte {
	b, err := staticFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

func (s *Server) widgetRoutes(r chi.Router) {
	r.Get("/widget.js", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, widgetJS, "public, max-age=300")
	})
	r.Get("/widget/{version}/widget.js", func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "version") != WidgetVersion {
			// An old version's URL: send the current script, briefly
			// cached, rather than break a page that pinned it.
			serveAsset(w, r, widgetJS, "public, max-age=300")
			return
		}
		serveAsset(w, r, widgetJS, "public, max-age=31536000, immutable")
	})
}

var assetTime = time.Now()

// serveAsset serves an embedded script with an ETag (If-None-Match gets
// 304) and the given cache lifetime. Any page may load it.
// Clients that accept gzip get it compressed (under its own ETag).
func serveAsset(w http.ResponseWriter, r *http.Request, body []byte, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", cacheControl)
	h.Set("Vary", "Accept-Encoding")
	etag := `"` + WidgetVersion + `"`
	if acceptsGzip(r) {
		body, etag = widgetGz, `"`+WidgetVersion+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Access-Control-Allow-Origin", "*") // a public script; no credentials
	http.ServeContent(w, r, "widget.js", assetTime, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(h, ",") {
			enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
				return true
			}
		}
	}
	return false
}
