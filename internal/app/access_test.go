package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
)

// hsSecret is the HS256 secret of the JWT tests, read from the (fake)
// environment variable hsSecretEnv.
const (
	hsSecret    = "test-only-hs256-secret-0123456789abcdef"
	hsSecretEnv = "GATEPOST_TEST_JWT_SECRET"
	issuer      = "https://issuer.test"
	audience    = "gatepost"
)

func testEnv(name string) string {
	if name == hsSecretEnv {
		return hsSecret
	}
	return ""
}

// useJWT switches a test configuration to HS256 JWTs.
func useJWT(cfg *config.Config) {
	cfg.Auth = config.Auth{Mode: config.AuthJWT, JWT: config.JWT{
		HS256SecretEnv: hsSecretEnv, Issuer: issuer, Audience: audience,
		Leeway: 30 * time.Second, ProfilesClaim: "gatepost_profiles",
		JWKSRefresh: time.Hour, JWKSTimeout: time.Second, JWKSMinRefresh: time.Minute,
	}}
}

// token mints an HS256 JWT for alice allowed the default profile, after
// applying change to its claims.
func token(t *testing.T, secret string, change func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"sub": "alice", "iss": issuer, "aud": audience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"gatepost_profiles": []string{"default"},
	}
	if change != nil {
		change(claims)
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// bothTransports sends req with the Authorization value over gRPC and REST
// and checks the status on each: the gRPC code and its HTTP mapping.
func bothTransports(t *testing.T, s *started, authorization string, req *gatepostv1.CreatePresignedPostRequest, want codes.Code) *http.Response {
	t.Helper()
	ctx := t.Context()
	if authorization != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authorization)
	}
	var header metadata.MD
	_, err := s.client.CreatePresignedPost(ctx, req, grpc.Header(&header))
	if got := status.Code(err); got != want {
		t.Errorf("gRPC: %v; want %s", err, want)
	}
	if want == codes.Unauthenticated && len(header.Get("www-authenticate")) == 0 {
		t.Errorf("gRPC: no www-authenticate header")
	}
	resp, body := s.restWith(t, authorization, req)
	wantHTTP := map[codes.Code]int{
		codes.OK: 200, codes.InvalidArgument: 400, codes.Unauthenticated: 401,
		codes.PermissionDenied: 403, codes.ResourceExhausted: 429,
	}[want]
	if resp.StatusCode != wantHTTP {
		t.Errorf("REST: %d %s; want %d", resp.StatusCode, body, wantHTTP)
	}
	if want == codes.Unauthenticated && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("REST 401 without WWW-Authenticate: Bearer (got %q)", resp.Header.Get("WWW-Authenticate"))
	}
	for _, text := range []string{status.Convert(err).Message(), string(body)} {
		if tok := strings.TrimPrefix(authorization, "Bearer "); len(tok) > 8 && strings.Contains(text, tok) {
			t.Errorf("an error echoes the token: %s", text)
		}
	}
	return resp
}

var okRequest = &gatepostv1.CreatePresignedPostRequest{Key: "a.txt", ContentType: "text/plain"}

func TestAPIKeyAuthentication(t *testing.T) {
	t.Parallel()
	s := start(t)
	avatars := &gatepostv1.CreatePresignedPostRequest{Key: "me.png", ContentType: "image/png", Profile: "avatars"}
	tests := []struct {
		name          string
		authorization string
		req           *gatepostv1.CreatePresignedPostRequest
		want          codes.Code
	}{
		{"no token", "", okRequest, codes.Unauthenticated},
		{"not a bearer token", "Basic " + aliceKey, okRequest, codes.Unauthenticated},
		{"empty bearer", "Bearer ", okRequest, codes.Unauthenticated},
		{"unknown API key", "Bearer gp_mallory_0000000000000000000000", okRequest, codes.Unauthenticated},
		{"almost alice's key", "Bearer " + aliceKey[:len(aliceKey)-1] + "X", okRequest, codes.Unauthenticated},
		{"valid key", "Bearer " + aliceKey, okRequest, codes.OK},
		{"valid key, forbidden profile", "Bearer " + aliceKey, avatars, codes.PermissionDenied},
		{"wildcard profiles", "Bearer " + bobKey, avatars, codes.OK},
		{"valid key, bad input", "Bearer " + aliceKey, &gatepostv1.CreatePresignedPostRequest{Key: "../x", ContentType: "text/plain"}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bothTransports(t, s, tt.authorization, tt.req, tt.want)
		})
	}
}

