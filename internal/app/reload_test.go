package app_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// keyYAML is one entry of auth.api_keys.
func keyYAML(subject, key string, profiles string) string {
	return fmt.Sprintf("    - {subject: %q, sha256: %q, profiles: %s}\n", subject, auth.HashKey(key), profiles)
}

// fileConfig is a configuration file like start's configuration, with the
// given auth.api_keys entries and extra top-level settings.
func fileConfig(keys []string, extra string) string {
	return `grpc_addr: "127.0.0.1:0"
http_addr: "127.0.0.1:0"
s3: {region: us-east-1, endpoint: "http://127.0.0.1:9", path_style: true}
profiles:
  default: {bucket: uploads, key_prefix: "user-uploads/", min_bytes: 1, max_bytes: 10485760, content_types: ["image/png", "text/plain"], metadata_keys: [owner]}
  avatars: {bucket: uploads, key_prefix: "avatars/{subject}/", max_bytes: 1048576, content_types: ["image/png"], expires: 1m}
rate_limit: {disabled: true}
auth:
  mode: api_key
  api_keys:
` + strings.Join(keys, "") + extra
}

var (
	aliceYAML = keyYAML("alice", aliceKey, `["default"]`)
	bobYAML   = keyYAML("bob", bobKey, `["*"]`)
)

// configDir is a directory laid out as Kubernetes mounts a ConfigMap:
// config.yaml -> ..data/config.yaml, ..data -> ..<generation>. Updates
// swap the ..data symlink, so the file's path never changes while its
// content does.
type configDir struct {
	dir string
	gen atomic.Int64
}

func newConfigDir(t *testing.T, content string) *configDir {
	t.Helper()
	d := &configDir{dir: t.TempDir()}
	d.update(t, content)
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), d.path()); err != nil {
		t.Fatal(err)
	}
	return d
}

// path is the configuration file gatepost is given.
func (d *configDir) path() string { return filepath.Join(d.dir, "config.yaml") }

// update writes a new generation and swaps ..data to it in one rename,
// as the kubelet does.
func (d *configDir) update(t *testing.T, content string) {
	t.Helper()
	gen := fmt.Sprintf("..gen-%d", d.gen.Add(1))
	if err := os.Mkdir(filepath.Join(d.dir, gen), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, gen, "config.yaml"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(d.dir, "..data_tmp")
	if err := os.Symlink(gen, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// startFromFile starts gatepost from the configuration file at path,
// reloading it as opts say.
func startFromFile(t *testing.T, path string, opts app.Options) *started {
	t.Helper()
	loaded, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.ConfigFile = path
	return startWith(t, opts, func(c *config.Config) { *c = *loaded })
}

// codeFor is the gRPC code of a presign call with the API key.
func codeFor(t *testing.T, s *started, key string) codes.Code {
	t.Helper()
	_, err := s.client.CreatePresignedPost(withToken(t.Context(), key), okRequest)
	return status.Code(err)
}

// eventually polls until cond holds, failing after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkKeysWork checks which keys are let in, on gRPC and REST.
func checkKeysWork(t *testing.T, s *started, want map[string]codes.Code) {
	t.Helper()
	for key, code := range want {
		bothTransports(t, s, "Bearer "+key, okRequest, code)
	}
}

// checkNoKeysLogged scans the logs for the test keys and their hashes.
func checkNoKeysLogged(t *testing.T, s *started) {
	t.Helper()
	logs := s.logs.String()
	for _, secret := range []string{aliceKey, bobKey, auth.HashKey(aliceKey), auth.HashKey(bobKey)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain a key or its hash %q", secret[:8])
		}
	}
}

// TestReloadRemovesKey: an API key removed from the configuration file (by
// a ConfigMap-style symlink swap) is refused soon after, while the other
// keeps working, without a restart.
func TestReloadRemovesKey(t *testing.T) {
	t.Parallel()
	d := newConfigDir(t, fileConfig([]string{aliceYAML, bobYAML}, ""))
	s := startFromFile(t, d.path(), app.Options{ReloadInterval: 20 * time.Millisecond})
	checkKeysWork(t, s, map[string]codes.Code{aliceKey: codes.OK, bobKey: codes.OK})

	d.update(t, fileConfig([]string{bobYAML}, ""))
	eventually(t, "alice's removed key is refused", func() bool { return codeFor(t, s, aliceKey) == codes.Unauthenticated })
	checkKeysWork(t, s, map[string]codes.Code{aliceKey: codes.Unauthenticated, bobKey: codes.OK})
	if logs := s.logs.String(); !strings.Contains(logs, `"msg":"configuration reloaded"`) || !strings.Contains(logs, `"api_keys":1`) {
		t.Errorf("no reload line with the number of keys:\n%s", logs)
	}
	if logs := s.logs.String(); strings.Contains(logs, "need a restart") {
		t.Errorf("a key change was reported as needing a restart:\n%s", logs)
	}
	checkNoKeysLogged(t, s)
}

// TestReloadInvalidKeepsKeys: an invalid edit is logged and changes
// nothing; a later valid edit is applied.
func TestReloadInvalidKeepsKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		wantLog string
	}{
		{name: "not YAML", content: "auth: [", wantLog: "parse YAML"},
		{name: "unknown setting", content: fileConfig([]string{bobYAML}, "ratelimit: {}\n"), wantLog: "ratelimit"},
		{
			name:    "reserved subject",
			content: fileConfig([]string{keyYAML("cert:billing-service", aliceKey, `["*"]`), bobYAML}, ""),
			wantLog: "auth.api_keys[0].subject",
		},
		{name: "no keys", content: fileConfig(nil, ""), wantLog: "auth.api_keys"},
		{
			name:    "another mode",
			content: strings.Replace(fileConfig(nil, ""), "mode: api_key\n  api_keys:\n", "mode: none\n", 1),
			wantLog: "auth.mode: changed from api_key to none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newConfigDir(t, fileConfig([]string{aliceYAML, bobYAML}, ""))
			s := startFromFile(t, d.path(), app.Options{ReloadInterval: 20 * time.Millisecond})

			d.update(t, tt.content)
			eventually(t, "the failed reload is logged", func() bool {
				return strings.Contains(s.logs.String(), "configuration reload failed")
			})
			if logs := s.logs.String(); !strings.Contains(logs, tt.wantLog) {
				t.Errorf("the failed reload does not name %q:\n%s", tt.wantLog, logs)
			}
			checkKeysWork(t, s, map[string]codes.Code{aliceKey: codes.OK, bobKey: codes.OK})

			d.update(t, fileConfig([]string{bobYAML}, ""))
			eventually(t, "the fixed file is applied", func() bool { return codeFor(t, s, aliceKey) == codes.Unauthenticated })
			checkKeysWork(t, s, map[string]codes.Code{bobKey: codes.OK})
			checkNoKeysLogged(t, s)
		})
	}
}

