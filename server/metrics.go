package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/quarry-kb/quarry"
)

// Metrics are the server's Prometheus metrics: requests and latency by
// route and status, questions answered and declined per knowledge base,
// feedback, retrieval legs that failed, and the Go runtime's metrics.
// The program that runs the server registers its own (index size and
// age, rebuilds) on Registry. A nil *Metrics records nothing.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	questions   *prometheus.CounterVec
	answerTime  *prometheus.HistogramVec
	feedback    *prometheus.CounterVec
	legFailures *prometheus.CounterVec
	logErrors   prometheus.Counter
}

// NewMetrics returns Metrics on a registry of their own, with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quarry_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status (streams: until the last event).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method", "status"}),
		questions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_questions_total", Help: "Questions by knowledge base and outcome (answered, declined, error).",
		}, []string{"kb", "outcome"}),
		answerTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quarry_answer_duration_seconds", Help: "Time to answer a question, by knowledge base.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kb"}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_feedback_total", Help: "Feedback on answers by knowledge base and rating (up, down).",
		}, []string{"kb", "rating"}),
		legFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_retrieval_leg_failures_total", Help: "Retrieval legs (keyword, vector) that failed while the other answered, by knowledge base.",
		}, []string{"kb", "leg"}),
		logErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quarry_conversation_log_errors_total", Help: "Turns that could not be written to the conversation log.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.questions, m.answerTime, m.feedback, m.legFailures, m.logErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the program registers metrics of its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (for a
// separate listen address; the server itself serves GET /metrics behind
// an admin key).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument counts and times every request by its route pattern (not
// its path, so the label set stays small).
func (m *Metrics) instrument(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec, ok := w.(*recorder)
		if !ok {
			rec = &recorder{ResponseWriter: w}
			w = rec
		}
		next.ServeHTTP(w, r)
		status := rec.status
		if !rec.wrote {
			status = http.StatusOK
			if r.Context().Err() != nil {
				status = StatusClientClosedRequest
			}
		}
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		st := statusText(status)
		m.requests.WithLabelValues(route, r.Method, st).Inc()
		m.duration.WithLabelValues(route, r.Method, st).Observe(time.Since(start).Seconds())
	})
}

// statusTexts are the label values of the statuses Quarry answers
// with, made once.
var statusTexts = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if http.StatusText(code) != "" || code == StatusClientClosedRequest {
			m[code] = strconv.Itoa(code)
		}
	}
	return m
}()

func statusText(code int) string {
	if s, ok := statusTexts[code]; ok {
		return s
	}
	return strconv.Itoa(code)
}

func (m *Metrics) observeAnswer(kb string, ans quarry.Answer, err error, d time.Duration) {
	if m == nil {
		return
	}
	outcome := "error"
	switch {
	case err != nil:
	case ans.Answered:
		outcome = "answered"
	default:
		outcome = "declined"
	}
	m.questions.WithLabelValues(kb, outcome).Inc()
	if err == nil {
		m.answerTime.WithLabelValues(kb).Observe(d.Seconds())
		m.observeNotes(kb, ans.Notes)
	}
}

// observeNotes counts the retrieval legs that failed, as retrieval
// notes them ("vector leg failed: ...").
func (m *Metrics) observeNotes(kb string, notes []string) {
	if m == nil {
		return
	}
	for _, n := range notes {
		for _, leg := range []string{"keyword", "vector"} {
			if strings.Contains(n, leg+" leg failed") {
				m.legFailures.WithLabelValues(kb, leg).Inc()
			}
		}
	}
}

func (m *Metrics) observeFeedback(kb, rating string) {
	if m == nil {
		return
	}
	m.feedback.WithLabelValues(kb, rating).Inc()
}

func (m *Metrics) logFailed() {
	if m == nil {
		return
	}
	m.logErrors.Inc()
}

// handleMetrics serves GET /metrics (behind the admin scope).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.cfg.Metrics.Handler().ServeHTTP(w, r)
}
