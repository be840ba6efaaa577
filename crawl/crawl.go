// Package crawl fetches a web help centre into a mirror folder that
// Quarry ingests like any other: `quarry ingest https://help.example.com/sitemap.xml`
// (or a start URL and a link depth).
//
// It crawls politely: robots.txt is obeyed (a forbidden URL is never
// requested), requests are spaced by a configurable interval (or the
// site's Crawl-delay, whichever is longer), every request carries an
// identifying User-Agent, only the start URL's host is crawled unless
// more hosts are allowed, and pages, bytes per page and redirects are
// limited. Each page is stored as its main content only (the <main>,
// <article> or role="main" element, else the body without navigation,
// header, footer and asides), under the URL's path; ingested with the
// host as its prefix (as quarry ingest does), a citation's path is the
// page's URL without its scheme.
//
// Runs are incremental: the ETag and Last-Modified of every page are
// kept in the mirror (.crawl-state.json), the next run asks with
// If-None-Match / If-Modified-Since and leaves a page that has not
// changed alone; a page whose content did not change is not rewritten
// (ingest then finds its hash unchanged); a page that answers 404 or
// 410 is deleted from the mirror, and so from the index.
package crawl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/temoto/robotstxt"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Defaults of Config.
const (
	DefaultUserAgent    = "QuarryBot/1.0 (+https://github.com/quarry-kb/quarry; knowledge-base indexer)"
	DefaultInterval     = 500 * time.Millisecond
	DefaultMaxPages     = 1000
	DefaultMaxPageBytes = 5 << 20
	DefaultTimeout      = 30 * time.Second
	maxRedirects        = 5
	maxSitemaps         = 50
	stateFile           = ".crawl-state.json"
)

// Config tunes a crawl. The zero value means the defaults.
type Config struct {
	UserAgent    string        // "" means DefaultUserAgent
	Interval     time.Duration // between two requests; 0 means 500ms, negative means none
	MaxPages     int           // pages fetched per run; 0 means 1000
	MaxPageBytes int64         // larger pages are skipped; 0 means 5 MiB
	Depth        int           // links followed from the start page (or the sitemap's pages); 0 follows none
	AllowHosts   []string      // hosts besides the start URL's that may be crawled
	Client       *http.Client  // nil means a client with a 30 s timeout
	Logger       *slog.Logger  // nil means silent
}

// Skip is a URL that was not stored, with the reason.
type Skip struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
}

// Summary is what a crawl did.
type Summary struct {
	Fetched     int    `json:"fetched"`      // pages downloaded (200)
	Written     int    `json:"written"`      // pages new or changed in the mirror
	NotModified int    `json:"not_modified"` // 304 answers to a conditional request
	Unchanged   int    `json:"unchanged"`    // downloaded, same content as before
	Removed     int    `json:"removed"`      // pages gone (404/410), deleted from the mirror
	Blocked     int    `json:"blocked"`      // URLs robots.txt forbids (never requested)
	Skipped     []Skip `json:"skipped,omitempty"`
}

// String is a one-paragraph report naming every skipped URL.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Crawled %d pages: %d new or changed, %d not modified, %d unchanged, %d removed, %d forbidden by robots.txt, %d skipped.\n",
		s.Fetched+s.NotModified, s.Written, s.NotModified, s.Unchanged, s.Removed, s.Blocked, len(s.Skipped))
	for _, sk := range s.Skipped {
		fmt.Fprintf(&b, "  %s: %s\n", sk.URL, sk.Reason)
	}
	return b.String()
}

// page is what the mirror remembers of a URL.
type page struct {
	File         string `json:"file"` // slash path inside the mirror
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Hash         string `json:"hash"` // of the stored content
}

type crawler struct {
	cfg    Config
	dir    string
	start  string // the start URL's host
	hosts  map[string]bool
	robots map[string]*robotstxt.Group
	state  map[string]page
	last   time.Time
	delay  time.Duration
	sum    Summary
	log    *slog.Logger
}