// TestReloadSignal: a value on ReloadSignals (SIGHUP, relayed by main)
// reloads the file, even one edited in place; no signal is sent to the
// test process.
func TestReloadSignal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatepost.yaml")
	if err := os.WriteFile(path, []byte(fileConfig([]string{aliceYAML, bobYAML}, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	signals := make(chan os.Signal, 1)
	// An interval far beyond the test: only the signal can reload.
	s := startFromFile(t, path, app.Options{ReloadSignals: signals, ReloadInterval: time.Hour})
	if err := os.WriteFile(path, []byte(fileConfig([]string{bobYAML}, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := codeFor(t, s, aliceKey); got != codes.OK {
		t.Fatalf("alice before the signal: %s, want OK", got)
	}
	signals <- syscall.SIGHUP
	eventually(t, "alice's key is refused after SIGHUP", func() bool { return codeFor(t, s, aliceKey) == codes.Unauthenticated })
	checkKeysWork(t, s, map[string]codes.Code{bobKey: codes.OK})
	if logs := s.logs.String(); !strings.Contains(logs, `"signal":"hangup"`) {
		t.Errorf("the reload does not name the signal:\n%s", logs)
	}
}

// TestReloadRestartNeeded: settings other than the keys and the mTLS
// profiles are not applied and are named in a warning; the keys are.
func TestReloadRestartNeeded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatepost.yaml")
	if err := os.WriteFile(path, []byte(fileConfig([]string{aliceYAML, bobYAML}, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startFromFile(t, path, app.Options{ReloadInterval: time.Hour})
	edited := strings.Replace(fileConfig([]string{bobYAML}, "metrics: {on_api_port: true}\n"), "rate_limit: {disabled: true}", "rate_limit: {requests_per_second: 1, burst: 1}", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.app.Reload(t.Context()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	logs := s.logs.String()
	for _, want := range []string{"need a restart", `"metrics.on_api_port"`, `"rate_limit.requests_per_second"`, `"rate_limit.burst"`, `"api_keys":1`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs do not say %s:\n%s", want, logs)
		}
	}
	// The keys changed, the rate limit and metrics did not.
	checkKeysWork(t, s, map[string]codes.Code{aliceKey: codes.Unauthenticated})
	for range 3 {
		bothTransports(t, s, "Bearer "+bobKey, okRequest, codes.OK)
	}
	if code, _ := scrape(t, "http://"+s.app.HTTPAddr()+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the API port: %d after a reload, want 404 until a restart", code)
	}
}

// TestReloadWithoutFile: with the embedded default (no file) there is
// nothing to reload, and a signal says so without stopping gatepost.
func TestReloadWithoutFile(t *testing.T) {
	t.Parallel()
	signals := make(chan os.Signal, 1)
	s := startWith(t, app.Options{ReloadSignals: signals})
	if err := s.app.Reload(t.Context()); !errors.Is(err, app.ErrNoConfigFile) {
		t.Errorf("Reload without a file: %v, want ErrNoConfigFile", err)
	}
	signals <- syscall.SIGHUP
	eventually(t, "the signal is answered", func() bool {
		return strings.Count(s.logs.String(), "nothing to reload") == 2
	})
	checkKeysWork(t, s, map[string]codes.Code{aliceKey: codes.OK})
}
