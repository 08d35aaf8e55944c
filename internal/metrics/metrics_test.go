package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/metrics"
)

// TestNilIsSafe: a nil *Metrics (metrics disabled) records nothing and
// never panics.
func TestNilIsSafe(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.Issued("p", "post")
	m.Rejected("M", "InvalidArgument")
	m.AuthFailed("missing_token")
	m.RateLimited("p")
	m.Signed("post", time.Millisecond)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := m.InstrumentHTTP(h); got == nil {
		t.Error("InstrumentHTTP(nil metrics) returned nil")
	}
}

func TestExposition(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Issued("default", "post")
	m.Issued("default", "post")
	m.Signed("post", 5*time.Microsecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`gatepost_uploads_issued_total{kind="post",profile="default"} 2`,
		`gatepost_signing_duration_seconds_count{operation="post"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

// TestLifecycleMetrics: verdicts count once per rejection reason's part
// (the text before its colon, a bounded set), deliveries by outcome with
// their latency, and the queue depth.
func TestLifecycleMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Verdict("avatars", true, nil)
	m.Verdict("avatars", false, []string{"content: the bytes are text/html, not the declared image/png", "content: again", "size 5 is not the declared 6 bytes"})
	m.Delivered("avatars", "delivered", 2*time.Second)
	m.QueueDepth("avatars", 3)
	var nilMetrics *metrics.Metrics
	nilMetrics.Verdict("p", true, nil)
	nilMetrics.Delivered("p", "failed", time.Second)
	nilMetrics.QueueDepth("p", 1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`gatepost_verdicts_total{profile="avatars",reason="none",verdict="verified"} 1`,
		`gatepost_verdicts_total{profile="avatars",reason="content",verdict="rejected"} 1`,
		`gatepost_verdicts_total{profile="avatars",reason="size",verdict="rejected"} 1`,
		`gatepost_webhook_deliveries_total{outcome="delivered",profile="avatars"} 1`,
		`gatepost_webhook_delivery_latency_seconds_count{profile="avatars"} 1`,
		`gatepost_webhook_queue_depth{profile="avatars"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