// Run crawls start (a sitemap.xml URL, or a page to follow links from
// up to cfg.Depth) into the mirror folder dir, creating it if needed.
// It returns an error only when the start URL is unusable, dir cannot be
// written or ctx ends; a page that cannot be fetched is a Skip.
func Run(ctx context.Context, start string, dir string, cfg Config) (Summary, error) {
	u, err := url.Parse(start)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Summary{}, fmt.Errorf("crawl: %q is not an http(s) URL", start)
	}
	cfg = withDefaults(cfg)
	c := &crawler{cfg: cfg, dir: dir, start: strings.ToLower(u.Host), hosts: map[string]bool{strings.ToLower(u.Host): true},
		robots: map[string]*robotstxt.Group{}, state: map[string]page{}, log: cfg.Logger}
	for _, h := range cfg.AllowHosts {
		c.hosts[strings.ToLower(h)] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("crawl: %w", err)
	}
	if err := c.loadState(); err != nil {
		return Summary{}, err
	}
	type item struct {
		url   string
		depth int
	}
	var queue []item
	seen := map[string]bool{}
	push := func(raw string, depth int) {
		n, ok := c.normalize(raw)
		if ok && !seen[n] {
			seen[n] = true
			queue = append(queue, item{n, depth})
		}
	}
	if isSitemap(u) {
		for _, l := range c.sitemap(ctx, u.String(), 0) {
			push(l, cfg.Depth)
		}
	} else {
		push(u.String(), cfg.Depth)
	}
	// Pages of earlier runs are checked again, so that those gone are
	// removed even when nothing links to them any more.
	known := make([]string, 0, len(c.state))
	for k := range c.state {
		known = append(known, k)
	}
	slices.Sort(known)
	for _, k := range known {
		push(k, 0)
	}
	fetched := 0
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return c.sum, fmt.Errorf("crawl: %w", err)
		}
		it := queue[0]
		queue = queue[1:]
		if !c.allowed(ctx, it.url) {
			c.sum.Blocked++
			continue
		}
		if fetched >= cfg.MaxPages {
			c.skip(it.url, fmt.Sprintf("page limit reached (%d pages)", cfg.MaxPages))
			continue
		}
		fetched++
		links, err := c.fetch(ctx, it.url, it.depth > 0)
		if err != nil {
			return c.sum, err
		}
		for _, l := range links {
			push(l, it.depth-1)
		}
	}
	slices.SortFunc(c.sum.Skipped, func(a, b Skip) int { return strings.Compare(a.URL, b.URL) })
	return c.sum, c.saveState()
}

func withDefaults(cfg Config) Config {
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	if cfg.MaxPageBytes <= 0 {
		cfg.MaxPageBytes = DefaultMaxPageBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultTimeout}
	}
	// Redirects are followed by hand (see get), so that each hop is
	// checked against the hosts and robots.txt.
	cl := *cfg.Client
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.Client = &cl
	return cfg
}

func isSitemap(u *url.URL) bool {
	return strings.HasSuffix(strings.ToLower(u.Path), ".xml")
}

// normalize drops the fragment and checks scheme and host.
func (c *crawler) normalize(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !c.hosts[strings.ToLower(u.Host)] {
		return "", false
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), true
}

func (c *crawler) skip(u, reason string) {
	c.sum.Skipped = append(c.sum.Skipped, Skip{u, reason})
	c.log.Info("crawl: skipped", "url", u, "reason", reason)
}

// wait spaces requests by the interval (or the site's Crawl-delay).
func (c *crawler) wait(ctx context.Context) error {
	gap := max(c.cfg.Interval, c.delay)
	if d := time.Until(c.last.Add(gap)); d > 0 && !c.last.IsZero() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.last = time.Now()
	return nil
}

// request sends one GET, without following redirects.
func (c *crawler) request(ctx context.Context, u string, hdr http.Header) (*http.Response, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	return c.cfg.Client.Do(req)
}

// allowed reports whether robots.txt of the URL's host lets us fetch it;
// robots.txt is fetched once per host.
func (c *crawler) allowed(ctx context.Context, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	key := u.Scheme + "://" + u.Host
	g, ok := c.robots[key]
	if !ok {
		g = c.fetchRobots(ctx, key)
		c.robots[key] = g
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return g == nil || g.Test(p)
}

func (c *crawler) fetchRobots(ctx context.Context, origin string) *robotstxt.Group {
	resp, err := c.request(ctx, origin+"/robots.txt", nil)
	if err != nil {
		return nil // unreachable robots.txt: allowed, as by convention
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512<<10))
	data, err := robotstxt.FromStatusAndBytes(resp.StatusCode, body)
	if err != nil {
		return nil
	}
	g := data.FindGroup(c.cfg.UserAgent)
	if g != nil && g.CrawlDelay > 0 {
		c.delay = min(g.CrawlDelay, time.Minute)
	}
	return g
}

