// Package metrics holds gatepost's Prometheus metrics: the gRPC server's
// (from go-grpc-middleware's prometheus provider), the HTTP server's (from
// promhttp), and gatepost's own: upload credentials issued, rejections by
// reason, authentication failures, rate-limit hits, byte quotas and signing
// latency, verdicts and webhook deliveries.
package metrics

import (
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry with every gatepost metric. A nil *Metrics is
// valid and records nothing.
type Metrics struct {
	registry *prometheus.Registry
	// GRPC is the gRPC server's metrics and interceptors.
	GRPC *grpcprom.ServerMetrics

	issued       *prometheus.CounterVec
	rejections   *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	quotaBytes   *prometheus.CounterVec
	quotaRefused *prometheus.CounterVec
	signing      *prometheus.HistogramVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	lifecycle
}

// New returns Metrics registered in a fresh registry, with Go runtime and
// process metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		GRPC: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}),
		)),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_uploads_issued_total",
			Help: "Upload credentials issued (POST policies, PUT URLs, multipart steps), by profile and kind.",
		}, []string{"profile", "kind"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_rejections_total",
			Help: "UploadService calls refused or failed, by RPC method and reason (the gRPC code).",
		}, []string{"method", "reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_auth_failures_total",
			Help: "Callers that failed authentication, by reason (missing_token, invalid_token).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_rate_limited_total",
			Help: "Calls refused by the per-subject rate limit, by profile.",
		}, []string{"profile"}),
		quotaBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_quota_reserved_bytes_total",
			Help: "Bytes reserved against byte quotas by issued credentials (before corrections), by profile.",
		}, []string{"profile"}),
		quotaRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_quota_exceeded_total",
			Help: "Calls refused because the subject's byte quota was used up, by profile.",
		}, []string{"profile"}),
		signing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatepost_signing_duration_seconds",
			Help:    "Time spent signing (or calling the store), by operation.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .1, .5, 1},
		}, []string{"operation"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepost_http_requests_total",
			Help: "HTTP requests served, by status code and method.",
		}, []string{"code", "method"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatepost_http_request_duration_seconds",
			Help:    "HTTP request latency, by status code and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"code", "method"}),
	}
	r.MustRegister(m.GRPC, m.issued, m.rejections, m.authFailures, m.rateLimited, m.quotaBytes, m.quotaRefused, m.signing,
		m.httpRequests, m.httpDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.lifecycle = newLifecycle(r)
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// InstrumentHTTP counts and times the requests h serves.
func (m *Metrics) InstrumentHTTP(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return promhttp.InstrumentHandlerCounter(m.httpRequests, promhttp.InstrumentHandlerDuration(m.httpDuration, h))
}

// Issued counts one issued upload credential.
func (m *Metrics) Issued(profile, kind string) {
	if m != nil {
		m.issued.WithLabelValues(profile, kind).Inc()
	}
}

// Rejected counts one refused or failed call.
func (m *Metrics) Rejected(method, reason string) {
	if m != nil {
		m.rejections.WithLabelValues(method, reason).Inc()
	}
}

// AuthFailed counts one failed authentication.
func (m *Metrics) AuthFailed(reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(reason).Inc()
	}
}

// RateLimited counts one call over its rate.
func (m *Metrics) RateLimited(profile string) {
	if m != nil {
		m.rateLimited.WithLabelValues(profile).Inc()
	}
}

// QuotaReserved counts bytes reserved against a profile's quota.
func (m *Metrics) QuotaReserved(profile string, bytes int64) {
	if m != nil {
		m.quotaBytes.WithLabelValues(profile).Add(float64(bytes))
	}
}

// QuotaExceeded counts one call refused over its byte quota.
func (m *Metrics) QuotaExceeded(profile string) {
	if m != nil {
		m.quotaRefused.WithLabelValues(profile).Inc()
	}
}

// Signed records how long one signing (or store call) took.
func (m *Metrics) Signed(operation string, d time.Duration) {
	if m != nil {
		m.signing.WithLabelValues(operation).Observe(d.Seconds())
	}
}
