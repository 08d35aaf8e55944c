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
