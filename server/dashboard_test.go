package server

import (
	"context"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/convlog"
	"github.com/quarry-kb/quarry/convlog/convlogtest"
)

func TestDashboardLogin(t *testing.T) {
	lg := newLogged(t, true)
	lg.askAs(t, lg.ask, "", `{"question": "q1"}`, false)

	w := do(t, lg.h, "GET", "/admin", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="/admin/login"`) || strings.Contains(w.Body.String(), `id="questions"`) {
		t.Fatalf("without a session: %d %s", w.Code, w.Body)
	}
	login := func(key string) *http.Response {
		req := strings.NewReader(url.Values{"key": {key}}.Encode())
		rec := doReader(t, lg.h, "POST", "/admin/login", req, "Content-Type", "application/x-www-form-urlencoded")
		return rec.Result()
	}
	if res := login(lg.ask); res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("login with an ask key: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	res := login(lg.admin)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
		t.Fatalf("login: %d, location %q", res.StatusCode, res.Header.Get("Location"))
	}
	cs := res.Cookies()
	if len(cs) != 1 || cs[0].Name != sessionCookie || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != "/admin" {
		t.Fatalf("session cookie: %+v", cs)
	}
	cookie := cs[0].Name + "=" + cs[0].Value
	w = do(t, lg.h, "GET", "/admin?range=24h", "", "Cookie", cookie)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<b id="questions">1</b>`) || !strings.Contains(w.Body.String(), "<svg") {
		t.Fatalf("dashboard: %d %s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if w := do(t, lg.h, "GET", "/admin", "", "Cookie", sessionCookie+"=qk_forged"); strings.Contains(w.Body.String(), `id="questions"`) {
		t.Error("a forged session cookie opened the dashboard")
	}
	res = doReader(t, lg.h, "POST", "/admin/logout", nil, "Cookie", cookie).Result()
	if cs := res.Cookies(); res.StatusCode != http.StatusSeeOther || len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout: %d %+v", res.StatusCode, cs)
	}
}

var (
	dashOnce sync.Once
	dashLog  *convlog.Log
	dashErr  error
	dashNow  = time.Now().UTC()
)

// dashboardHistory is a generated log of dashboardConversations
// conversations over the 29 days before the test started.
func dashboardHistory(t testing.TB) *convlog.Log {
	dashOnce.Do(func() {
		dir, err := sharedTempDir()
		if err != nil {
			dashErr = err
			return
		}
		dashLog, dashErr = convlog.Open(context.Background(), convlog.Config{Path: filepath.Join(dir, convlog.FileName)})
		if dashErr == nil {
			dashErr = convlogtest.Generate(context.Background(), dashLog, dashboardConversations, 11, dashNow.Add(-time.Minute), 29*24*time.Hour)
		}
	})
	if dashErr != nil {
		t.Fatal(dashErr)
	}
	return dashLog
}

var figure = regexp.MustCompile(`<b id="([a-z-]+)">([^<]*)</b>`)

