package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lifecycle is the metrics of what happens after an upload lands:
// verdicts and webhook deliveries.
type lifecycle struct {
	verdicts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	queueDepth *prometheus.GaugeVec
}

func newLifecycle(r *prometheus.Registry) lifecycle {
	l := lifecycle{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_verdicts_total",
			Help: "Uploads verified, by profile, verdict (verified, rejected) and reason (the part a rejection is about: size, content, metadata...; none when verified).",
		}, []string{"profile", "verdict", "reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_webhook_deliveries_total",
			Help: "Webhook messages finished, by profile and outcome (delivered, refused, failed, dropped).",
		}, []string{"profile", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatepost_webhook_delivery_latency_seconds",
			Help:    "Time from a verdict until its webhook message was finished, by profile.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 30, 60, 300, 900, 3600},
		}, []string{"profile"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatepost_webhook_queue_depth",
			Help: "Webhook messages waiting to be sent, by profile.",
		}, []string{"profile"}),
	}
	r.MustRegister(l.verdicts, l.deliveries, l.latency, l.queueDepth)
	return l
}

// Verdict counts one verdict, once per part of the upload a rejection's
// reasons name (a reason's first word: a bounded set).
func (m *Metrics) Verdict(profile string, verified bool, reasons []string) {
	if m == nil {
		return
	}
	if verified {
		m.verdicts.WithLabelValues(profile, "verified", "none").Inc()
		return
	}
	seen := map[string]bool{}
	for _, r := range reasons {
		// The reason's first word: "content", "size", "metadata"...
		part, _, _ := strings.Cut(r, " ")
		if part = strings.TrimSuffix(part, ":"); !seen[part] {
			seen[part] = true
			m.verdicts.WithLabelValues(profile, "rejected", part).Inc()
		}
	}
}

// Delivered records a webhook message's outcome and latency.
func (m *Metrics) Delivered(profile, outcome string, latency time.Duration) {
	if m != nil {
		m.deliveries.WithLabelValues(profile, outcome).Inc()
		m.latency.WithLabelValues(profile).Observe(latency.Seconds())
	}
}

// QueueDepth sets how many webhook messages wait for a profile.
func (m *Metrics) QueueDepth(profile string, n int) {
	if m != nil {
		m.queueDepth.WithLabelValues(profile).Set(float64(n))
	}
}
