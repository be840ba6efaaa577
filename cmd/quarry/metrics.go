package main

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quarry-kb/quarry/kb"
)

// indexCollector reports each knowledge base's index (documents,
// chunks, age) and counts its updates and rebuilds, read from the data
// directory at every scrape, so updates made by other processes (quarry
// ingest, quarry reindex from cron) are counted too.
type indexCollector struct {
	m *kb.Manager

	docs, chunks, age, running *prometheus.Desc
	updates                    *prometheus.CounterVec
	rebuilds                   *prometheus.CounterVec
	rebuildTime                *prometheus.HistogramVec
	buildTime                  *prometheus.HistogramVec

	mu       sync.Mutex
	versions map[string]int       // last state.json version seen, per knowledge base
	finished map[string]time.Time // last rebuild end seen
}

func newIndexCollector(m *kb.Manager) *indexCollector {
	c := &indexCollector{
		m:       m,
		docs:    prometheus.NewDesc("quarry_index_documents", "Documents in the served generation.", []string{"kb"}, nil),
		chunks:  prometheus.NewDesc("quarry_index_chunks", "Chunks in the served generation.", []string{"kb"}, nil),
		age:     prometheus.NewDesc("quarry_index_age_seconds", "Seconds since the served generation was built.", []string{"kb"}, nil),
		running: prometheus.NewDesc("quarry_rebuild_running", "1 while a rebuild runs.", []string{"kb"}, nil),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_index_updates_total", Help: "New generations switched to while the server ran, by reason (ingest, reindex, rollback).",
		}, []string{"kb", "reason"}),
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quarry_rebuilds_total", Help: "Rebuilds finished while the server ran, by outcome (ok, failed).",
		}, []string{"kb", "outcome"}),
		rebuildTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quarry_rebuild_duration_seconds", Help: "How long rebuilds took.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"kb"}),
		buildTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quarry_index_build_duration_seconds", Help: "How long the builds of the generations switched to while the server ran took, by reason (ingest, reindex).",
			Buckets: []float64{.1, .5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"kb", "reason"}),
		versions: map[string]int{},
		finished: map[string]time.Time{},
	}
	// What was there before the server started is not counted.
	names, _ := m.List()
	for _, name := range names {
		if gs, err := m.State(name); err == nil {
			c.versions[name] = gs.Versions
		}
		if st, err := m.Status(name); err == nil && st.LastFinished != nil {
			c.finished[name] = *st.LastFinished
		}
	}
	return c
}

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.docs
	ch <- c.chunks
	ch <- c.age
	ch <- c.running
	c.updates.Describe(ch)
	c.rebuilds.Describe(ch)
	c.rebuildTime.Describe(ch)
	c.buildTime.Describe(ch)
}

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	names, _ := c.m.List()
	c.mu.Lock()
	for _, name := range names {
		st, err := c.m.Status(name)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.docs, prometheus.GaugeValue, float64(st.Documents), name)
		ch <- prometheus.MustNewConstMetric(c.chunks, prometheus.GaugeValue, float64(st.Chunks), name)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, st.IndexAgeSeconds, name)
		running := 0.0
		if st.Running {
			running = 1
		}
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, running, name)
		if gs, err := c.m.State(name); err == nil {
			if prev := c.versions[name]; gs.Versions > prev {
				// Each new generation by its own reason, with the time
				// its build took (the history is newest first; a rollback
				// built nothing). Switches beyond the history's length
				// count under the current reason.
				n := gs.Versions - prev
				hist := gs.History[:min(n, len(gs.History))]
				for _, h := range hist {
					reason := h.Reason
					if reason == "" {
						reason = "unknown"
					}
					c.updates.WithLabelValues(name, reason).Inc()
					if h.BuildSeconds > 0 {
						c.buildTime.WithLabelValues(name, reason).Observe(h.BuildSeconds)
					}
				}
				if rest := n - len(hist); rest > 0 {
					reason := gs.Info.Reason
					if reason == "" {
						reason = "unknown"
					}
					c.updates.WithLabelValues(name, reason).Add(float64(rest))
				}
			}
			c.versions[name] = gs.Versions
		}
		if st.LastFinished != nil && st.LastStarted != nil {
			if prev, ok := c.finished[name]; !ok || st.LastFinished.After(prev) {
				outcome := "ok"
				if st.LastError != "" {
					outcome = "failed"
				}
				c.rebuilds.WithLabelValues(name, outcome).Inc()
				c.rebuildTime.WithLabelValues(name).Observe(st.LastFinished.Sub(*st.LastStarted).Seconds())
				c.finished[name] = *st.LastFinished
			}
		}
	}
	c.mu.Unlock()
	c.updates.Collect(ch)
	c.rebuilds.Collect(ch)
	c.rebuildTime.Collect(ch)
	c.buildTime.Collect(ch)
}