// get fetches a URL, following up to maxRedirects redirects within the
// allowed hosts and robots.txt; the final URL is returned with the
// response.
func (c *crawler) get(ctx context.Context, u string, hdr http.Header) (*http.Response, string, error) {
	for hop := 0; ; hop++ {
		resp, err := c.request(ctx, u, hdr)
		if err != nil {
			return nil, u, err
		}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || resp.StatusCode == http.StatusNotModified {
			return resp, u, nil
		}
		loc := resp.Header.Get("Location")
		resp.Body.Close()
		if loc == "" {
			return nil, u, fmt.Errorf("redirect (%d) without a Location", resp.StatusCode)
		}
		if hop >= maxRedirects {
			return nil, u, fmt.Errorf("more than %d redirects (a redirect loop?)", maxRedirects)
		}
		base, _ := url.Parse(u)
		next, err := base.Parse(loc)
		if err != nil {
			return nil, u, fmt.Errorf("bad redirect %q: %w", loc, err)
		}
		n, ok := c.normalize(next.String())
		if !ok {
			return nil, u, fmt.Errorf("redirects to %s, outside the allowed hosts", next.Redacted())
		}
		if !c.allowed(ctx, n) {
			return nil, u, fmt.Errorf("redirects to %s, which robots.txt forbids", n)
		}
		u = n
	}
}

// fetch downloads one page into the mirror and returns its links when
// wanted. Only a failure to write the mirror is an error.
func (c *crawler) fetch(ctx context.Context, u string, wantLinks bool) ([]string, error) {
	old, known := c.state[u]
	hdr := http.Header{}
	if known {
		if old.ETag != "" {
			hdr.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			hdr.Set("If-Modified-Since", old.LastModified)
		}
	}
	resp, final, err := c.get(ctx, u, hdr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("crawl: %w", ctx.Err())
		}
		c.skip(u, err.Error()) // a page fetched before is kept: the failure may pass
		return nil, nil
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && known:
		c.sum.NotModified++
		return nil, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		if known {
			if err := c.remove(u, old); err != nil {
				return nil, err
			}
		}
		c.skip(u, fmt.Sprintf("gone (HTTP %d)", resp.StatusCode))
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		c.skip(u, fmt.Sprintf("HTTP %d", resp.StatusCode))
		return nil, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "html") {
		c.skip(u, "not an HTML page ("+ct+")")
		return nil, nil
	}
	if resp.ContentLength > c.cfg.MaxPageBytes {
		c.skip(u, fmt.Sprintf("page too large (%d bytes, the limit is %d)", resp.ContentLength, c.cfg.MaxPageBytes))
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxPageBytes+1))
	if err != nil {
		c.skip(u, "read: "+err.Error())
		return nil, nil
	}
	if int64(len(body)) > c.cfg.MaxPageBytes {
		c.skip(u, fmt.Sprintf("page too large (over %d bytes)", c.cfg.MaxPageBytes))
		return nil, nil
	}
	c.sum.Fetched++
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		c.skip(u, "unparseable HTML: "+err.Error())
		return nil, nil
	}
	content := mainContent(doc, u)
	sum := sha256.Sum256(content)
	p := page{File: c.mirrorPath(u), ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Hash: hex.EncodeToString(sum[:])}
	if known && old.Hash == p.Hash && old.File == p.File {
		c.sum.Unchanged++
	} else {
		if known && old.File != p.File {
			_ = os.Remove(filepath.Join(c.dir, filepath.FromSlash(old.File)))
		}
		dst := filepath.Join(c.dir, filepath.FromSlash(p.File))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
		if err := os.WriteFile(dst, content, 0o644); err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
		c.sum.Written++
	}
	c.state[u] = p
	if !wantLinks {
		return nil, nil
	}
	return links(doc, final), nil
}

