package config_test

import (
	"errors"
	"flag"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/config"
)

// wantDefault is the embedded default configuration, as parsed.
func wantDefault() *config.Config {
	return &config.Config{
		GRPCAddr: "127.0.0.1:9090",
		HTTPAddr: "127.0.0.1:8080",
		S3:       config.S3{Region: "us-east-1"},
		Profiles: map[string]config.Profile{
			"default": {
				Bucket:       "uploads",
				KeyPrefix:    "user-uploads/",
				KeyMode:      config.KeyModeClient,
				MinBytes:     1,
				MaxBytes:     10 << 20,
				ContentTypes: []string{"image/png", "image/jpeg", "application/pdf", "text/plain", "text/csv"},
				Expires:      15 * time.Minute,
				MetadataKeys: []string{},
			},
		},
		Auth: config.Auth{Mode: config.AuthNone, JWT: config.JWT{
			Leeway: config.DefaultJWTLeeway, JWKSRefresh: config.DefaultJWKSRefresh,
			JWKSTimeout: config.DefaultJWKSTimeout, JWKSMinRefresh: config.DefaultJWKSMinRefresh,
			ProfilesClaim: config.DefaultProfilesClaim, MaxTokenLifetime: config.DefaultMaxTokenLifetime,
		}},
		RateLimit: config.RateLimit{RequestsPerSecond: 200, Burst: 400},
		FailureLimits: config.FailureLimits{
			AuthPerAddress:    config.RateLimit{RequestsPerSecond: config.DefaultAuthFailuresPerSecond, Burst: config.DefaultAuthFailureBurst},
			InvalidPerSubject: config.RateLimit{RequestsPerSecond: config.DefaultInvalidRequestsPerSecond, Burst: config.DefaultInvalidRequestBurst},
		},
		CORS: config.CORS{AllowedOrigins: []string{"http://127.0.0.1:8080", "http://localhost:8080"}},
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	cfg, err := config.Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate: %v", err)
	}
	if diff := cmp.Diff(wantDefault(), cfg); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if _, ok := cfg.Profiles[config.DefaultProfile]; !ok {
		t.Errorf("Default() has no profile named %q", config.DefaultProfile)
	}
}

func TestDefaultYAMLIsACopy(t *testing.T) {
	t.Parallel()
	text := config.DefaultYAML()
	want := string(text)
	clear(text)
	if got := string(config.DefaultYAML()); got != want {
		t.Errorf("changing the result of DefaultYAML changed the embedded default")
	}
}

// baseProfile is a valid profile, as YAML settings.
var baseProfile = map[string]string{
	"bucket":        "uploads",
	"key_prefix":    `"user-uploads/"`,
	"max_bytes":     "1048576",
	"content_types": `["image/png"]`,
}