func TestDashboardFigures(t *testing.T) {
	l := dashboardHistory(t)
	t.Logf("a generated history of %d conversations", dashboardConversations)
	h := newServer(t, Config{Asker: streamingAsk(), Reports: l, KnowledgeBases: []string{"default", "support"}}).Handler()
	for _, kb := range []string{"all", "support"} {
		w := do(t, h, "GET", "/admin?range=30d&kb="+kb, "")
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", kb, w.Code, w.Body)
		}
		page := w.Body.String()
		got := map[string]string{}
		for _, m := range figure.FindAllStringSubmatch(page, -1) {
			got[m[1]] = m[2]
		}
		// The figures, straight from the log's turns.
		f := quarry.TurnFilter{}
		if kb != "all" {
			f.KB = kb
		}
		turns, err := l.Turns(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		var answered, up, down int
		unanswered := map[string]int{}
		convs := map[string]bool{}
		type day struct{ q, a int }
		days := map[string]day{} // by the day's start, as the chart's bars are labelled
		var lat []float64
		for _, tu := range turns {
			convs[tu.ConversationID] = true
			lat = append(lat, tu.LatencyMS)
			d := days[tu.Time.UTC().Truncate(24*time.Hour).Format("2006-01-02 15:04")]
			d.q++
			if tu.Answered {
				answered++
				d.a++
			} else {
				unanswered[tu.Question]++
			}
			days[tu.Time.UTC().Truncate(24*time.Hour).Format("2006-01-02 15:04")] = d
			if tu.Feedback != nil && tu.Feedback.Rating == quarry.RatingUp {
				up++
			} else if tu.Feedback != nil {
				down++
			}
		}
		slices.Sort(lat)
		for _, want := range []string{
			fmt.Sprintf("%d conversations", len(convs)),
			fmt.Sprintf("%d answered · %d declined", answered, len(turns)-answered),
			fmt.Sprintf("%d up · %d down", up, down),
			fmt.Sprintf("<b>%.0f ms</b><div class=\"muted\">median · p95 %.0f ms", lat[(len(lat)+1)/2-1], lat[int(math.Ceil(0.95*float64(len(lat))))-1]),
		} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %q (from the log)", kb, want)
			}
		}
		// The chart: one bar a day, each as the log has it.
		bars := regexp.MustCompile(`<title>([0-9-]+ [0-9:]+): (\d+) questions, (\d+) answered, (\d+) declined</title>`).FindAllStringSubmatch(page, -1)
		if len(bars) < 29 || len(bars) > 31 {
			t.Errorf("%s: %d bars for 30 days", kb, len(bars))
		}
		inBars := 0
		for _, b := range bars {
			var q, a, d int
			fmt.Sscan(b[2], &q)
			fmt.Sscan(b[3], &a)
			fmt.Sscan(b[4], &d)
			inBars += q
			if want := days[b[1]]; q != want.q || a != want.a || d != want.q-want.a {
				t.Errorf("%s: bar %s: %d questions, %d answered, %d declined; the log has %d and %d", kb, b[1], q, a, d, want.q, want.a)
			}
		}
		if inBars != len(turns) {
			t.Errorf("%s: the bars hold %d questions, the log %d", kb, inBars, len(turns))
		}
		// The slowest question first; as many lowest-rated answers as
		// there are down-rated ones, up to ten.
		if want := fmt.Sprintf(`<table id="slowest"><tr><th>Time</th><th>Question</th><th>Outcome</th><th>When</th></tr>
<tr><td class="n">%.0f ms</td>`, lat[len(lat)-1]); !strings.Contains(page, want) {
			t.Errorf("%s: the slowest question is not the log's slowest (%.0f ms)", kb, lat[len(lat)-1])
		}
		low := page[strings.Index(page, `id="lowest-rated"`):]
		if n := strings.Count(low[:strings.Index(low, "</table>")], "<tr><td"); n != min(down, 10) {
			t.Errorf("%s: %d lowest-rated answers, the log has %d rated down", kb, n, down)
		}
		want := map[string]string{
			"questions":    fmt.Sprint(len(turns)),
			"answer-rate":  fmt.Sprintf("%.1f%%", 100*float64(answered)/float64(len(turns))),
			"satisfaction": fmt.Sprintf("%.1f%%", 100*float64(up)/float64(up+down)),
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q (from the log)", kb, k, got[k], v)
			}
		}
		// Every declined question is counted in one unanswered group.
		table := page[strings.Index(page, `id="unanswered"`):]
		table = table[:strings.Index(table, "</table>")]
		rows := regexp.MustCompile(`<tr><td class="n">(\d+)</td><td>([^<]*)</td>`).FindAllStringSubmatch(table, -1)
		total := 0
		for _, r := range rows {
			var n int
			fmt.Sscan(r[1], &n)
			total += n
			if unanswered[html.UnescapeString(r[2])] == 0 {
				t.Errorf("%s: unanswered group %q is no declined question", kb, r[2])
			}
		}
		declined := len(turns) - answered
		if total != declined || len(rows) != 4 {
			t.Errorf("%s: %d unanswered groups holding %d questions; want 4 groups, %d declined", kb, len(rows), total, declined)
		}
	}
}

// The hand-off card shows the strategy's figures for the knowledge base
// shown, and webhook failures stand out.
func TestDashboardHandoffs(t *testing.T) {
	l := dashboardHistory(t)
	asked := []string{}
	h := newServer(t, Config{Asker: streamingAsk(), Reports: l, KnowledgeBases: []string{"default", "support"},
		Handoffs: func(kb string) HandoffFigures {
			asked = append(asked, kb)
			return HandoffFigures{Escalations: int64(len(kb)), Delivered: 5, Failed: 2}
		}}).Handler()
	for kb, want := range map[string]string{"all": "0", "support": "7"} {
		page := do(t, h, "GET", "/admin?kb="+kb, "").Body.String()
		m := figure.FindStringSubmatch(page[strings.Index(page, `<b id="handoffs">`):])
		if m == nil || m[2] != want {
			t.Errorf("%s: hand-offs %v, want %s", kb, m, want)
		}
		if !strings.Contains(page, `<div class="err" id="webhook">webhook: 5 delivered · 2 failed</div>`) {
			t.Errorf("%s: the webhook's failures are not shown", kb)
		}
	}
	if strings.Join(asked, ",") != ",support" && strings.Join(asked, ",") != "support," {
		t.Errorf("figures asked for %q, want \"\" (all) and support", asked)
	}
	// Without a strategy, no card.
	h = newServer(t, Config{Asker: streamingAsk(), Reports: l, KnowledgeBases: []string{"default"}}).Handler()
	if page := do(t, h, "GET", "/admin", "").Body.String(); strings.Contains(page, `id="handoffs"`) {
		t.Error("a hand-off card without strategies")
	}
}

// BenchmarkDashboard renders the dashboard over a generated history of
// 10,000 conversations (2,000 under -race), every knowledge base, 30 days.
func BenchmarkDashboard(b *testing.B) {
	l := dashboardHistory(b)
	h := newServer(b, Config{Asker: streamingAsk(), Reports: l, KnowledgeBases: []string{"default", "support"}}).Handler()
	b.ReportAllocs()
	for b.Loop() {
		if w := do(b, h, "GET", "/admin?range=30d&kb=all", ""); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dashLog != nil {
		dashLog.Close()
	}
	for _, d := range sharedDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
