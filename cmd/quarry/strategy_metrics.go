package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// strategyCollector exports the reply strategies' figures to
// Prometheus (GET /metrics): what the strategies answered, hand-offs by
// reason, and webhook deliveries, failures included, so that an
// escalation nobody heard of shows on the dashboard.
type strategyCollector struct{ s *strategies }

var (
	descStrategyAnswers = prometheus.NewDesc("quarry_strategy_answers_total",
		"Questions answered by a knowledge base's reply strategy instead of retrieval, by rule.", []string{"kb", "rule"}, nil)
	descEscalations = prometheus.NewDesc("quarry_escalations_total",
		"Conversations handed off to a person, by reason (requested, declined, declines).", []string{"kb", "reason"}, nil)
	descWebhookEvents = prometheus.NewDesc("quarry_escalation_webhook_events_total",
		"Hand-off webhook events by outcome: delivered, or failed after every retry.", []string{"result"}, nil)
	descWebhookAttempts = prometheus.NewDesc("quarry_escalation_webhook_attempts_total",
		"Hand-off webhook requests sent, retries included.", nil, nil)
	descWebhookPending = prometheus.NewDesc("quarry_escalation_webhook_pending",
		"Hand-off webhook events being delivered now.", nil, nil)
	descWeChatMessages = prometheus.NewDesc("quarry_wechat_replies_total",
		"WeChat messages answered, by how: passive (within the 5-second window), late (customer-service API), late_failed.", []string{"kb", "how"}, nil)
)

func (c strategyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStrategyAnswers, descEscalations, descWebhookEvents, descWebhookAttempts, descWebhookPending, descWeChatMessages} {
		ch <- d
	}
}

func (c strategyCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.s.figures()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for kb, k := range f.KnowledgeBases {
		counter(descStrategyAnswers, k.Curated, kb, "curated")
		counter(descStrategyAnswers, k.Blocked, kb, "blocked")
		counter(descStrategyAnswers, k.SmallTalk, kb, "small_talk")
		for reason, n := range k.Escalations {
			counter(descEscalations, n, kb, reason)
		}
	}
	counter(descWebhookEvents, f.Webhook.Delivered, "delivered")
	counter(descWebhookEvents, f.Webhook.Failed, "failed")
	counter(descWebhookAttempts, f.Webhook.Attempts)
	ch <- prometheus.MustNewConstMetric(descWebhookPending, prometheus.GaugeValue, float64(f.Webhook.Pending))
	for kb, w := range f.WeChat {
		counter(descWeChatMessages, w.Passive, kb, "passive")
		counter(descWeChatMessages, w.Late, kb, "late")
		counter(descWeChatMessages, w.LateFailed, kb, "late_failed")
	}
}