// configYAML returns a valid configuration whose profile "default" has
// the settings of baseProfile changed by overrides; an override of "-"
// removes the setting.
func configYAML(overrides map[string]string) string {
	settings := maps.Clone(baseProfile)
	for k, v := range overrides {
		if v == "-" {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	var b strings.Builder
	b.WriteString("grpc_addr: 127.0.0.1:9090\nhttp_addr: 127.0.0.1:8080\ns3:\n  region: us-east-1\nprofiles:\n  default:\n")
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		b.WriteString("    " + k + ": " + settings[k] + "\n")
	}
	b.WriteString(noAuth)
	return b.String()
}

// withTop returns a configuration with the top-level settings (everything
// but profiles) given in top and the valid profile "default".
func withTop(top string) string {
	return top + "profiles:\n  default:\n    bucket: uploads\n    max_bytes: 10\n    content_types: [\"application/octet-stream\"]\n" + noAuth
}

// noAuth is the auth section of the test configurations: auth.mode is
// required, and these tests are not about it.
const noAuth = "auth:\n  mode: none\n"

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		// wantParseErr, if set, must appear in Parse's error.
		wantParseErr string
		// wantErr lists what must appear in Validate's error; none means
		// the configuration is valid.
		wantErr []string
	}{
		{name: "base", yaml: configYAML(nil)},
		{name: "generated keys", yaml: configYAML(map[string]string{"key_mode": "generated"})},
		{name: "no prefix", yaml: configYAML(map[string]string{"key_prefix": "-"})},
		{name: "max_bytes exactly 5 GiB", yaml: configYAML(map[string]string{"max_bytes": "5368709120"})},
		{name: "min_bytes equal to max_bytes", yaml: configYAML(map[string]string{"min_bytes": "1048576"})},
		{name: "expires 1s", yaml: configYAML(map[string]string{"expires": "1s"})},
		{name: "expires 168h", yaml: configYAML(map[string]string{"expires": "168h"})},
		{name: "expires 0s takes the default", yaml: configYAML(map[string]string{"expires": "0s"})},
		{name: "wildcards", yaml: configYAML(map[string]string{"content_types": `["*/*", "text/*", "application/vnd.api+json"]`, "content_disposition": "attachment"})},
		{name: "metadata keys", yaml: configYAML(map[string]string{"metadata_keys": `["origin", "note_1", "a-b"]`})},
		{name: "endpoint", yaml: withTop("grpc_addr: 127.0.0.1:1\nhttp_addr: 127.0.0.1:2\ns3:\n  region: x\n  endpoint: http://127.0.0.1:9000\n  path_style: true\n")},
		{name: "both addresses on port 0", yaml: withTop("grpc_addr: 127.0.0.1:0\nhttp_addr: 127.0.0.1:0\ns3:\n  region: x\n")},

		{name: "max_bytes missing", yaml: configYAML(map[string]string{"max_bytes": "-"}), wantErr: []string{"profiles.default.max_bytes"}},
		{name: "max_bytes zero", yaml: configYAML(map[string]string{"max_bytes": "0"}), wantErr: []string{"profiles.default.max_bytes"}},
		{name: "max_bytes negative", yaml: configYAML(map[string]string{"max_bytes": "-1"}), wantErr: []string{"profiles.default.max_bytes"}},
		{name: "max_bytes over 5 GiB", yaml: configYAML(map[string]string{"max_bytes": "5368709121"}), wantErr: []string{"profiles.default.max_bytes", "5 GiB"}},
		{name: "max_bytes not a number", yaml: configYAML(map[string]string{"max_bytes": "10MB"}), wantParseErr: "10MB"},
		{name: "bucket missing", yaml: configYAML(map[string]string{"bucket": "-"}), wantErr: []string{"profiles.default.bucket: required"}},
		{name: "bucket uppercase", yaml: configYAML(map[string]string{"bucket": "Uploads"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "bucket too short", yaml: configYAML(map[string]string{"bucket": "ab"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "bucket with two dots", yaml: configYAML(map[string]string{"bucket": "a..b"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "bucket with a slash", yaml: configYAML(map[string]string{"bucket": "a/b"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "key_prefix leading slash", yaml: configYAML(map[string]string{"key_prefix": "/up/"}), wantErr: []string{"profiles.default.key_prefix"}},
		{name: "key_prefix dot-dot", yaml: configYAML(map[string]string{"key_prefix": "../"}), wantErr: []string{"profiles.default.key_prefix"}},
		{name: "key_prefix with {subject} as a segment", yaml: configYAML(map[string]string{"key_prefix": `"avatars/{subject}/photos/"`})},
		{name: "key_prefix with {subject} not followed by a slash", yaml: configYAML(map[string]string{"key_prefix": `"avatars/{subject}"`}), wantErr: []string{"profiles.default.key_prefix", "followed by /"}},
		{name: "key_prefix with {subject} inside a segment", yaml: configYAML(map[string]string{"key_prefix": `"avatars/x{subject}/"`}), wantErr: []string{"profiles.default.key_prefix", "start a path segment"}},
		{name: "key_prefix ending in dollar", yaml: configYAML(map[string]string{"key_prefix": `"files$"`}), wantErr: []string{"profiles.default.key_prefix"}},
		{name: "key_prefix not ending in a slash", yaml: configYAML(map[string]string{"key_prefix": `"uploads-"`}), wantErr: []string{`profiles.default.key_prefix: "uploads-" must end with /`}},
		{name: "key_mode unknown", yaml: configYAML(map[string]string{"key_mode": "random"}), wantErr: []string{"profiles.default.key_mode"}},
		{name: "key_mode uppercase", yaml: configYAML(map[string]string{"key_mode": "Client"}), wantErr: []string{"profiles.default.key_mode"}},
		{name: "expires too short", yaml: configYAML(map[string]string{"expires": "500ms"}), wantErr: []string{"profiles.default.expires"}},
		{name: "expires negative", yaml: configYAML(map[string]string{"expires": "-1m"}), wantErr: []string{"profiles.default.expires"}},
		{name: "expires too long", yaml: configYAML(map[string]string{"expires": "169h"}), wantErr: []string{"profiles.default.expires", "168h"}},
		{
			// yaml.v3 refuses a bare number for a duration, which catches
			// "900" meant as seconds; it names the line, not the setting.
			name: "expires bare number", yaml: configYAML(map[string]string{"expires": "900"}),
			wantParseErr: "time.Duration",
		},
		{name: "expires bare zero", yaml: configYAML(map[string]string{"expires": "0"}), wantParseErr: "time.Duration"},
		{name: "expires not a duration", yaml: configYAML(map[string]string{"expires": "15 minutes"}), wantParseErr: "15 minutes"},
		{name: "content_types missing", yaml: configYAML(map[string]string{"content_types": "-"}), wantErr: []string{"profiles.default.content_types"}},
		{name: "content_types empty", yaml: configYAML(map[string]string{"content_types": "[]"}), wantErr: []string{"profiles.default.content_types"}},
		{name: "content_types uppercase", yaml: configYAML(map[string]string{"content_types": `["image/PNG"]`}), wantErr: []string{"profiles.default.content_types", "image/PNG"}},
		{name: "content_types no slash", yaml: configYAML(map[string]string{"content_types": `["image"]`}), wantErr: []string{"profiles.default.content_types"}},
		{name: "content_types bare star", yaml: configYAML(map[string]string{"content_types": `["*"]`}), wantErr: []string{"profiles.default.content_types"}},
		{name: "content_types star type", yaml: configYAML(map[string]string{"content_types": `["*/png"]`}), wantErr: []string{"profiles.default.content_types"}},
		{name: "content_types with parameters", yaml: configYAML(map[string]string{"content_types": `["text/plain; charset=utf-8"]`}), wantErr: []string{"profiles.default.content_types"}},
		{name: "metadata_keys with prefix in capitals", yaml: configYAML(map[string]string{"metadata_keys": `["X-Amz-Meta-Foo"]`}), wantErr: []string{"profiles.default.metadata_keys"}},
		{name: "metadata_keys with prefix", yaml: configYAML(map[string]string{"metadata_keys": `["x-amz-meta-foo"]`}), wantErr: []string{"profiles.default.metadata_keys"}},
		{name: "metadata_keys twice", yaml: configYAML(map[string]string{"metadata_keys": `["a", "a"]`}), wantErr: []string{"profiles.default.metadata_keys", "twice"}},
		{name: "bucket like an IP address", yaml: configYAML(map[string]string{"bucket": "192.168.1.1"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "bucket with xn-- prefix", yaml: configYAML(map[string]string{"bucket": "xn--bucket"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "bucket with -s3alias suffix", yaml: configYAML(map[string]string{"bucket": "my-s3alias"}), wantErr: []string{"profiles.default.bucket"}},
		{name: "tls cert without key", yaml: configYAML(nil) + "tls:\n  cert_file: a.crt\n", wantErr: []string{"tls: set both cert_file and key_file"}},
		{name: "tls client CA without a certificate", yaml: configYAML(nil) + "tls:\n  client_ca_file: ca.pem\n", wantErr: []string{"tls.client_ca_file"}},
		{name: "tls client_auth unknown", yaml: configYAML(nil) + "tls:\n  cert_file: a\n  key_file: b\n  client_auth: maybe\n", wantErr: []string{"tls.client_auth"}},
		{name: "mtls without a client CA", yaml: strings.Replace(configYAML(nil), noAuth, "auth:\n  mode: none\n  mtls:\n    enabled: true\n", 1), wantErr: []string{"auth.mtls.enabled"}},
		{name: "two YAML documents", yaml: configYAML(nil) + "\n---\ngrpc_addr: x:1\n", wantParseErr: "more than one document"},
		{name: "metadata_keys empty name", yaml: configYAML(map[string]string{"metadata_keys": `[""]`}), wantErr: []string{"profiles.default.metadata_keys"}},
		{name: "metadata_keys with a space", yaml: configYAML(map[string]string{"metadata_keys": `["a b"]`}), wantErr: []string{"profiles.default.metadata_keys"}},
		{name: "min_bytes negative", yaml: configYAML(map[string]string{"min_bytes": "-1"}), wantErr: []string{"profiles.default.min_bytes"}},
		{name: "min_bytes over max_bytes", yaml: configYAML(map[string]string{"min_bytes": "1048577"}), wantErr: []string{"profiles.default.min_bytes"}},
		{name: "s3.region empty", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: \"\"\n"), wantErr: []string{"s3.region"}},
		{name: "s3 missing", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:2\n"), wantErr: []string{"s3.region"}},
		{name: "s3.endpoint ftp", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\n  endpoint: ftp://x\n"), wantErr: []string{"s3.endpoint"}},
		{name: "s3.endpoint without scheme", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\n  endpoint: localhost:9000\n"), wantErr: []string{"s3.endpoint"}},
		{name: "s3.endpoint without host", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\n  endpoint: \"http://\"\n"), wantErr: []string{"s3.endpoint"}},
		{name: "grpc_addr missing", yaml: withTop("http_addr: a:2\ns3:\n  region: x\n"), wantErr: []string{"grpc_addr"}},
		{name: "http_addr missing", yaml: withTop("grpc_addr: a:1\ns3:\n  region: x\n"), wantErr: []string{"http_addr"}},
		{name: "same addresses", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:1\ns3:\n  region: x\n"), wantErr: []string{"grpc_addr and http_addr"}},
		{name: "profiles missing", yaml: "grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\n", wantErr: []string{"profiles"}},
		{name: "profiles empty", yaml: "grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\nprofiles: {}\n", wantErr: []string{"profiles"}},
		{
			name:    "profile name with a space and capitals",
			yaml:    strings.Replace(configYAML(nil), "  default:", "  Bad Name:", 1),
			wantErr: []string{"profiles.Bad Name"},
		},
		{
			name:    "empty profile",
			yaml:    "grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\nprofiles:\n  default:\n",
			wantErr: []string{"profiles.default.bucket", "profiles.default.max_bytes", "profiles.default.content_types"},
		},
		{
			name:    "every problem reported",
			yaml:    configYAML(map[string]string{"bucket": "-", "expires": "169h", "min_bytes": "-1"}),
			wantErr: []string{"profiles.default.bucket", "profiles.default.expires", "profiles.default.min_bytes"},
		},
		{name: "unknown profile setting", yaml: configYAML(map[string]string{"max_byte": "10"}), wantParseErr: "max_byte"},
		{name: "unknown s3 setting", yaml: withTop("grpc_addr: a:1\nhttp_addr: a:2\ns3:\n  region: x\n  regoin: y\n"), wantParseErr: "regoin"},
		{name: "unknown top-level setting", yaml: withTop("grpc_adr: a:1\n"), wantParseErr: "grpc_adr"},
		{name: "empty document", yaml: "", wantParseErr: "empty"},
		{name: "not a mapping", yaml: "- a\n- b\n", wantParseErr: "parse YAML"},
		{name: "duplicate setting", yaml: configYAML(nil) + "grpc_addr: b:1\n", wantParseErr: "grpc_addr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(strings.NewReader(tc.yaml))
			if tc.wantParseErr != "" {
				if err == nil {
					t.Fatalf("Parse succeeded, want an error containing %q; YAML:\n%s", tc.wantParseErr, tc.yaml)
				}
				if !strings.Contains(err.Error(), tc.wantParseErr) {
					t.Errorf("Parse error = %q, want it to contain %q", err, tc.wantParseErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v; YAML:\n%s", err, tc.yaml)
			}
			err = cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate: %v; YAML:\n%s", err, tc.yaml)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want an error containing %q; YAML:\n%s", tc.wantErr, tc.yaml)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		overrides   map[string]string
		wantKeyMode config.KeyMode
		wantExpires time.Duration
	}{
		{name: "unset", wantKeyMode: config.KeyModeClient, wantExpires: config.DefaultExpires},
		{name: "expires 0s", overrides: map[string]string{"expires": "0s"}, wantKeyMode: config.KeyModeClient, wantExpires: 15 * time.Minute},
		{name: "expires quoted 0", overrides: map[string]string{"expires": `"0"`}, wantKeyMode: config.KeyModeClient, wantExpires: 15 * time.Minute},
		{name: "empty key_mode", overrides: map[string]string{"key_mode": `""`}, wantKeyMode: config.KeyModeClient, wantExpires: 15 * time.Minute},
		{name: "set", overrides: map[string]string{"key_mode": "generated", "expires": "1h"}, wantKeyMode: config.KeyModeGenerated, wantExpires: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(strings.NewReader(configYAML(tc.overrides)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			p := cfg.Profiles["default"]
			if p.KeyMode != tc.wantKeyMode {
				t.Errorf("key_mode = %q, want %q", p.KeyMode, tc.wantKeyMode)
			}
			if p.Expires != tc.wantExpires {
				t.Errorf("expires = %s, want %s", p.Expires, tc.wantExpires)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(configYAML(nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(configYAML(map[string]string{"max_byte": "1"})), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Load(good)
	if err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	if got, want := cfg.Profiles["default"].Bucket, "uploads"; got != want {
		t.Errorf("Load(%s) bucket = %q, want %q", good, got, want)
	}
	if cfg.File != good {
		t.Errorf("Load(%s) File = %q, want the path", good, cfg.File)
	}

	_, err = config.Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "max_byte") {
		t.Errorf("Load(%s) error = %v, want one naming the file and the setting", bad, err)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = config.Load(missing)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(%s) error = %v, want one wrapping os.ErrNotExist", missing, err)
	}
}

func TestFromArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "gatepost.yaml")
	fileYAML := `grpc_addr: "127.0.0.1:19090"
http_addr: "127.0.0.1:18080"
s3:
  region: eu-west-1
  endpoint: "http://127.0.0.1:9000"
profiles:
  photos:
    bucket: photos
    key_mode: generated
    max_bytes: 1000
    content_types: ["image/png"]
` + noAuth
	if err := os.WriteFile(file, []byte(fileYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := filepath.Join(dir, "invalid.yaml")
	if err := os.WriteFile(invalid, []byte(configYAML(map[string]string{"bucket": "-"})), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := func() *config.Config {
		return &config.Config{
			File:     file,
			GRPCAddr: "127.0.0.1:19090",
			HTTPAddr: "127.0.0.1:18080",
			S3:       config.S3{Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000"},
			Profiles: map[string]config.Profile{
				"photos": {
					Bucket:       "photos",
					KeyMode:      config.KeyModeGenerated,
					MaxBytes:     1000,
					ContentTypes: []string{"image/png"},
					Expires:      config.DefaultExpires,
				},
			},
			Auth: wantDefault().Auth,
			// A file without rate_limit gets the code's defaults.
			RateLimit:     config.RateLimit{RequestsPerSecond: config.DefaultRequestsPerSec, Burst: config.DefaultBurst},
			FailureLimits: wantDefault().FailureLimits,
		}
	}

	tests := []struct {
		name string
		args []string
		env  map[string]string
		// want returns the expected configuration; nil means an error is
		// expected, containing every string in wantErr.
		want    func() *config.Config
		wantErr []string
	}{
		{name: "nothing gives the embedded default", want: wantDefault},
		{name: "config flag loads the file", args: []string{"-config", file}, want: fromFile},
		{name: "GATEPOST_CONFIG loads the file", env: map[string]string{"GATEPOST_CONFIG": file}, want: fromFile},
		{
			name: "config flag beats GATEPOST_CONFIG",
			args: []string{"-config", file}, env: map[string]string{"GATEPOST_CONFIG": invalid},
			want: fromFile,
		},
		{
			name: "environment overrides the file",
			args: []string{"-config", file}, env: map[string]string{"GATEPOST_HTTP_ADDR": "127.0.0.1:7000"},
			want: func() *config.Config { c := fromFile(); c.HTTPAddr = "127.0.0.1:7000"; return c },
		},
		{
			name: "flag overrides the environment",
			args: []string{"-config", file, "-http-addr", "127.0.0.1:7001"},
			env:  map[string]string{"GATEPOST_HTTP_ADDR": "127.0.0.1:7000"},
			want: func() *config.Config { c := fromFile(); c.HTTPAddr = "127.0.0.1:7001"; return c },
		},
		{
			name: "every setting from the environment",
			env: map[string]string{
				"GATEPOST_GRPC_ADDR":     "127.0.0.1:1",
				"GATEPOST_HTTP_ADDR":     "127.0.0.1:2",
				"GATEPOST_S3_REGION":     "ap-south-1",
				"GATEPOST_S3_ENDPOINT":   "https://s3.example.com",
				"GATEPOST_S3_PATH_STYLE": "true",
			},
			want: func() *config.Config {
				c := wantDefault()
				c.GRPCAddr, c.HTTPAddr = "127.0.0.1:1", "127.0.0.1:2"
				c.S3 = config.S3{Region: "ap-south-1", Endpoint: "https://s3.example.com", PathStyle: true}
				return c
			},
		},
		{
			name: "webhook-url gives every profile a webhook",
			args: []string{"-config", file, "-webhook-url", "http://127.0.0.1:8089/hooks"},
			want: func() *config.Config {
				c := fromFile()
				p := c.Profiles["photos"]
				p.Webhook = &config.Webhook{URL: "http://127.0.0.1:8089/hooks", SecretEnv: config.WebhookSecretEnv}
				c.Profiles["photos"] = p
				return c
			},
		},
		{
			name: "every setting from flags",
			args: []string{
				"-grpc-addr", "127.0.0.1:1", "-http-addr", "127.0.0.1:2", "-s3-region", "ap-south-1",
				"-s3-endpoint", "https://s3.example.com", "-s3-path-style", "-s3-store", "minio",
			},
			want: func() *config.Config {
				c := wantDefault()
				c.GRPCAddr, c.HTTPAddr = "127.0.0.1:1", "127.0.0.1:2"
				c.S3 = config.S3{Region: "ap-south-1", Endpoint: "https://s3.example.com", PathStyle: true, Store: config.StoreMinIO}
				return c
			},
		},
		{
			name: "GATEPOST_S3_PATH_STYLE=true",
			env:  map[string]string{"GATEPOST_S3_PATH_STYLE": "true"},
			want: func() *config.Config { c := wantDefault(); c.S3.PathStyle = true; return c },
		},
		{
			name: "path style flag false beats the environment",
			args: []string{"-s3-path-style=false"},
			env:  map[string]string{"GATEPOST_S3_PATH_STYLE": "true"},
			want: wantDefault,
		},
		{
			name: "empty variable is unset",
			env:  map[string]string{"GATEPOST_HTTP_ADDR": ""},
			want: wantDefault,
		},
		{
			name: "unrelated variables ignored",
			env:  map[string]string{"HTTP_ADDR": "x", "GATEPOST_NOPE": "x"},
			want: wantDefault,
		},
		{
			name:    "GATEPOST_S3_PATH_STYLE not a boolean",
			env:     map[string]string{"GATEPOST_S3_PATH_STYLE": "notabool"},
			wantErr: []string{"GATEPOST_S3_PATH_STYLE"},
		},
		{
			name:    "invalid file",
			args:    []string{"-config", invalid},
			wantErr: []string{"invalid configuration", "profiles.default.bucket"},
		},
		{
			name:    "invalid endpoint from the environment",
			env:     map[string]string{"GATEPOST_S3_ENDPOINT": "ftp://x"},
			wantErr: []string{"invalid configuration", "s3.endpoint"},
		},
		{
			name:    "region cleared by a flag",
			args:    []string{"-s3-region", ""},
			wantErr: []string{"invalid configuration", "s3.region"},
		},
		{
			name:    "same addresses",
			args:    []string{"-grpc-addr", "127.0.0.1:8080"},
			wantErr: []string{"invalid configuration", "grpc_addr and http_addr"},
		},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "missing.yaml")}, wantErr: []string{"missing.yaml"}},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: []string{"nope"}},
		{name: "positional argument", args: []string{"serve"}, wantErr: []string{"unexpected arguments", "serve"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tc.env[k] }
			cfg, err := config.FromArgs("gatepost", tc.args, getenv, io.Discard)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("FromArgs(%q) succeeded, want an error containing %q", tc.args, tc.wantErr)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("FromArgs(%q) error = %q, want it to contain %q", tc.args, err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("FromArgs(%q): %v", tc.args, err)
			}
			if diff := cmp.Diff(tc.want(), cfg); diff != "" {
				t.Errorf("FromArgs(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestFromArgsHelp(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	_, err := config.FromArgs("gatepost", []string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("FromArgs(-h) error = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-config") {
		t.Errorf("usage does not list -config:\n%s", out.String())
	}
}

// authConfig returns a configuration with the valid profile "default",
// the listen addresses and the given auth section (YAML, starting with
// "auth:").
func authConfig(grpcAddr, httpAddr, authYAML string) string {
	return "grpc_addr: \"" + grpcAddr + "\"\nhttp_addr: \"" + httpAddr + "\"\ns3:\n  region: us-east-1\n" +
		"profiles:\n  default:\n    bucket: uploads\n    max_bytes: 10\n    content_types: [\"image/png\"]\n" + authYAML
}

// apiKeyAuth is an api_key auth section with one key for subject.
func apiKeyAuth(subject string) string {
	return "auth:\n  mode: api_key\n  api_keys:\n    - subject: " + subject +
		"\n      sha256: \"" + strings.Repeat("ab", 32) + "\"\n      profiles: [\"default\"]\n"
}

// jwtAuth is a jwt auth section with the extra jwt settings given.
func jwtAuth(extra string) string {
	return "auth:\n  mode: jwt\n  jwt:\n    hs256_secret_env: SECRET\n    issuer: https://issuer.test\n    audience: gatepost\n" + extra
}

func TestValidateAuth(t *testing.T) {
	t.Parallel()
	const lo1, lo2 = "127.0.0.1:9090", "127.0.0.1:8080"
	tests := []struct {
		name string
		yaml string
		// wantErr lists what must appear in Validate's error; none means
		// the configuration is valid.
		wantErr []string
	}{
		{name: "api key", yaml: authConfig(lo1, lo2, apiKeyAuth("billing-service"))},
		{name: "api key subject containing cert:", yaml: authConfig(lo1, lo2, apiKeyAuth(`"billing-cert:x"`))},
		{name: "api key subject starting with cert", yaml: authConfig(lo1, lo2, apiKeyAuth("certificate-service"))},
		{
			name:    "api key subject with the certificate prefix",
			yaml:    authConfig(lo1, lo2, apiKeyAuth(`"cert:billing-service"`)),
			wantErr: []string{"auth.api_keys[0].subject", `"cert:billing-service"`, "reserved"},
		},
		{
			name:    "api key subject with the certificate prefix in capitals",
			yaml:    authConfig(lo1, lo2, apiKeyAuth(`"CERT:billing-service"`)),
			wantErr: []string{"auth.api_keys[0].subject", "reserved"},
		},
		{
			name:    "api key subject with the certificate prefix in mixed case",
			yaml:    authConfig(lo1, lo2, apiKeyAuth(`"Cert:billing-service"`)),
			wantErr: []string{"auth.api_keys[0].subject", "reserved"},
		},
		{name: "api key subject only the prefix", yaml: authConfig(lo1, lo2, apiKeyAuth(`"cert:"`)), wantErr: []string{"auth.api_keys[0].subject"}},
		{name: "api key subject empty", yaml: authConfig(lo1, lo2, apiKeyAuth(`""`)), wantErr: []string{"auth.api_keys[0].subject: required"}},
		{name: "api key subject blank", yaml: authConfig(lo1, lo2, apiKeyAuth(`"  \t "`)), wantErr: []string{"auth.api_keys[0].subject: required"}},

		{name: "jwt default lifetime", yaml: authConfig(lo1, lo2, jwtAuth(""))},
		{name: "jwt lifetime 1m", yaml: authConfig(lo1, lo2, jwtAuth("    max_token_lifetime: 1m\n"))},
		{name: "jwt lifetime 720h", yaml: authConfig(lo1, lo2, jwtAuth("    max_token_lifetime: 720h\n"))},
		{name: "jwt lifetime too short", yaml: authConfig(lo1, lo2, jwtAuth("    max_token_lifetime: 59s\n")), wantErr: []string{"auth.jwt.max_token_lifetime", "1m..720h"}},
		{name: "jwt lifetime too long", yaml: authConfig(lo1, lo2, jwtAuth("    max_token_lifetime: 721h\n")), wantErr: []string{"auth.jwt.max_token_lifetime"}},
		{name: "jwt lifetime negative", yaml: authConfig(lo1, lo2, jwtAuth("    max_token_lifetime: -1h\n")), wantErr: []string{"auth.jwt.max_token_lifetime"}},

		{name: "none on loopback", yaml: authConfig(lo1, lo2, noAuth)},
		{name: "none on localhost", yaml: authConfig("localhost:9090", "localhost:8080", noAuth)},
		{name: "none on IPv6 loopback", yaml: authConfig("[::1]:9090", "[::1]:8080", noAuth)},
		{
			name:    "none on all interfaces",
			yaml:    authConfig(":9090", ":8080", noAuth),
			wantErr: []string{"auth.mode: none on a non-loopback address", `grpc_addr ":9090"`, `http_addr ":8080"`, "auth.allow_none_beyond_loopback: true"},
		},
		{
			name:    "none with only http_addr beyond loopback",
			yaml:    authConfig(lo1, "0.0.0.0:8080", noAuth),
			wantErr: []string{"auth.mode", `http_addr "0.0.0.0:8080"`},
		},
		{
			name:    "none with only grpc_addr beyond loopback",
			yaml:    authConfig("[::]:9090", lo2, noAuth),
			wantErr: []string{"auth.mode", `grpc_addr "[::]:9090"`},
		},
		{name: "none on a host name", yaml: authConfig("gatepost.internal:9090", lo2, noAuth), wantErr: []string{"auth.mode", "gatepost.internal"}},
		{name: "none beyond loopback allowed", yaml: authConfig(":9090", ":8080", "auth:\n  mode: none\n  allow_none_beyond_loopback: true\n")},
		{name: "api key beyond loopback", yaml: authConfig(":9090", ":8080", apiKeyAuth("billing-service"))},
		{name: "jwt beyond loopback", yaml: authConfig(":9090", ":8080", jwtAuth(""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(strings.NewReader(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v; YAML:\n%s", err, tc.yaml)
			}
			err = cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate: %v; YAML:\n%s", err, tc.yaml)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want an error containing %q; YAML:\n%s", tc.wantErr, tc.yaml)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestParseMaxTokenLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string
		want  time.Duration
	}{
		{name: "unset", want: config.DefaultMaxTokenLifetime},
		{name: "zero", extra: "    max_token_lifetime: 0s\n", want: 24 * time.Hour},
		{name: "set", extra: "    max_token_lifetime: 1h\n", want: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse(strings.NewReader(authConfig("127.0.0.1:1", "127.0.0.1:2", jwtAuth(tc.extra))))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, cfg.Auth.JWT.MaxTokenLifetime); diff != "" {
				t.Errorf("max_token_lifetime mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReservedSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject string
		want    bool
	}{
		{subject: "cert:billing-service", want: true},
		{subject: "CERT:billing-service", want: true},
		{subject: "cErT:x", want: true},
		{subject: "cert:", want: true},
		{subject: "cert", want: false},
		{subject: "cert-billing", want: false},
		{subject: " cert:x", want: false}, // another subject, and KeySegment hashes it apart
		{subject: "billing-cert:x", want: false},
		{subject: "", want: false},
		{subject: "alice", want: false},
		{subject: "c\u0435rt:x", want: false}, // Cyrillic e: a different subject, hashed apart by KeySegment
	}
	for _, tc := range tests {
		t.Run(tc.subject, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, config.ReservedSubject(tc.subject)); diff != "" {
				t.Errorf("ReservedSubject(%q) mismatch (-want +got):\n%s", tc.subject, diff)
			}
		})
	}
}