func (c *crawler) remove(u string, old page) error {
	err := os.Remove(filepath.Join(c.dir, filepath.FromSlash(old.File)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("crawl: %w", err)
	}
	delete(c.state, u)
	c.sum.Removed++
	return nil
}

// mirrorPath maps a URL to its file in the mirror: its path, ".html"
// added where the path has no extension, "index.html" for a folder, and
// a query string kept in the name; a page of another allowed host goes
// under that host's name.
func (c *crawler) mirrorPath(raw string) string {
	u, _ := url.Parse(raw)
	if h := strings.ToLower(u.Host); h != c.start {
		return strings.ReplaceAll(h, ":", "_") + "/" + mirrorPath(u)
	}
	return mirrorPath(u)
}

func mirrorPath(u *url.URL) string {
	p := u.Path
	if strings.HasSuffix(p, "/") || p == "" {
		p += "index"
	}
	if u.RawQuery != "" {
		p += "_" + strings.NewReplacer("/", "_", "&", "_", "=", "-").Replace(u.RawQuery)
	}
	var parts []string
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") {
			s = "_" + s
		}
		parts = append(parts, s)
	}
	p = strings.Join(parts, "/")
	if ext := path.Ext(p); ext != ".html" && ext != ".htm" {
		p += ".html"
	}
	return p
}

// sitemap returns the page URLs of a sitemap (or sitemap index, followed
// up to maxSitemaps files).
func (c *crawler) sitemap(ctx context.Context, u string, n int) []string {
	if n >= maxSitemaps || !c.allowed(ctx, u) {
		return nil
	}
	resp, _, err := c.get(ctx, u, nil)
	if err != nil {
		c.skip(u, "sitemap: "+err.Error())
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.skip(u, fmt.Sprintf("sitemap: HTTP %d", resp.StatusCode))
		return nil
	}
	var sm struct {
		XMLName xml.Name
		URLs    []string `xml:"url>loc"`
		Maps    []string `xml:"sitemap>loc"`
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 50<<20)).Decode(&sm); err != nil {
		c.skip(u, "sitemap: "+err.Error())
		return nil
	}
	out := sm.URLs
	for _, m := range sm.Maps {
		out = append(out, c.sitemap(ctx, strings.TrimSpace(m), n+1)...)
	}
	return out
}

// loadState reads what earlier runs stored.
func (c *crawler) loadState() error {
	data, err := os.ReadFile(filepath.Join(c.dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = json.Unmarshal(data, &c.state)
	}
	if err != nil {
		return fmt.Errorf("crawl: state of %s: %w", c.dir, err)
	}
	return nil
}

func (c *crawler) saveState() error {
	data, err := json.MarshalIndent(c.state, "", "  ")
	if err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	tmp := filepath.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, stateFile)); err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	return nil
}

// mainContent returns a small HTML page of the document's title and
// main content: <main>, else <article>, else an element with
// role="main", else the <body>; navigation, header, footer, aside,
// forms, scripts and styles are dropped from it. The page's URL is kept
// as its canonical link.
func mainContent(doc *html.Node, u string) []byte {
	title := ""
	if t := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Title }); t != nil {
		title = strings.TrimSpace(text(t))
	}
	root := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Main })
	if root == nil {
		root = find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Article })
	}
	if root == nil {
		root = find(doc, func(n *html.Node) bool { return attr(n, "role") == "main" })
	}
	if root == nil {
		root = find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Body })
	}
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title><link rel=\"canonical\" href=\"" + html.EscapeString(u) + "\"></head>\n<body>\n")
	if root != nil {
		prune(root)
		for ch := root.FirstChild; ch != nil; ch = ch.NextSibling {
			_ = html.Render(&b, ch)
		}
	}
	b.WriteString("\n</body></html>\n")
	return b.Bytes()
}

// prune removes the page chrome under n.
func prune(n *html.Node) {
	for ch := n.FirstChild; ch != nil; {
		next := ch.NextSibling
		if ch.Type == html.ElementNode {
			switch ch.DataAtom {
			case atom.Nav, atom.Header, atom.Footer, atom.Aside, atom.Script, atom.Style, atom.Noscript,
				atom.Form, atom.Iframe, atom.Template, atom.Button:
				n.RemoveChild(ch)
				ch = next
				continue
			}
			switch attr(ch, "role") {
			case "navigation", "banner", "contentinfo", "search":
				n.RemoveChild(ch)
				ch = next
				continue
			}
			prune(ch)
		} else if ch.Type == html.CommentNode {
			n.RemoveChild(ch)
		}
		ch = next
	}
}

// links returns the href of every <a> of the page, resolved.
func links(doc *html.Node, base string) []string {
	bu, err := url.Parse(base)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.A {
			if h := attr(n, "href"); h != "" && attr(n, "rel") != "nofollow" {
				if u, err := bu.Parse(h); err == nil {
					out = append(out, u.String())
				}
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	return out
}

func find(n *html.Node, f func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && f(n) {
		return n
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if r := find(ch, f); r != nil {
			return r
		}
	}
	return nil
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(n)
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
