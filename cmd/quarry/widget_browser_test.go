package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
)

// The website widget in a real browser: headless Chromium, driven from
// Go, loads a host page from one origin that embeds the widget from a
// Quarry server on another (two loopback ports), with a key bound to the
// page's origin.

// chromium finds the browser; without one the test skips, except under
// CI=true, where it fails (scripts/test-deps.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("QUARRY_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium (install Debian's chromium: scripts/test-deps.sh does)")
	}
	t.Skip("no Chromium on PATH (Debian: apt-get install chromium); the browser tests need it")
	return ""
}

// screenshotDir is where the browser tests leave their screenshots.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("QUARRY_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "quarry-widget-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

const hostPage = `<!doctype html>
<html lang="%[1]s"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kestrel Home · Help</title>%[2]s</head>
<body style="margin:0;font:16px Georgia,serif;background:#fdfcf8;color:#333">
<h1 style="margin:24px">Kestrel Home help centre</h1>
<p style="margin:24px">Guides for the Kestrel Hub, orders, shipping and refunds.</p>
%[3]s
</body></html>`

const hostileCSS = `<style>
* { all: unset !important; }
html, body, h1, p, div, span, button, input { font-size: 64px !important; line-height: 3 !important; font-family: "Comic Sans MS", cursive !important; }
</style>`

// hostPages serves the host pages: / (English), /zh (Chinese, loading
// the script from its versioned URL), /hostile (hostile CSS), /left (the
// widget on the left, in another colour), /nolang (no page language),
// /plain (no widget).
func hostPages(quarryURL, versioned, key, docs *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang, style, script := "en", "", *quarryURL+"/widget.js"
		title, color, position := "Kestrel help", "#0f766e", ""
		switch r.URL.Path {
		case "/":
		case "/nolang":
			lang = ""
		case "/csp":
			// A strict policy: scripts and connections only to Quarry,
			// no inline styles.
			w.Header().Set("Content-Security-Policy", fmt.Sprintf("default-src 'self'; script-src %[1]s; connect-src %[1]s; style-src 'self'", *quarryURL))
		case "/left":
			title, color, position = "Ask Kestrel", "#9333ea", ` data-position="left"`
		case "/zh":
			lang, script = "zh-CN", *versioned
		case "/hostile":
			style = hostileCSS
		case "/plain":
			script = ""
		default:
			http.NotFound(w, r)
			return
		}
		tag := ""
		if script != "" {
			tag = fmt.Sprintf(`<script src="%s" data-kb="default" data-key="%s" data-docs="%s" data-title="%s" data-color="%s"%s async></script>`, script, *key, *docs, title, color, position)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, hostPage, lang, style, tag)
	})
}

// widgetAnswer is what the page shows of the last answer.
type widgetAnswer struct {
	Text         string   `json:"text"`
	AnswerID     string   `json:"id"`
	Answered     string   `json:"answered"`
	FirstTokenMS float64  `json:"first"`
	Deltas       int      `json:"deltas"`
	Links        []string `json:"links"`
	Labels       []string `json:"labels"`
	Handoff      string   `json:"handoff"`
	Mailto       string   `json:"mailto"`
	Contact      string   `json:"contact"`
	Error        bool     `json:"error"`
}

const shadow = `document.querySelector('[data-quarry-widget]').shadowRoot`

const lastAnswerJS = `(() => {
  const b = [...` + shadow + `.querySelectorAll('div.b.a')].pop();
  const h = b.querySelector('[data-handoff]');
  const m = b.querySelector('[data-handoff] a[href^="mailto:"]');
  const u = b.querySelector('[data-handoff] a[href^="http"]');
  return {text: b.firstChild.textContent, id: b.dataset.answerId || '', answered: b.dataset.answered || '',
    first: +(b.dataset.firstTokenMs || -1), deltas: +(b.dataset.deltas || 0),
    links: [...b.querySelectorAll('.c a')].map(a => a.href), labels: [...b.querySelectorAll('.c a')].map(a => a.textContent), handoff: h ? h.textContent : '',
    mailto: m ? m.href : '', contact: u ? u.href : '', error: b.hasAttribute('data-error')};
})()`

