package server

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
)

// Reports is what the operator's dashboard needs from the conversation
// log (convlog.Log).
type Reports interface {
	Report(ctx context.Context, f quarry.TurnFilter) (*quarry.Report, error)
}

// The operator's dashboard at /admin: question volume over time, answer
// and satisfaction rates, the most frequent unanswered questions, the
// lowest-rated answers and the slowest questions, per knowledge base and
// time range. It is server-rendered HTML with inline SVG charts: no
// script, nothing loaded from elsewhere. An admin key opens it: the
// login form posts the key, which is kept in an HttpOnly, SameSite=Strict
// cookie scoped to /admin (never in a URL) and checked on every request,
// so a revoked key closes the dashboard at once.

//go:embed static/dashboard.html
var dashboardHTML string

var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"ms": func(f float64) string {
		if f >= 1000 {
			return fmt.Sprintf("%.2f s", f/1000)
		}
		return fmt.Sprintf("%.0f ms", f)
	},
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"clip":  func(s string, n int) string { return clip(s, n) },
	"plus1": func(i int) int { return i + 1 },
}).Parse(dashboardHTML))

// sessionCookie holds the admin key of a dashboard session.
const sessionCookie = "quarry_admin"

// dashboardRanges are the time ranges the dashboard offers.
var dashboardRanges = []struct {
	Name string
	Span time.Duration
}{
	{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}, {"90d", 90 * 24 * time.Hour},
}

func (s *Server) dashboardRoutes(r chi.Router) {
	r.Get("/admin", s.handleDashboard)
	r.Post("/admin/login", s.handleLogin)
	r.Post("/admin/logout", s.handleLogout)
}

// dashboardKey returns whether the request's session may see kb ("" for
// all knowledge bases): always without keys, else when the session's key
// has the admin scope for it.
func (s *Server) dashboardAllows(r *http.Request, kb string) bool {
	if s.cfg.Keys == nil {
		return true
	}
	token := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		token = c.Value
	}
	if kb == "" {
		for _, k := range s.knowledgeBases(r.Context()) {
			if _, err := s.cfg.Keys.Authorize(auth.Request{Token: token, KB: k, Scope: auth.ScopeAdmin}); err != nil {
				return false
			}
		}
		return true
	}
	_, err := s.cfg.Keys.Authorize(auth.Request{Token: token, KB: kb, Scope: auth.ScopeAdmin})
	return err == nil
}

