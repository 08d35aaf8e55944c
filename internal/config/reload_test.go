package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/config"
)

func TestRestartNeeded(t *testing.T) {
	t.Parallel()
	base := func() *config.Config {
		cfg, err := config.Parse(strings.NewReader(authConfig("127.0.0.1:9090", "127.0.0.1:8080", apiKeyAuth("alice"))))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{name: "nothing", change: func(*config.Config) {}},
		{
			name: "API keys",
			change: func(c *config.Config) {
				c.Auth.APIKeys = append(c.Auth.APIKeys, config.APIKey{Subject: "bob", SHA256: strings.Repeat("cd", 32), Profiles: []string{"*"}})
				c.Auth.APIKeys[0].Profiles = []string{"*"}
			},
		},
		{name: "mTLS profiles", change: func(c *config.Config) { c.Auth.MTLS.Profiles = map[string][]string{"svc": {"default"}} }},
		{name: "mTLS enabled", change: func(c *config.Config) { c.Auth.MTLS.Enabled = true }, want: []string{"auth.mtls.enabled"}},
		{name: "auth mode", change: func(c *config.Config) { c.Auth.Mode = config.AuthNone }, want: []string{"auth.mode"}},
		{name: "JWT issuer and leeway", change: func(c *config.Config) { c.Auth.JWT.Issuer = "x"; c.Auth.JWT.Leeway = time.Minute }, want: []string{"auth.jwt.issuer", "auth.jwt.leeway"}},
		{name: "address", change: func(c *config.Config) { c.HTTPAddr = "127.0.0.1:1" }, want: []string{"http_addr"}},
		{name: "region", change: func(c *config.Config) { c.S3.Region = "eu-west-1" }, want: []string{"s3.region"}},
		{
			name: "a profile",
			change: func(c *config.Config) {
				p := c.Profiles["default"]
				p.MaxBytes++
				c.Profiles["default"] = p
			},
			want: []string{"profiles"},
		},
		{name: "metrics on the API port", change: func(c *config.Config) { c.Metrics.OnAPIPort = true }, want: []string{"metrics.on_api_port"}},
		{
			name: "keys and a rate limit",
			change: func(c *config.Config) {
				c.Auth.APIKeys = nil
				c.RateLimit.Burst = 1
			},
			want: []string{"rate_limit.burst"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := base()
			tc.change(next)
			if diff := cmp.Diff(tc.want, config.RestartNeeded(base(), next)); diff != "" {
				t.Errorf("RestartNeeded mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