// ask types a question into the open widget and waits for its answer.
func ask(t *testing.T, ctx context.Context, q string) widgetAnswer {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](shadow+`.querySelectorAll('div.b.a').length`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.JSPath(shadow+`.querySelector('input')`), q+"\r"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const bs = %s.querySelectorAll('div.b.a'); return bs.length > %d && !bs[bs.length-1].hasAttribute('aria-busy'); })()`, shadow, n),
			chromedp.WithPollingTimeout(60*time.Second)),
	)
	if err != nil {
		t.Fatalf("asking %q: %v", q, err)
	}
	a, err := chromedp.Run(ctx, chromedp.Evaluate[widgetAnswer](lastAnswerJS))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// openWidget loads url and opens the widget's panel.
func openWidget(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.Poll[chromedp.Void](`!!window.Quarry && !!document.querySelector('[data-quarry-widget]')`, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Click(chromedp.JSPath(shadow+`.querySelector('button.l')`)),
		chromedp.Poll[chromedp.Void](`!`+shadow+`.querySelector('.p').hidden`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err != nil {
		t.Fatalf("opening the widget on %s: %v", url, err)
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) []byte {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

type rect struct{ Left, Top, Right, Bottom float64 }

func rectOf(t *testing.T, ctx context.Context, js string) rect {
	t.Helper()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[rect](`(() => { const r = `+js+`.getBoundingClientRect(); return {Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWidgetInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	chrome := chromium(t)
	shots := screenshotDir(t)

	// The sample help centre, with a hand-off for declined questions.
	src, data := t.TempDir(), t.TempDir()
	if err := os.CopyFS(src, corpora.HelpCenter()); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "ingest", "--data", data, src); code != 0 {
		t.Fatalf("ingest: %s", errOut)
	}
	if err := os.WriteFile(strategyPath(data, "default"), []byte(`escalation:
  contact:
    message: {en: "Our support team answers within one business day.", zh: "我们的客服会在一个工作日内回复您。"}
    url: https://kestrel.example/contact
    email: support@kestrel.example
`), 0o644); err != nil {
		t.Fatal(err)
	}

	// Host pages on two origins; the key is bound to the first.
	var quarryURL, versionedURL, widgetKey, docs string
	site := httptest.NewServer(hostPages(&quarryURL, &versionedURL, &widgetKey, &docs))
	defer site.Close()
	other := httptest.NewServer(hostPages(&quarryURL, &versionedURL, &widgetKey, &docs))
	defer other.Close()
	docs = site.URL + "/help/"
	key := func(args ...string) string {
		out, errOut, code := runCLI(t, append([]string{"keys", "create", "--data", data}, args...)...)
		if code != 0 {
			t.Fatalf("keys create: %s", errOut)
		}
		return strings.TrimSpace(out)
	}
	widgetKey = key("--kb", "default", "--scope", "ask", "--origin", site.URL, "--name", "widget")
	adminKey := key("--kb", "*", "--scope", "admin", "--name", "operator")
	p := startServer(t, "serve", "--data", data, "--addr", "127.0.0.1:0")
	quarryURL = "http://" + p.addr
	// The serve log names the widget's versioned URL, for host pages.
	if m := regexp.MustCompile(`widget=(http://\S+/widget/[0-9a-f]+/widget\.js)`).FindStringSubmatch(p.stderr.String()); m == nil {
		t.Fatalf("quarry serve does not log the widget's versioned URL:\n%s", p.stderr)
	} else {
		versionedURL = m[1]
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	tab := func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(browser)
		t.Cleanup(cancel)
		ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
		t.Cleanup(cancelT)
		return ctx
	}
	logged := func() []quarry.Turn {
		out, errOut, code := runCLI(t, "log", "export", "--data", data)
		if code != 0 {
			t.Fatalf("log export: %s", errOut)
		}
		var ts []quarry.Turn
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var tu quarry.Turn
			if err := json.Unmarshal([]byte(line), &tu); err != nil {
				t.Fatal(err)
			}
			ts = append(ts, tu)
		}
		return ts
	}

	t.Run("answer, follow-up and feedback", func(t *testing.T) {
		ctx := tab(t)
		openWidget(t, ctx, site.URL+"/")
		first := ask(t, ctx, "How long do refunds take?")
		// Streamed: the answer came in several delta events, each shown
		// as it arrived.
		if first.Answered != "true" || first.Error || first.Deltas < 2 || first.FirstTokenMS < 0 || !strings.Contains(first.Text, "5 business days") {
			t.Fatalf("first answer: %+v", first)
		}
		if len(first.Links) == 0 || first.Links[0] != docs+"returns/refund-status.html" {
			t.Errorf("citation links %v, want the first to be %sreturns/refund-status.html", first.Links, docs)
		}
		// The link reads "[1] title › heading".
		if len(first.Labels) == 0 || !strings.HasPrefix(first.Labels[0], "[1] Where Is My Refund?") || !strings.Contains(first.Labels[0], " › Where is my refund?") {
			t.Errorf("citation labels %q, want the document's title and heading", first.Labels)
		}
		t.Logf("first token after %.0f ms on loopback (%d delta events)", first.FirstTokenMS, first.Deltas)
		second := ask(t, ctx, "What about PayPal?")
		if second.Answered != "true" || second.AnswerID == "" || second.AnswerID == first.AnswerID {
			t.Fatalf("follow-up: %+v", second)
		}
		// Thumbs down on the follow-up, with a comment.
		last := shadow + `.querySelector('div.b.a:last-of-type')`
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.JSPath(last+`.querySelector('.f button[aria-pressed]:nth-child(2)')`)),
			chromedp.SendKeys(chromedp.JSPath(last+`.querySelector('.f textarea')`), "It does not say how long PayPal takes"),
			chromedp.Click(chromedp.JSPath(last+`.querySelector('.f button.k')`)),
			chromedp.Poll[chromedp.Void](last+`.querySelector('.f').textContent.includes('Thanks')`, chromedp.WithPollingTimeout(20*time.Second)),
		)
		if err != nil {
			t.Fatalf("feedback: %v", err)
		}
		screenshot(t, ctx, filepath.Join(shots, "widget-en.png"))

		// Both turns and the feedback are in the log ...
		turns := logged()
		if len(turns) != 2 {
			t.Fatalf("%d turns logged, want 2", len(turns))
		}
		for i, want := range []widgetAnswer{first, second} {
			tu := turns[i]
			if tu.AnswerID != want.AnswerID || tu.Channel != quarry.ChannelWidget || tu.Origin != site.URL || tu.KeyID == "" || !tu.Answered {
				t.Errorf("turn %d: %+v", i, tu)
			}
		}
		// The follow-up was rewritten with the first question's subject.
		if turns[1].ConversationID != turns[0].ConversationID || !strings.Contains(turns[1].Query, "refund") || !strings.Contains(turns[1].Query, "PayPal") {
			t.Errorf("the follow-up is not in the conversation, rewritten: %+v", turns[1])
		}
		if fb := turns[1].Feedback; fb == nil || fb.Rating != "down" || fb.Comment != "It does not say how long PayPal takes" {
			t.Errorf("feedback logged: %+v", fb)
		}
		// ... in /metrics ...
		req, _ := http.NewRequest("GET", quarryURL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`quarry_questions_total{kb="default",outcome="answered"} 2`,
			`quarry_feedback_total{kb="default",rating="down"} 1`,
			`quarry_http_requests_total{method="POST",route="/v1/kb/{kb}/ask",status="200"} 2`,
			`quarry_http_requests_total{method="OPTIONS",route=`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		// ... and in quarry report.
		out, _, code := runCLI(t, "report", "--data", data, "--since", "1d", "--json")
		var rep quarry.Report
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Questions != 2 || rep.Answered != 2 || rep.Down != 1 ||
			len(rep.LowestRated) != 1 || rep.LowestRated[0].AnswerID != second.AnswerID {
			t.Errorf("quarry report: %s", out)
		}
	})

	t.Run("hand-off when Quarry does not know", func(t *testing.T) {
		ctx := tab(t)
		openWidget(t, ctx, site.URL+"/")
		a := ask(t, ctx, "Do you ship to Mars?")
		if a.Answered != "false" || !strings.Contains(a.Handoff, "one business day") || a.Mailto != "mailto:support@kestrel.example" ||
			a.Contact != "https://kestrel.example/contact" {
			t.Fatalf("declined answer: %+v", a)
		}
		screenshot(t, ctx, filepath.Join(shots, "widget-handoff.png"))
		// In Chinese, the hand-off's Chinese message.
		ctx = tab(t)
		openWidget(t, ctx, site.URL+"/zh")
		if a := ask(t, ctx, "你们能把货送到火星吗？"); a.Answered != "false" || !strings.Contains(a.Handoff, "一个工作日内") || !strings.Contains(a.Handoff, "需要人工服务") {
			t.Fatalf("declined answer in Chinese: %+v", a)
		}
	})

	t.Run("title, colour and position from the script's attributes", func(t *testing.T) {
		look := func(path string) (string, string, rect, rect) {
			ctx := tab(t)
			openWidget(t, ctx, site.URL+path)
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { const r = `+shadow+`;
				return [r.querySelector('h2').textContent, getComputedStyle(r.querySelector('button.l')).backgroundColor]; })()`))
			if err != nil {
				t.Fatal(err)
			}
			return got[0], got[1], rectOf(t, ctx, shadow+`.querySelector('button.l')`), rectOf(t, ctx, shadow+`.querySelector('.p')`)
		}
		title, color, launcher, panel := look("/")
		if title != "Kestrel help" || color != "rgb(15, 118, 110)" || launcher.Right < 1200 || panel.Right < 1200 {
			t.Errorf("default page: title %q, colour %s, launcher %+v, panel %+v; want the right-hand side", title, color, launcher, panel)
		}
		title, color, launcher, panel = look("/left")
		if title != "Ask Kestrel" || color != "rgb(147, 51, 234)" || launcher.Left > 80 || panel.Left > 80 {
			t.Errorf("data-position=left: title %q, colour %s, launcher %+v, panel %+v; want the left-hand side", title, color, launcher, panel)
		}
	})

	t.Run("Chinese", func(t *testing.T) {
		ctx := tab(t)
		openWidget(t, ctx, site.URL+"/zh")
		placeholder, err := chromedp.Run(ctx, chromedp.Evaluate[string](shadow+`.querySelector('input').placeholder`))
		if err != nil || placeholder != "请输入您的问题…" {
			t.Errorf("placeholder %q (%v): the interface should be Chinese on a zh page", placeholder, err)
		}
		a := ask(t, ctx, "退款多久到账？")
		if a.Answered != "true" || len(a.Links) == 0 || !strings.HasSuffix(a.Links[0], "billing/cn-payment-methods.html") {
			t.Fatalf("Chinese answer: %+v", a)
		}
		screenshot(t, ctx, filepath.Join(shots, "widget-zh.png"))
	})

	t.Run("Chinese from the browser's language when the page has none", func(t *testing.T) {
		ctx := tab(t)
		ua, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
		if err != nil {
			t.Fatal(err)
		}
		err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: "zh-CN"})
			return err
		}))
		if err != nil {
			t.Fatal(err)
		}
		openWidget(t, ctx, site.URL+"/nolang")
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[navigator.language, `+shadow+`.querySelector('input').placeholder]`))
		if err != nil || got[0] != "zh-CN" || got[1] != "请输入您的问题…" {
			t.Errorf("navigator.language, placeholder = %q (%v): want the Chinese interface", got, err)
		}
	})

	t.Run("a page with a strict Content-Security-Policy", func(t *testing.T) {
		look := func(path string) ([3]rect, string) {
			ctx := tab(t)
			openWidget(t, ctx, site.URL+path)
			if a := ask(t, ctx, "How long do refunds take?"); a.Answered != "true" {
				t.Fatalf("on %s: %+v", path, a)
			}
			down := shadow + `.querySelector('div.b.a:last-of-type .f button:nth-child(2) svg')`
			turned, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(`+down+`).transform`))
			if err != nil {
				t.Fatal(err)
			}
			return [3]rect{rectOf(t, ctx, shadow+`.querySelector('.p')`), rectOf(t, ctx, shadow+`.querySelector('button.l')`), rectOf(t, ctx, down)}, turned
		}
		plain, plainDown := look("/")
		csp, cspDown := look("/csp")
		if plain != csp || cspDown != plainDown || plainDown == "none" {
			t.Errorf("under the policy the widget is laid out at %+v (thumb down %s), without it at %+v (%s)", csp, cspDown, plain, plainDown)
		}
	})

	t.Run("refused on another origin", func(t *testing.T) {
		before := len(logged())
		ctx := tab(t)
		openWidget(t, ctx, other.URL+"/")
		a := ask(t, ctx, "How long do refunds take?")
		if !a.Error || a.AnswerID != "" || !strings.Contains(a.Text, "not available on this site") {
			t.Fatalf("from a non-allowed origin: %+v", a)
		}
		if after := len(logged()); after != before {
			t.Errorf("a refused question was logged: %d turns, were %d", after, before)
		}
	})

	t.Run("fits a 360x640 screen", func(t *testing.T) {
		ctx := tab(t)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 640)); err != nil {
			t.Fatal(err)
		}
		openWidget(t, ctx, site.URL+"/")
		ask(t, ctx, "How do I reset my password?")
		for _, part := range []string{`.querySelector('.p')`, `.querySelector('input')`, `.querySelector('button.g')`, `.querySelector('button.x')`,
			`.querySelector('button.l')`} {
			r := rectOf(t, ctx, shadow+part)
			if r.Left < 0 || r.Top < 0 || r.Right > 360 || r.Bottom > 640 || r.Right <= r.Left {
				t.Errorf("%s at %+v: outside the 360x640 screen", part, r)
			}
		}
		// The answer (it scrolls up and down in the panel) and its
		// feedback buttons fit across, and nothing in the panel is wider
		// than it (no sideways scrolling).
		p := rectOf(t, ctx, shadow+`.querySelector('.p')`)
		for _, part := range []string{`.querySelector('div.b.a:last-of-type')`, `.querySelector('div.b.a:last-of-type .f')`} {
			if r := rectOf(t, ctx, shadow+part); r.Left < p.Left || r.Right > p.Right || r.Right <= r.Left {
				t.Errorf("%s at %+v: outside the panel at %+v", part, r, p)
			}
		}
		if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const r = `+shadow+`; return [r.querySelector('.p'), r.querySelector('.m')].some(e => e.scrollWidth > e.clientWidth); })()`)); err != nil || wide {
			t.Errorf("the panel scrolls sideways at 360 px (%v)", err)
		}
		screenshot(t, ctx, filepath.Join(shots, "widget-360x640.png"))
	})

	t.Run("hostile host CSS changes nothing", func(t *testing.T) {
		var shotsOf [2]image.Image
		var rects [2][3]rect
		for i, path := range []string{"/", "/hostile"} {
			ctx := tab(t)
			openWidget(t, ctx, site.URL+path)
			// With an answer, its citation and the feedback buttons.
			if a := ask(t, ctx, "How long do refunds take?"); a.Answered != "true" {
				t.Fatalf("on %s: %+v", path, a)
			}
			// No blinking caret in the pictures.
			if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](shadow+`.activeElement.blur()`)); err != nil {
				t.Fatal(err)
			}
			rects[i] = [3]rect{rectOf(t, ctx, shadow+`.querySelector('.p')`), rectOf(t, ctx, shadow+`.querySelector('button.l')`),
				rectOf(t, ctx, shadow+`.querySelector('div.b.a:last-of-type')`)}
			b := screenshot(t, ctx, filepath.Join(shots, fmt.Sprintf("isolation-%d.png", i)))
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			shotsOf[i] = img
		}
		if rects[0] != rects[1] {
			t.Fatalf("layout differs: %+v on the plain page, %+v under hostile CSS", rects[0], rects[1])
		}
		// Every pixel of the panel and the launcher, but for their rounded
		// corners, where the page's own background shows through.
		diff := 0
		for i, r := range rects[0][:2] {
			inset := []int{14, 9}[i]
			for y := int(r.Top) + inset; y < int(r.Bottom)-inset; y++ {
				for x := int(r.Left) + inset; x < int(r.Right)-inset; x++ {
					if shotsOf[0].At(x, y) != shotsOf[1].At(x, y) {
						diff++
					}
				}
			}
		}
		if diff > 0 {
			t.Errorf("%d pixels of the widget differ under hostile CSS (isolation-0.png, isolation-1.png)", diff)
		}
	})

	t.Run("keyboard: focus stays in the panel, Escape closes", func(t *testing.T) {
		ctx := tab(t)
		openWidget(t, ctx, site.URL+"/")
		// The input has focus on opening; Tab and Shift+Tab cycle through
		// the panel's controls and never leave it.
		inside := `(() => { const r = ` + shadow + `; return document.activeElement === r.host && r.querySelector('.p').contains(r.activeElement); })()`
		for i := 0; i < 6; i++ {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
				t.Fatal(err)
			}
			if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](inside)); err != nil || !ok {
				t.Fatalf("after %d Tab presses the focus left the panel (%v)", i+1, err)
			}
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))); err != nil {
			t.Fatal(err)
		}
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](inside)); err != nil || !ok {
			t.Fatalf("after Shift+Tab the focus left the panel (%v)", err)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
			t.Fatal(err)
		}
		state, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { const r = `+shadow+`;
			return [String(r.querySelector('.p').hidden), r.activeElement ? r.activeElement.className : '', r.querySelector('button.l').getAttribute('aria-expanded'),
				r.querySelector('.p').getAttribute('role'), r.querySelector('.p').getAttribute('aria-modal'), r.querySelector('.m').getAttribute('role')]; })()`))
		if err != nil || !slices.Equal(state, []string{"true", "l", "false", "dialog", "true", "log"}) {
			t.Errorf("after Escape: hidden, focused, aria-expanded, roles = %v (%v); want the panel closed and the launcher focused", state, err)
		}
	})

	t.Run("one global", func(t *testing.T) {
		names := func(path string) []string {
			ctx := tab(t)
			if path == "/" {
				openWidget(t, ctx, site.URL+path)
			} else if err := chromedp.Do(ctx, chromedp.Navigate(site.URL+path)); err != nil {
				t.Fatal(err)
			}
			ns, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Object.getOwnPropertyNames(window)`))
			if err != nil {
				t.Fatal(err)
			}
			return ns
		}
		plain, with := names("/plain"), names("/")
		var added []string
		for _, n := range with {
			if !slices.Contains(plain, n) {
				added = append(added, n)
			}
		}
		if !slices.Equal(added, []string{"Quarry"}) {
			t.Errorf("the widget added globals %v, want only Quarry", added)
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		ctx := tab(t)
		err := chromedp.Do(ctx,
			chromedp.Navigate(quarryURL+"/admin?range=24h"),
			chromedp.SendKeys(chromedp.CSS(`#key`), adminKey+"\r"),
		)
		if err != nil {
			t.Fatalf("signing in to the dashboard: %v", err)
		}
		// The form posts and the page is replaced: poll until the new one
		// has the figures.
		for deadline := time.Now().Add(30 * time.Second); ; {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('#questions')`))
			if err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the dashboard did not open after signing in: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, document.querySelector('#questions').textContent, document.cookie]`))
		if err != nil {
			t.Fatal(err)
		}
		turns := logged()
		if strings.Contains(got[0], adminKey) || got[1] != fmt.Sprint(len(turns)) || strings.Contains(got[2], adminKey) {
			t.Errorf("dashboard: url %q, questions %q (log: %d), cookie visible to scripts %q", got[0], got[1], len(turns), got[2])
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, "dashboard.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
}