func TestJWTAuthentication(t *testing.T) {
	t.Parallel()
	s := start(t, useJWT)
	tests := []struct {
		name  string
		token string
		want  codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"malformed", "not.a.jwt", codes.Unauthenticated},
		{"wrong signature", token(t, "another-secret-another-secret-0123456789", nil), codes.Unauthenticated},
		{"expired", token(t, hsSecret, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), codes.Unauthenticated},
		{"not yet valid", token(t, hsSecret, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(2 * time.Minute).Unix() }), codes.Unauthenticated},
		{"wrong issuer", token(t, hsSecret, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), codes.Unauthenticated},
		{"wrong audience", token(t, hsSecret, func(c jwt.MapClaims) { c["aud"] = "someone-else" }), codes.Unauthenticated},
		{"no expiry", token(t, hsSecret, func(c jwt.MapClaims) { delete(c, "exp") }), codes.Unauthenticated},
		{"valid", token(t, hsSecret, nil), codes.OK},
		{"expired within the leeway", token(t, hsSecret, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Second).Unix() }), codes.OK},
		{"forbidden profile", token(t, hsSecret, func(c jwt.MapClaims) { c["gatepost_profiles"] = "avatars" }), codes.PermissionDenied},
		{"no profiles claim", token(t, hsSecret, func(c jwt.MapClaims) { delete(c, "gatepost_profiles") }), codes.PermissionDenied},
		{"sub of a certificate holder", token(t, hsSecret, func(c jwt.MapClaims) { c["sub"] = "cert:billing-service" }), codes.Unauthenticated},
		{"sub of a certificate holder in capitals", token(t, hsSecret, func(c jwt.MapClaims) { c["sub"] = "CERT:billing-service" }), codes.Unauthenticated},
		{"blank sub", token(t, hsSecret, func(c jwt.MapClaims) { c["sub"] = "  " }), codes.Unauthenticated},
		{"1h token", token(t, hsSecret, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(time.Hour).Unix() }), codes.OK},
		{"exp in the year 3000", token(t, hsSecret, func(c jwt.MapClaims) { c["exp"] = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }), codes.Unauthenticated},
		{"iat and exp 48h apart", token(t, hsSecret, func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(-47 * time.Hour).Unix()
			c["exp"] = time.Now().Add(time.Hour).Unix()
		}), codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			authorization := ""
			if tt.token != "" {
				authorization = "Bearer " + tt.token
			}
			bothTransports(t, s, authorization, okRequest, tt.want)
		})
	}
}

// TestSubjectPrefix: with {subject} in the prefix each caller's keys land
// under its own prefix, whatever key it asks for.
func TestSubjectPrefix(t *testing.T) {
	t.Parallel()
	s := start(t, useJWT)
	tests := []struct {
		name    string
		sub     string
		key     string
		wantKey string
		want    codes.Code
	}{
		{"own space", "alice", "me.png", "avatars/alice/me.png", codes.OK},
		{"another subject's prefix stays inside its own", "alice", "avatars/bob/me.png", "avatars/alice/avatars/bob/me.png", codes.OK},
		{"dot-dot out of the prefix", "alice", "../bob/me.png", "", codes.InvalidArgument},
		{"encoded slash is just a character", "alice", "..%2Fbob/me.png", "avatars/alice/..%2Fbob/me.png", codes.OK},
		{"look-alike key is still under the prefix", "alice", "\u2215bob/me.png", "avatars/alice/\u2215bob/me.png", codes.OK},
		{"subject with path tricks is hashed", "../bob", "me.png", "", codes.OK},
		{"over-long key", "alice", strings.Repeat("k", 1024), "", codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := token(t, hsSecret, func(c jwt.MapClaims) { c["sub"] = tt.sub; c["gatepost_profiles"] = []string{"avatars"} })
			req := &gatepostv1.CreatePresignedPostRequest{Key: tt.key, ContentType: "image/png", Profile: "avatars"}
			resp, err := s.client.CreatePresignedPost(withToken(t.Context(), tok), req)
			if status.Code(err) != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if err != nil {
				return
			}
			key := resp.GetKey()
			if tt.wantKey != "" && key != tt.wantKey {
				t.Errorf("key = %q, want %q", key, tt.wantKey)
			}
			if tt.sub == "../bob" && (!strings.HasPrefix(key, "avatars/~") || strings.Contains(key, "bob")) {
				t.Errorf("key = %q, want the subject hashed into avatars/~<hex>/", key)
			}
		})
	}
}

// TestRateLimit: a subject over its rate gets 429 with Retry-After (gRPC:
// ResourceExhausted with retry-after), and is served again after waiting
// that long. Other subjects are not affected.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.RateLimit = config.RateLimit{RequestsPerSecond: 1, Burst: 2} })
	bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.OK)
	bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.ResourceExhausted) // gRPC took the second token
	resp := bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.ResourceExhausted)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 2 {
		t.Fatalf("Retry-After = %q, want 1 or 2 seconds", resp.Header.Get("Retry-After"))
	}
	bothTransports(t, s, "Bearer "+bobKey, okRequest, codes.OK) // bob has his own bucket

	// Waiting as told is enough: the refill is the token bucket's promise,
	// not a timing assumption of the test.
	time.Sleep(time.Duration(retry) * time.Second)
	if _, err := s.client.CreatePresignedPost(s.authed(t.Context()), okRequest); err != nil {
		t.Errorf("after waiting Retry-After: %v", err)
	}
}

