package auth_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// TestAPIKeyReservedSubject: an API key may not take a certificate
// holder's subject, nor a blank one, even when configuration validation
// was skipped.
func TestAPIKeyReservedSubject(t *testing.T) {
	t.Parallel()
	for _, subject := range []string{"cert:billing-service", "CERT:billing-service", "Cert:x", "cert:", "", "   "} {
		t.Run(subject, func(t *testing.T) {
			t.Parallel()
			cfg := config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{
				{Subject: "ok", SHA256: auth.HashKey("k1"), Profiles: []string{"*"}},
				{Subject: subject, SHA256: auth.HashKey("k2"), Profiles: []string{"*"}},
			}}
			a, err := auth.New(t.Context(), cfg, noEnv, nil)
			if err == nil {
				t.Fatalf("New with API key subject %q = %T, want an error", subject, a)
			}
			if !strings.Contains(err.Error(), "auth.api_keys[1].subject") {
				t.Errorf("error %q does not name auth.api_keys[1].subject", err)
			}
		})
	}
}

// TestCertAndTokenSubjectsDisjoint: a certificate holder and a JWT naming
// the same "cert:" subject never become the same caller.
func TestCertAndTokenSubjectsDisjoint(t *testing.T) {
	t.Parallel()
	cfg := baseJWT()
	cfg.HS256SecretEnv = secretEnv
	a, err := auth.New(t.Context(), config.Auth{Mode: config.AuthJWT, JWT: cfg, MTLS: config.MTLS{
		Enabled: true, Profiles: map[string][]string{"billing-service": {"default"}},
	}}, envOf(map[string]string{secretEnv: string(hsSecret)}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, ok := a.(auth.CertAuthenticator)
	if !ok {
		t.Fatalf("%T is no CertAuthenticator with auth.mtls enabled", a)
	}
	holder := ca.AuthenticateCert(&x509.Certificate{Subject: pkix.Name{CommonName: "billing-service"}})
	if diff := cmp.Diff(&auth.Identity{Subject: "cert:billing-service", Profiles: []string{"default"}}, holder); diff != "" {
		t.Errorf("certificate identity mismatch (-want +got):\n%s", diff)
	}
	token := hsSigner().sign(t, validClaims(func(c jwt.MapClaims) { c["sub"] = holder.Subject }))
	id, err := a.Authenticate(t.Context(), token)
	checkRejected(t, id, err, auth.ErrInvalidToken, token)
}

// TestJWTMaxTokenLifetime checks a configured max_token_lifetime and its
// leeway, and that an unset one means the default rather than no limit.
func TestJWTMaxTokenLifetime(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{secretEnv: string(hsSecret)})
	in := func(d time.Duration) int64 { return time.Now().Add(d).Unix() }
	tests := []struct {
		name     string
		lifetime time.Duration
		edit     func(c jwt.MapClaims)
		accepted bool
	}{
		{name: "1h limit, 30m token", lifetime: time.Hour, edit: func(c jwt.MapClaims) { c["exp"] = in(30 * time.Minute) }, accepted: true},
		{name: "1h limit, 2h token", lifetime: time.Hour, edit: func(c jwt.MapClaims) { c["exp"] = in(2 * time.Hour) }},
		{
			name: "1h limit, exp within the leeway", lifetime: time.Hour,
			edit:     func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = in(time.Hour + 10*time.Second) },
			accepted: true,
		},
		{
			name: "1h limit, exp beyond the leeway", lifetime: time.Hour,
			edit: func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = in(time.Hour + 2*time.Minute) },
		},
		{
			name: "1h limit, iat long ago", lifetime: time.Hour,
			edit: func(c jwt.MapClaims) { c["iat"] = in(-2 * time.Hour); c["exp"] = in(time.Minute) },
		},
		{name: "unset limit, 23h token", edit: func(c jwt.MapClaims) { c["exp"] = in(23 * time.Hour) }, accepted: true},
		{name: "unset limit, 48h token", edit: func(c jwt.MapClaims) { c["exp"] = in(48 * time.Hour) }},
		{
			name: "unset limit, exp in the year 3000",
			edit: func(c jwt.MapClaims) { c["exp"] = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseJWT()
			cfg.HS256SecretEnv = secretEnv
			cfg.MaxTokenLifetime = tt.lifetime
			a := newJWTAuth(t, cfg, env, nil)
			token := hsSigner().sign(t, validClaims(tt.edit))
			id, err := a.Authenticate(t.Context(), token)
			if !tt.accepted {
				checkRejected(t, id, err, auth.ErrInvalidToken, token)
				if err != nil && !strings.Contains(err.Error(), "max_token_lifetime") {
					t.Errorf("reason %q does not name max_token_lifetime", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
		})
	}
}

// jwksOfSize is a JWKS with the RSA key and a padding member that makes
// it size bytes long.
func jwksOfSize(t *testing.T, size int) []byte {
	t.Helper()
	keysOnly := string(jwksJSON(t, rsaJWK(rsaKID, &keys().rsa.PublicKey)))
	head := strings.TrimSuffix(keysOnly, "}") + `,"padding":"`
	tail := `"}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		t.Fatalf("a JWKS of %d bytes cannot hold the key", size)
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// TestJWKSSizeLimit: a JWKS URL answering more than 1 MiB, with or without
// a Content-Length, fails the fetch with an error saying it is too large,
// and tokens are refused; one just under the limit works.
func TestJWKSSizeLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		size          int
		contentLength bool
		accepted      bool
	}{
		{name: "2 MiB chunked", size: 2 << 20},
		{name: "2 MiB with Content-Length", size: 2 << 20, contentLength: true},
		{name: "1 MiB and a byte", size: auth.MaxJWKSBytes + 1},
		{name: "exactly 1 MiB", size: auth.MaxJWKSBytes, accepted: true},
		{name: "just under 1 MiB with Content-Length", size: auth.MaxJWKSBytes - 10, contentLength: true, accepted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := jwksOfSize(t, tt.size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				// Two writes, so that without a Content-Length the
				// answer is chunked.
				_, _ = w.Write(body[:len(body)/2])
				_, _ = w.Write(body[len(body)/2:])
			}))
			t.Cleanup(srv.Close)
			logs := &syncBuffer{}
			cfg := baseJWT()
			cfg.JWKSURL = srv.URL
			r, err := auth.NewReloadable(t.Context(), config.Auth{Mode: config.AuthJWT, JWT: cfg}, auth.Options{
				Client: srv.Client(),
				Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			})
			if err != nil {
				t.Fatalf("NewReloadable: %v", err)
			}
			token := rsSigner().sign(t, validClaims(nil))
			id, err := r.Authenticate(t.Context(), token)
			if tt.accepted {
				if err != nil {
					t.Fatalf("Authenticate with a %d-byte JWKS: %v", tt.size, err)
				}
				if logs.String() != "" {
					t.Errorf("logs for a good JWKS: %s", logs)
				}
				return
			}
			checkRejected(t, id, err, auth.ErrInvalidToken, token)
			for what, text := range map[string]string{"refusal reason": fmt.Sprint(err), "log": logs.String()} {
				if !strings.Contains(text, "JWKS response is too large") {
					t.Errorf("%s does not say the JWKS is too large: %s", what, text)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestReloadable replaces API keys and certificate profiles and checks who
// is let in after each step.
func TestReloadable(t *testing.T) {
	t.Parallel()
	const aliceKey, bobKey, carolKey = "alice-key-0123456789", "bob-key-0123456789", "carol-key-0123456789"
	key := func(subject, k string, profiles ...string) config.APIKey {
		return config.APIKey{Subject: subject, SHA256: auth.HashKey(k), Profiles: profiles}
	}
	start := config.Auth{
		Mode:    config.AuthAPIKey,
		APIKeys: []config.APIKey{key("alice", aliceKey, "default"), key("bob", bobKey, "*")},
		MTLS:    config.MTLS{Enabled: true, Profiles: map[string][]string{"billing-service": {"default"}}},
	}
	r, err := auth.NewReloadable(t.Context(), start, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Authenticator()
	ca, ok := a.(auth.CertAuthenticator)
	if !ok {
		t.Fatalf("%T is no CertAuthenticator with auth.mtls enabled", a)
	}
	billing := &x509.Certificate{Subject: pkix.Name{CommonName: "billing-service"}}

	type step struct {
		name    string
		reload  func(c *config.Auth)
		wantErr string // Reload fails with this, and nothing changes
		// subjects by key: the subject it authenticates, "" for refused.
		subjects     map[string]string
		apiKeys      int
		certProfiles []string // of billing-service
	}
	steps := []step{
		{
			name:         "as started",
			subjects:     map[string]string{aliceKey: "alice", bobKey: "bob", carolKey: ""},
			apiKeys:      2,
			certProfiles: []string{"default"},
		},
		{
			name: "alice removed, carol added, billing-service moved",
			reload: func(c *config.Auth) {
				c.APIKeys = []config.APIKey{key("bob", bobKey, "*"), key("carol", carolKey, "avatars")}
				c.MTLS.Profiles = map[string][]string{"billing-service": {"avatars"}}
			},
			subjects:     map[string]string{aliceKey: "", bobKey: "bob", carolKey: "carol"},
			apiKeys:      2,
			certProfiles: []string{"avatars"},
		},
		{
			name: "malformed hash",
			reload: func(c *config.Auth) {
				c.APIKeys = []config.APIKey{{Subject: "mallory", SHA256: "zz", Profiles: []string{"*"}}}
			},
			wantErr:      "auth.api_keys[0].sha256",
			subjects:     map[string]string{aliceKey: "", bobKey: "bob", carolKey: "carol"},
			apiKeys:      2,
			certProfiles: []string{"avatars"},
		},
		{
			name: "reserved subject",
			reload: func(c *config.Auth) {
				c.APIKeys = []config.APIKey{key("cert:billing-service", aliceKey, "*")}
			},
			wantErr:      "auth.api_keys[0].subject",
			subjects:     map[string]string{aliceKey: "", bobKey: "bob", carolKey: "carol"},
			apiKeys:      2,
			certProfiles: []string{"avatars"},
		},
		{
			name:         "mode changed",
			reload:       func(c *config.Auth) { c.Mode = config.AuthNone; c.APIKeys = nil },
			wantErr:      "auth.mode",
			subjects:     map[string]string{aliceKey: "", bobKey: "bob", carolKey: "carol"},
			apiKeys:      2,
			certProfiles: []string{"avatars"},
		},
		{
			name: "certificate profiles removed",
			reload: func(c *config.Auth) {
				c.APIKeys = []config.APIKey{key("bob", bobKey, "*")}
				c.MTLS.Profiles = nil
			},
			subjects: map[string]string{aliceKey: "", bobKey: "bob", carolKey: ""},
			apiKeys:  1,
		},
	}
	for _, s := range steps {
		if s.reload != nil {
			next := start
			next.MTLS.Profiles = nil
			s.reload(&next)
			err := r.Reload(next)
			switch {
			case s.wantErr == "" && err != nil:
				t.Fatalf("%s: Reload: %v", s.name, err)
			case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
				t.Errorf("%s: Reload error = %v, want one containing %q", s.name, err, s.wantErr)
			}
		}
		for k, want := range s.subjects {
			id, err := a.Authenticate(t.Context(), k)
			got := ""
			if err == nil {
				got = id.Subject
			} else if !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("%s: Authenticate error = %v, want ErrInvalidToken", s.name, err)
			}
			if got != want {
				t.Errorf("%s: key of %q authenticates %q, want %q", s.name, strings.Split(k, "-")[0], got, want)
			}
		}
		if got := r.APIKeys(); got != s.apiKeys {
			t.Errorf("%s: APIKeys() = %d, want %d", s.name, got, s.apiKeys)
		}
		id := ca.AuthenticateCert(billing)
		if diff := cmp.Diff(s.certProfiles, id.Profiles); diff != "" {
			t.Errorf("%s: billing-service profiles mismatch (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestReloadableWithoutMTLS: without auth.mtls the authenticator is no
// CertAuthenticator, so verified certificates are not callers.
func TestReloadableWithoutMTLS(t *testing.T) {
	t.Parallel()
	r, err := auth.NewReloadable(t.Context(), config.Auth{Mode: config.AuthNone}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ca, ok := r.Authenticator().(auth.CertAuthenticator); ok {
		t.Errorf("%T is a CertAuthenticator without auth.mtls", ca)
	}
	if err := r.Reload(config.Auth{Mode: config.AuthNone, MTLS: config.MTLS{Profiles: map[string][]string{"x": {"*"}}}}); err != nil {
		t.Errorf("Reload: %v", err)
	}
	if got := r.APIKeys(); got != 0 {
		t.Errorf("APIKeys() = %d in mode none", got)
	}
}

// TestReloadableConcurrent reloads while callers authenticate; under
// -race it also shows the swap is free of data races. Every call must see
// one whole key set: k1 is always let in, with the profiles of one set.
func TestReloadableConcurrent(t *testing.T) {
	t.Parallel()
	const k1, k2 = "first-key-0123456789", "second-key-0123456789"
	setA := config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{
		{Subject: "alice", SHA256: auth.HashKey(k1), Profiles: []string{"default"}},
	}}
	setB := config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{
		{Subject: "bob", SHA256: auth.HashKey(k2), Profiles: []string{"*"}},
		{Subject: "alice", SHA256: auth.HashKey(k1), Profiles: []string{"avatars"}},
	}}
	r, err := auth.NewReloadable(t.Context(), setA, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	reloaderDone := make(chan struct{})
	go func() {
		defer close(reloaderDone)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			set := setA
			if i%2 == 1 {
				set = setB
			}
			if err := r.Reload(set); err != nil {
				t.Errorf("Reload: %v", err)
				return
			}
		}
	}()
	var callers sync.WaitGroup
	for range 4 {
		callers.Go(func() {
			for range 2000 {
				id, err := r.Authenticate(t.Context(), k1)
				if err != nil {
					t.Errorf("k1 refused: %v", err)
					return
				}
				if diff := cmp.Diff(1, len(id.Profiles)); diff != "" || (id.Profiles[0] != "default" && id.Profiles[0] != "avatars") {
					t.Errorf("k1 has profiles %v", id.Profiles)
					return
				}
			}
		})
	}
	callers.Wait()
	close(done)
	<-reloaderDone
}
