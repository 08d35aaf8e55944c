package config_test

import (
	"io"
	"os"
	"path/filepath"
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

// TestFileFromArgs checks FileFromArgs against the file FromArgs really
// loads, for every way of naming it.
func TestFileFromArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Each file listens on its own gRPC port, which tells which one
	// FromArgs loaded.
	files := map[string]string{}
	byPort := map[string]string{"127.0.0.1:9090": ""} // the embedded default
	for i, name := range []string{"a.yaml", "b.yaml", "-dash.yaml"} {
		path := filepath.Join(dir, name)
		port := "127.0.0.1:1" + string(rune('0'+i))
		if err := os.WriteFile(path, []byte(authConfig(port, "127.0.0.1:8080", noAuth)), 0o600); err != nil {
			t.Fatal(err)
		}
		files[name] = path
		byPort[port] = path
	}
	a, b, dash := files["a.yaml"], files["b.yaml"], files["-dash.yaml"]
	tests := []struct {
		name string
		args []string
		env  string // GATEPOST_CONFIG
	}{
		{name: "nothing"},
		{name: "flag", args: []string{"-config", a}},
		{name: "double dash flag", args: []string{"--config", a}},
		{name: "flag with =", args: []string{"-config=" + a}},
		{name: "double dash flag with =", args: []string{"--config=" + a}},
		{name: "environment", env: b},
		{name: "flag beats the environment", args: []string{"-config", a}, env: b},
		{name: "empty flag beats the environment", args: []string{"-config="}, env: b},
		{name: "last flag wins", args: []string{"-config", a, "-config", b}},
		{name: "after other flags", args: []string{"-http-addr", "127.0.0.1:7000", "-s3-path-style", "-config", a}},
		{name: "after a boolean flag with a value", args: []string{"-s3-path-style=true", "-config", a}},
		{name: "a value that looks like a flag", args: []string{"-s3-region", "-config", "-config", a}},
		{name: "a file named like a flag", args: []string{"-config", dash}},
		{name: "after the terminator", args: []string{"--", "-config", a}, env: b},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string {
				if k == "GATEPOST_CONFIG" {
					return tc.env
				}
				return ""
			}
			want := ""
			cfg, err := config.FromArgs("gatepost", tc.args, getenv, io.Discard)
			if err != nil {
				// FromArgs refuses arguments after "--"; FileFromArgs
				// must then not find a file there either.
				if tc.name != "after the terminator" {
					t.Fatalf("FromArgs(%q): %v", tc.args, err)
				}
				want = tc.env
			} else {
				want = byPort[cfg.GRPCAddr]
			}
			if diff := cmp.Diff(want, config.FileFromArgs(tc.args, getenv)); diff != "" {
				t.Errorf("FileFromArgs(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}