// TestCORS: preflights from allowed origins get the CORS headers, others
// get none, so browsers on other origins cannot read policies.
func TestCORS(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.CORS.AllowedOrigins = []string{"https://app.example.test"} })
	tests := []struct {
		origin    string
		wantAllow string
	}{
		{"https://app.example.test", "https://app.example.test"},
		{"https://evil.example.test", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+s.app.HTTPAddr()+"/v1/presign?key=a.txt", nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if got != tt.wantAllow {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin = %q, want %q", tt.origin, got, tt.wantAllow)
		}
		if tt.wantAllow != "" && !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight from %s: Authorization not allowed (%q)", tt.origin, resp.Header.Get("Access-Control-Allow-Headers"))
		}
	}
	// The actual GET from the allowed origin carries the header too.
	resp, _ := s.restWithOrigin(t, "https://app.example.test")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.test" {
		t.Errorf("GET from the allowed origin: Access-Control-Allow-Origin = %q", got)
	}
}

func (s *started) restWithOrigin(t *testing.T, origin string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.app.HTTPAddr()+"/v1/presign?key=a.txt&content_type=text/plain", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, nil
}

// TestAuditLogAndNoSecrets: every issued policy gets one audit line with
// who and what, and nothing written to the log contains a token, an API
// key, the JWT secret, the AWS secret, a signature or a policy.
func TestAuditLogAndNoSecrets(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"api_key", "jwt"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var changes []func(*config.Config)
			good, bad := aliceKey, "gp_wrong_key_0000000000000000000000"
			if mode == "jwt" {
				changes = append(changes, useJWT)
				good = token(t, hsSecret, nil)
				bad = token(t, "another-secret-another-secret-0123456789", nil)
			}
			s := start(t, changes...)
			var secrets []string
			resp, err := s.client.CreatePresignedPost(withToken(t.Context(), good), okRequest)
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, resp.GetFields()["X-Amz-Signature"], resp.GetFields()["policy"])
			_, body := s.restWith(t, "Bearer "+good, okRequest)
			var viaREST struct{ Fields map[string]string }
			_ = json.Unmarshal(body, &viaREST)
			secrets = append(secrets, viaREST.Fields["X-Amz-Signature"], viaREST.Fields["policy"])
			_, _ = s.client.CreatePresignedPost(withToken(t.Context(), bad), okRequest)
			s.restWith(t, "Bearer "+bad, okRequest)
			s.restWith(t, "Bearer "+good, &gatepostv1.CreatePresignedPostRequest{Key: "../x", ContentType: "text/plain"})
			secrets = append(secrets, good, bad, aliceKey, bobKey, hsSecret, "secret")

			logs := s.logs.String()
			if n := strings.Count(logs, `"msg":"policy issued"`); n != 2 {
				t.Errorf("%d audit lines, want 2:\n%s", n, logs)
			}
			for _, field := range []string{`"subject":"alice"`, `"profile":"default"`, `"bucket":"uploads"`, `"key":"user-uploads/a.txt"`, `"max_bytes":10485760`, `"expires_at"`, `"request_id"`, `"peer"`, `"client":"127.0.0.1"`} {
				if !strings.Contains(logs, field) {
					t.Errorf("audit log lacks %s", field)
				}
			}
			// One line per call on both transports: 2 gRPC and 3 REST calls.
			if n := strings.Count(logs, `"msg":"finished call"`); n != 5 {
				t.Errorf("%d request log lines, want 5 (REST calls must be logged like gRPC calls)", n)
			}
			if !strings.Contains(logs, `"msg":"authentication failed"`) {
				t.Errorf("no log line for the failed authentication")
			}
			for _, secret := range secrets {
				// "secret" is the static test AWS secret; match it only as
				// a JSON value, since the word appears in messages.
				needle := secret
				if secret == "secret" {
					needle = `"secret"`
				}
				if secret != "" && strings.Contains(logs, needle) {
					t.Errorf("the log contains a secret (%.12s...):\n%s", secret, logs)
				}
			}
		})
	}
}

// TestLoopbackHostsWithoutAuth: with auth.mode none, a request whose Host
// is another name (a DNS-rebinding page) is refused before any policy is
// signed; with authentication on, or when an authenticating proxy is in
// front, the Host is not gatepost's concern.
func TestLoopbackHostsWithoutAuth(t *testing.T) {
	t.Parallel()
	none := func(c *config.Config) { c.Auth = config.Auth{Mode: config.AuthNone} }
	behindProxy := func(c *config.Config) { c.Auth = config.Auth{Mode: config.AuthNone, AllowNoneBeyondLoopback: true} }
	for _, tt := range []struct {
		name   string
		change func(*config.Config)
		host   string
		want   int
	}{
		{"none, loopback address", none, "", http.StatusOK},
		{"none, localhost", none, "localhost", http.StatusOK},
		{"none, a rebinding domain", none, "attacker.example:8080", http.StatusForbidden},
		{"none behind an authenticating proxy", behindProxy, "uploads.example.com", http.StatusOK},
		{"api_key, any host", func(*config.Config) {}, "uploads.example.com", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.change)
			req, err := http.NewRequest(http.MethodGet, "http://"+s.app.HTTPAddr()+"/v1/presign?key=a.txt&content_type=text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Set("Authorization", "Bearer "+aliceKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("Host %q: %d %s, want %d", tt.host, resp.StatusCode, body, tt.want)
			}
		})
	}
}
