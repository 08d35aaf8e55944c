package app_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
)

// scrape fetches a Prometheus text page.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// sample returns the value of the sample whose line starts with
// name{labels...} in the given order, or -1.
func sample(page, name string, labels ...string) float64 {
	pattern := regexp.QuoteMeta(name) + `\{`
	for _, l := range labels {
		pattern += `(?:[^}]*,)?` + regexp.QuoteMeta(l)
	}
	re := regexp.MustCompile(`(?m)^` + pattern + `[^}]*\} ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestMetrics drives successes, rejections, authentication failures and a
// rate-limit hit through both transports and checks what /metrics says.
func TestMetrics(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) {
		c.RateLimit = config.RateLimit{RequestsPerSecond: 0.001, Burst: 3}
		c.Metrics.OnAPIPort = true
	})
	bad := &gatepostv1.CreatePresignedPostRequest{Key: "../x", ContentType: "text/plain"}
	bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.OK)                   // 2 issued
	bothTransports(t, s, "", okRequest, codes.Unauthenticated)                      // 2 missing tokens
	bothTransports(t, s, "Bearer nope-nope-nope", okRequest, codes.Unauthenticated) // 2 invalid tokens
	s.client.CreatePresignedPost(s.authed(t.Context()), bad)                        // 1 invalid argument (it costs a request of the rate too)
	bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.ResourceExhausted)    // 2 rate limited

	code, page := scrape(t, "http://"+s.app.HTTPAddr()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatepost_uploads_issued_total", []string{`kind="post"`, `profile="default"`}, 2},
		{"gatepost_auth_failures_total", []string{`reason="missing_token"`}, 2},
		{"gatepost_auth_failures_total", []string{`reason="invalid_token"`}, 2},
		{"gatepost_rate_limited_total", []string{`profile="default"`}, 2},
		{"gatepost_rejections_total", []string{`method="CreatePresignedPost"`, `reason="InvalidArgument"`}, 1},
		{"gatepost_rejections_total", []string{`method="CreatePresignedPost"`, `reason="Unauthenticated"`}, 4},
		{"gatepost_rejections_total", []string{`method="CreatePresignedPost"`, `reason="ResourceExhausted"`}, 2},
		{"gatepost_signing_duration_seconds_count", []string{`operation="post"`}, 2},
		{"grpc_server_handled_total", []string{`grpc_code="OK"`, `grpc_method="CreatePresignedPost"`}, 2},
	}
	for _, c := range checks {
		if got := sample(page, c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, strings.Join(c.labels, ","), got, c.want)
		}
	}
	if got := sample(page, "gatepost_http_requests_total", `code="200"`, `method="get"`); got < 1 {
		t.Errorf("gatepost_http_requests_total{code=200,method=get} = %v, want at least 1", got)
	}
	if !strings.Contains(page, "go_goroutines") {
		t.Error("no Go runtime metrics")
	}
}

// TestMetricsOnAdminPort: with metrics.addr set, /metrics moves to its own
// listener and is gone from the API port.
func TestMetricsOnAdminPort(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.Metrics.Addr = "127.0.0.1:0" })
	if s.app.MetricsAddr() == "" {
		t.Fatal("no metrics listener")
	}
	if code, page := scrape(t, "http://"+s.app.MetricsAddr()+"/metrics"); code != http.StatusOK || !strings.Contains(page, "grpc_server_started_total") {
		t.Errorf("admin /metrics: %d", code)
	}
	if code, _ := scrape(t, "http://"+s.app.HTTPAddr()+"/metrics"); code != http.StatusNotFound {
		t.Errorf("API port /metrics: %d, want 404", code)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "metrics are served on their own listener") || !strings.Contains(logs, s.app.MetricsAddr()) {
		t.Errorf("start-up logs do not say where metrics are served:\n%s", logs)
	}
}

// TestMetricsPlacement: with authentication on and no metrics.addr,
// /metrics is off the API port unless metrics.on_api_port asks for it;
// with mode none (loopback) it stays there. Start-up says which.
func TestMetricsPlacement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(c *config.Config)
		want    int
		wantLog string
	}{
		{name: "api_key", change: func(*config.Config) {}, want: http.StatusNotFound, wantLog: "metrics are not served"},
		{name: "jwt", change: useJWT, want: http.StatusNotFound, wantLog: "metrics are not served"},
		{
			name:    "api_key with on_api_port",
			change:  func(c *config.Config) { c.Metrics.OnAPIPort = true },
			want:    http.StatusOK,
			wantLog: "metrics are served on the API port without authentication",
		},
		{
			name:    "jwt with on_api_port",
			change:  func(c *config.Config) { useJWT(c); c.Metrics.OnAPIPort = true },
			want:    http.StatusOK,
			wantLog: "metrics are served on the API port without authentication",
		},
		{
			name:    "none",
			change:  func(c *config.Config) { c.Auth = config.Auth{Mode: config.AuthNone} },
			want:    http.StatusOK,
			wantLog: "metrics are served on the API port",
		},
		{
			name:    "disabled",
			change:  func(c *config.Config) { c.Auth = config.Auth{Mode: config.AuthNone}; c.Metrics.Disabled = true },
			want:    http.StatusNotFound,
			wantLog: "metrics are off",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.change)
			if s.app.MetricsAddr() != "" {
				t.Errorf("MetricsAddr() = %q without metrics.addr", s.app.MetricsAddr())
			}
			code, page := scrape(t, "http://"+s.app.HTTPAddr()+"/metrics")
			if code != tt.want {
				t.Errorf("API port /metrics: %d, want %d", code, tt.want)
			}
			if code == http.StatusOK && !strings.Contains(page, "grpc_server_started_total") {
				t.Errorf("API port /metrics is no metrics page:\n%s", page)
			}
			if logs := s.logs.String(); !strings.Contains(logs, tt.wantLog) {
				t.Errorf("start-up logs do not say %q:\n%s", tt.wantLog, logs)
			}
		})
	}
}