type loginPage struct {
	Login   bool
	Message string
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	key := strings.TrimSpace(r.PostFormValue("key"))
	ok := false
	if s.cfg.Keys != nil && key != "" {
		k, err := s.cfg.Keys.Authorize(auth.Request{Token: key, Scope: auth.ScopeAdmin})
		ok = err == nil && k.ID != ""
	}
	if !ok {
		s.renderHTML(w, r, http.StatusUnauthorized, loginPage{Login: true, Message: "That key is not an active admin key."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: key, Path: "/admin", MaxAge: 12 * 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/admin", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// dashboardPage is what the template renders.
// HandoffFigures are a reply strategy's hand-offs for the dashboard:
// conversations handed off to a person, and the hand-off webhook's
// events delivered, given up on after every retry, and in flight.
type HandoffFigures struct {
	Escalations                int64
	Delivered, Failed, Pending int64
}

type dashboardPage struct {
	Handoffs   *HandoffFigures
	Login      bool
	Message    string
	KBs        []string
	KB         string
	AllKBs     bool
	Ranges     []string
	Range      string
	Report     *quarry.Report
	Chart      chart
	SignOut    bool
	Generated  time.Time
	RenderedIn string
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q := r.URL.Query()
	kb := q.Get("kb")
	if kb == "all" {
		kb = ""
	} else if kb == "" {
		kb = s.knowledgeBases(r.Context())[0]
	} else if _, ok := s.knowledgeBase(r.Context(), kb); !ok {
		s.fail(w, r, quarry.Errorf(quarry.CodeNotFound, "no knowledge base %q", kb))
		return
	}
	if !s.dashboardAllows(r, kb) {
		status := http.StatusOK
		msg := ""
		if _, err := r.Cookie(sessionCookie); err == nil {
			status, msg = http.StatusForbidden, "This key may not see that knowledge base."
		}
		s.renderHTML(w, r, status, loginPage{Login: true, Message: msg})
		return
	}
	span := 7 * 24 * time.Hour
	rng := "7d"
	for _, d := range dashboardRanges {
		if q.Get("range") == d.Name {
			span, rng = d.Span, d.Name
		}
	}
	ctx, cancel := s.withTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	now := time.Now().UTC()
	rep, err := s.cfg.Reports.Report(ctx, quarry.TurnFilter{KB: kb, Since: now.Add(-span), Until: now})
	if err != nil {
		s.fail(w, r, classify(ctx, err))
		return
	}
	page := dashboardPage{KB: kb, Range: rng, Report: rep, Chart: volumeChart(rep), Generated: now,
		SignOut: s.cfg.Keys != nil, AllKBs: s.dashboardAllows(r, "")}
	if s.cfg.Handoffs != nil {
		f := s.cfg.Handoffs(kb)
		page.Handoffs = &f
	}
	for _, k := range s.knowledgeBases(r.Context()) {
		if s.dashboardAllows(r, k) {
			page.KBs = append(page.KBs, k)
		}
	}
	for _, d := range dashboardRanges {
		page.Ranges = append(page.Ranges, d.Name)
	}
	page.RenderedIn = time.Since(start).Round(time.Millisecond).String()
	s.renderHTML(w, r, http.StatusOK, page)
}

func (s *Server) renderHTML(w http.ResponseWriter, r *http.Request, status int, page any) {
	var b strings.Builder
	if err := dashboardTmpl.Execute(&b, page); err != nil {
		s.fail(w, r, quarry.Errorf(quarry.CodeInternal, "render dashboard: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Nothing but inline styles: no script runs on the dashboard.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// chart is the volume chart, laid out for the template.
type chart struct {
	Width, Height int
	Bars          []bar
	YMax          int
	YTicks        []tick
	XLabels       []tick
}

type bar struct {
	X, W                   float64
	AnsweredY, AnsweredH   float64
	DeclinedY, DeclinedH   float64
	Label                  string
	Questions, Answered, D int
}

type tick struct {
	Pos   float64
	Label string
}

// volumeChart lays out the stacked bars of answered and declined
// questions per bucket.
func volumeChart(rep *quarry.Report) chart {
	const w, h, left, bottom, top = 720, 220, 40, 24, 10
	c := chart{Width: w, Height: h}
	peak := 0
	for _, b := range rep.Volume {
		peak = max(peak, b.Questions)
	}
	c.YMax = niceCeil(peak)
	plotH := float64(h - bottom - top)
	n := len(rep.Volume)
	if n == 0 {
		return c
	}
	step := float64(w-left) / float64(n)
	bw := math.Max(1, step*0.8)
	scale := plotH / float64(c.YMax)
	layout := "Jan 2"
	if rep.BucketSeconds < 24*3600 {
		layout = "15:04"
	}
	for i, b := range rep.Volume {
		x := float64(left) + float64(i)*step + (step-bw)/2
		ah := float64(b.Answered) * scale
		dh := float64(b.Questions-b.Answered) * scale
		base := float64(h - bottom)
		c.Bars = append(c.Bars, bar{
			X: x, W: bw,
			AnsweredY: base - ah, AnsweredH: ah,
			DeclinedY: base - ah - dh, DeclinedH: dh,
			Label:     b.Start.UTC().Format("2006-01-02 15:04"),
			Questions: b.Questions, Answered: b.Answered, D: b.Questions - b.Answered,
		})
	}
	for i := 0; i <= 4; i++ {
		v := c.YMax * i / 4
		c.YTicks = append(c.YTicks, tick{Pos: float64(h-bottom) - float64(v)*scale, Label: fmt.Sprint(v)})
	}
	every := max(1, n/8)
	for i := 0; i < n; i += every {
		c.XLabels = append(c.XLabels, tick{Pos: float64(left) + float64(i)*step + step/2, Label: rep.Volume[i].Start.UTC().Format(layout)})
	}
	return c
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 4,
// so the four grid lines are whole numbers).
func niceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	p := 1
	for p*10 <= n {
		p *= 10
	}
	for _, m := range []int{1, 2, 4, 5, 8, 10} {
		if m*p >= n && (m*p)%4 == 0 {
			return m * p
		}
	}
	return 10 * p
}

// clip shortens s to at most n runes, with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
