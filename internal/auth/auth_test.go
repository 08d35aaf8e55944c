package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{name: "bearer", header: "Bearer abc", want: "abc"},
		{name: "lower-case scheme", header: "bearer abc", want: "abc"},
		{name: "upper-case scheme", header: "BEARER abc", want: "abc"},
		{name: "extra spaces", header: "Bearer  abc ", want: "abc"},
		{name: "surrounding spaces", header: "  Bearer abc  ", want: "abc"},
		{name: "empty", header: "", want: ""},
		{name: "basic scheme", header: "Basic abc", want: ""},
		{name: "scheme only", header: "Bearer", want: ""},
		{name: "scheme and space only", header: "Bearer ", want: ""},
		{name: "token only", header: "abc", want: ""},
		{name: "scheme prefix", header: "Bearerabc", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, auth.BearerToken(tt.header)); diff != "" {
				t.Errorf("BearerToken(%q) mismatch (-want +got):\n%s", tt.header, diff)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
	}{
		{name: "empty", key: ""},
		{name: "short", key: "key"},
		{name: "long", key: strings.Repeat("k3y-", 100)},
		{name: "unicode", key: "ключ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sum := sha256.Sum256([]byte(tt.key))
			want := hex.EncodeToString(sum[:])
			if diff := cmp.Diff(want, auth.HashKey(tt.key)); diff != "" {
				t.Errorf("HashKey(%q) mismatch (-want +got):\n%s", tt.key, diff)
			}
		})
	}
}

func TestNewUnsupportedMode(t *testing.T) {
	t.Parallel()
	for _, mode := range []config.AuthMode{"", "ldap", "JWT"} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			a, err := auth.New(t.Context(), config.Auth{Mode: mode}, noEnv, nil)
			if err == nil {
				t.Fatalf("New(mode %q) = %T, want an error", mode, a)
			}
		})
	}
}

func TestModeNone(t *testing.T) {
	t.Parallel()
	a, err := auth.New(t.Context(), config.Auth{Mode: config.AuthNone}, noEnv, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	want := &auth.Identity{Subject: auth.AnonymousSubject, Profiles: []string{config.AllProfiles}}
	for _, token := range []string{"", "abc", "not.a.jwt", "Bearer x"} {
		t.Run(token, func(t *testing.T) {
			t.Parallel()
			id, err := a.Authenticate(t.Context(), token)
			if err != nil {
				t.Fatalf("Authenticate(%q): %v", token, err)
			}
			if diff := cmp.Diff(want, id); diff != "" {
				t.Errorf("identity mismatch (-want +got):\n%s", diff)
			}
			if id.Subject != "anonymous" {
				t.Errorf("Subject = %q, want anonymous", id.Subject)
			}
			for _, p := range []string{"default", "avatars", "anything", ""} {
				if !id.MayUse(p) {
					t.Errorf("MayUse(%q) = false, want true", p)
				}
			}
		})
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	const (
		aliceKey = "alice-secret-key-0123456789"
		opsKey   = "ops-secret-key-9876543210"
	)
	cfg := config.Auth{
		Mode: config.AuthAPIKey,
		APIKeys: []config.APIKey{
			{Subject: "alice", SHA256: auth.HashKey(aliceKey), Profiles: []string{"default", "avatars"}},
			{Subject: "ops", SHA256: auth.HashKey(opsKey), Profiles: []string{"*"}},
		},
	}
	a, err := auth.New(t.Context(), cfg, noEnv, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	tests := []struct {
		name    string
		token   string
		want    *auth.Identity
		wantErr error
		mayUse  map[string]bool
	}{
		{
			name:   "alice",
			token:  aliceKey,
			want:   &auth.Identity{Subject: "alice", Profiles: []string{"default", "avatars"}},
			mayUse: map[string]bool{"default": true, "avatars": true, "documents": false, "*": false, "": false},
		},
		{
			name:   "all profiles",
			token:  opsKey,
			want:   &auth.Identity{Subject: "ops", Profiles: []string{"*"}},
			mayUse: map[string]bool{"default": true, "avatars": true, "documents": true},
		},
		{name: "no token", token: "", wantErr: auth.ErrNoToken},
		{name: "unknown key", token: "not-a-configured-key-42", wantErr: auth.ErrInvalidToken},
		{name: "hash instead of key", token: auth.HashKey(aliceKey), wantErr: auth.ErrInvalidToken},
		{name: "key with trailing space", token: aliceKey + " ", wantErr: auth.ErrInvalidToken},
		{name: "key prefix", token: aliceKey[:len(aliceKey)-1], wantErr: auth.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := a.Authenticate(t.Context(), tt.token)
			if tt.wantErr != nil {
				checkRejected(t, id, err, tt.wantErr, tt.token)
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if diff := cmp.Diff(tt.want, id); diff != "" {
				t.Errorf("identity mismatch (-want +got):\n%s", diff)
			}
			checkMayUse(t, id, tt.mayUse)
		})
	}
}

func TestAPIKeyMalformedHash(t *testing.T) {
	t.Parallel()
	good := auth.HashKey("k")
	tests := []struct {
		name string
		sum  string
	}{
		{name: "empty", sum: ""},
		{name: "not hex", sum: strings.Repeat("z", 64)},
		{name: "too short", sum: good[:62]},
		{name: "odd length", sum: good[:63]},
		{name: "too long", sum: good + "00"},
		{name: "the key itself", sum: "alice-secret-key-0123456789"},
		{name: "listed twice", sum: good},
		{name: "listed twice in capitals", sum: strings.ToUpper(good)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Auth{
				Mode: config.AuthAPIKey,
				APIKeys: []config.APIKey{
					{Subject: "ok", SHA256: good, Profiles: []string{"*"}},
					{Subject: "bad", SHA256: tt.sum, Profiles: []string{"*"}},
				},
			}
			a, err := auth.New(t.Context(), cfg, noEnv, nil)
			if err == nil {
				t.Fatalf("New with sha256 %q = %T, want an error", tt.sum, a)
			}
			if tt.sum != "" && strings.Contains(err.Error(), tt.sum) {
				t.Errorf("error %q echoes the configured value", err)
			}
		})
	}
}

func TestKeySegment(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 65)
	tests := []struct {
		name    string
		subject string
		kept    bool
	}{
		{name: "simple", subject: "alice", kept: true},
		{name: "punctuation", subject: "svc-1.prod_x", kept: true},
		{name: "64 bytes", subject: strings.Repeat("a", 64), kept: true},
		{name: "dots inside", subject: "a..b", kept: true},
		{name: "three dots", subject: "...", kept: true},
		{name: "empty", subject: ""},
		{name: "dot", subject: "."},
		{name: "dot dot", subject: ".."},
		{name: "slash", subject: "a/b"},
		{name: "parent path", subject: "../bob"},
		{name: "trailing space", subject: "alice "},
		{name: "cyrillic look-alike", subject: "\u0430lice"},
		{name: "65 bytes", subject: long},
		{name: "tilde", subject: "~alice"},
		{name: "backslash", subject: `a\b`},
		{name: "nul", subject: "a\x00b"},
		{name: "braces", subject: "{subject}"},
	}
	hashed := regexp.MustCompile(`^~[0-9a-f]{32}$`)
	seen := map[string]string{}
	for _, tt := range tests {
		got := auth.KeySegment(tt.subject)
		checkSegment(t, tt.subject, got)
		if tt.kept {
			if diff := cmp.Diff(tt.subject, got); diff != "" {
				t.Errorf("%s: KeySegment(%q) mismatch (-want +got):\n%s", tt.name, tt.subject, diff)
			}
		} else if !hashed.MatchString(got) {
			t.Errorf("%s: KeySegment(%q) = %q, want ~ and 32 hex digits", tt.name, tt.subject, got)
		}
		if got2 := auth.KeySegment(tt.subject); got2 != got {
			t.Errorf("%s: KeySegment(%q) is not stable: %q then %q", tt.name, tt.subject, got, got2)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("KeySegment(%q) = KeySegment(%q) = %q", tt.subject, prev, got)
		}
		seen[got] = tt.subject
	}
	// "alice" and its look-alikes must not share a segment.
	if auth.KeySegment("alice") == auth.KeySegment("\u0430lice") {
		t.Error(`KeySegment("alice") equals the Cyrillic look-alike's`)
	}
}

func FuzzKeySegment(f *testing.F) {
	for _, s := range []string{
		"", "alice", "svc-1.prod_x", ".", "..", "...", "a/b", "../bob", "alice ", "\u0430lice",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "~", "~abc", "\xff", "a\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		got := auth.KeySegment(subject)
		checkSegment(t, subject, got)
		if keepable(subject) {
			if got != subject {
				t.Fatalf("KeySegment(%q) = %q, want it unchanged", subject, got)
			}
			return
		}
		sum := sha256.Sum256([]byte(subject))
		if want := "~" + hex.EncodeToString(sum[:16]); got != want {
			t.Fatalf("KeySegment(%q) = %q, want %q", subject, got, want)
		}
	})
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// checkSegment checks the properties every KeySegment result has.
func checkSegment(t *testing.T, subject, got string) {
	t.Helper()
	if !segmentRE.MatchString(got) {
		t.Errorf("KeySegment(%q) = %q, want it to match %s", subject, got, segmentRE)
	}
	if got == "." || got == ".." {
		t.Errorf("KeySegment(%q) = %q", subject, got)
	}
	if strings.HasPrefix(got, "~") && keepable(subject) {
		t.Errorf("KeySegment(%q) = %q, hashed a subject that could be kept", subject, got)
	}
	if !strings.HasPrefix(got, "~") && got != subject {
		t.Errorf("KeySegment(%q) = %q, neither the subject nor a hash", subject, got)
	}
}

// keepable is the documented rule, written independently of the package:
// 1 to 64 bytes of ASCII letters, digits, '-', '_' and '.', not "." or "..".
func keepable(s string) bool {
	return len(s) <= 64 && s != "." && s != ".." && keepableRE.MatchString(s)
}

var keepableRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// JWT tests.

const (
	secretEnv = "GATEPOST_TEST_HS256_SECRET"
	issuer    = "https://issuer.test"
	audience  = "gatepost"
	claimName = "gatepost_profiles"
	rsaKID    = "rsa-1"
	ecKID     = "ec-1"
	edKID     = "ed-1"
)

var (
	hsSecret    = []byte("0123456789abcdef0123456789abcdef-gatepost")
	otherSecret = []byte("fedcba9876543210fedcba9876543210-attacker")
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// testKeys are the signing keys of the JWT tests, made once because RSA
// keys are slow to generate.
type testKeys struct {
	rsa, rsaOther, rsaB *rsa.PrivateKey
	ec, ecOther         *ecdsa.PrivateKey
	ed, edOther         ed25519.PrivateKey
}

var keys = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	var err error
	for _, p := range []**rsa.PrivateKey{&k.rsa, &k.rsaOther, &k.rsaB} {
		if *p, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	for _, p := range []**ecdsa.PrivateKey{&k.ec, &k.ecOther} {
		if *p, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	}
	for _, p := range []*ed25519.PrivateKey{&k.ed, &k.edOther} {
		if _, *p, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	}
	return k
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(pub.N.Bytes()),
		"e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func ecJWK(t testing.TB, kid string, pub *ecdsa.PublicKey) map[string]any {
	t.Helper()
	// Bytes is 0x04 || X || Y with each coordinate padded to 32 bytes.
	point, err := pub.Bytes()
	if err != nil || len(point) != 65 {
		t.Fatalf("EC public key: %v (%d bytes)", err, len(point))
	}
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": b64(point[1:33]),
		"y": b64(point[33:]),
	}
}

func edJWK(kid string, pub ed25519.PublicKey) map[string]any {
	return map[string]any{
		"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
		"x": b64(pub),
	}
}

func jwksJSON(t testing.TB, jwks ...map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// allJWKS is the key set with the RSA, EC and Ed25519 public keys.
func allJWKS(t testing.TB) []byte {
	k := keys()
	return jwksJSON(t,
		rsaJWK(rsaKID, &k.rsa.PublicKey),
		ecJWK(t, ecKID, &k.ec.PublicKey),
		edJWK(edKID, k.ed.Public().(ed25519.PublicKey)),
	)
}

// jwksServer serves a swappable JWKS on loopback and counts fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	status  atomic.Int32
	fetches atomic.Int64
	// latency delays every answer, as a JWKS across a network would be.
	latency atomic.Int64
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.body.Store(&body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if d := time.Duration(s.latency.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if code := int(s.status.Load()); code != http.StatusOK {
			http.Error(w, "unavailable", code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) { s.body.Store(&body) }

// baseJWT is a JWT configuration with the defaults set explicitly, as New
// receives the struct without config's defaults applied.
func baseJWT() config.JWT {
	return config.JWT{
		Issuer:         issuer,
		Audience:       audience,
		Leeway:         30 * time.Second,
		JWKSRefresh:    time.Hour,
		JWKSTimeout:    5 * time.Second,
		JWKSMinRefresh: 10 * time.Millisecond,
		ProfilesClaim:  claimName,
		// MaxTokenLifetime is config.DefaultMaxTokenLifetime.
		MaxTokenLifetime: 24 * time.Hour,
	}
}

func newJWTAuth(t *testing.T, cfg config.JWT, getenv func(string) string, client *http.Client) auth.Authenticator {
	t.Helper()
	a, err := auth.New(t.Context(), config.Auth{Mode: config.AuthJWT, JWT: cfg}, getenv, client)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func writeJWKSFile(t *testing.T, raw []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jwtAuths are the authenticators under test, by the keys they accept.
type jwtAuths struct {
	hs     auth.Authenticator // HS256 only
	file   auth.Authenticator // JWKS file only
	url    auth.Authenticator // JWKS URL only
	hsFile auth.Authenticator // HS256 and a JWKS file
}

func newJWTAuths(t *testing.T) *jwtAuths {
	t.Helper()
	env := envOf(map[string]string{secretEnv: string(hsSecret)})
	path := writeJWKSFile(t, allJWKS(t))
	srv := newJWKSServer(t, allJWKS(t))

	hsCfg := baseJWT()
	hsCfg.HS256SecretEnv = secretEnv
	fileCfg := baseJWT()
	fileCfg.JWKSFile = path
	urlCfg := baseJWT()
	urlCfg.JWKSURL = srv.URL
	bothCfg := fileCfg
	bothCfg.HS256SecretEnv = secretEnv

	return &jwtAuths{
		hs:     newJWTAuth(t, hsCfg, env, nil),
		file:   newJWTAuth(t, fileCfg, noEnv, nil),
		url:    newJWTAuth(t, urlCfg, noEnv, srv.Client()),
		hsFile: newJWTAuth(t, bothCfg, env, nil),
	}
}

// signer signs tokens with one algorithm and key.
type signer struct {
	name   string
	method jwt.SigningMethod
	key    any
	kid    string
}

func (s signer) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return sign(t, s.method, s.key, s.kid, claims)
}

func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing %s token: %v", method.Alg(), err)
	}
	return s
}

func hsSigner() signer { return signer{"HS256", jwt.SigningMethodHS256, hsSecret, ""} }
func rsSigner() signer { return signer{"RS256", jwt.SigningMethodRS256, keys().rsa, rsaKID} }
func esSigner() signer { return signer{"ES256", jwt.SigningMethodES256, keys().ec, ecKID} }
func edSigner() signer { return signer{"EdDSA", jwt.SigningMethodEdDSA, keys().ed, edKID} }

// validClaims are claims every configuration accepts, changed by edit.
func validClaims(edit func(c jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss":     issuer,
		"aud":     audience,
		"sub":     "alice",
		"iat":     now.Unix(),
		"exp":     now.Add(5 * time.Minute).Unix(),
		claimName: []string{"default", "avatars"},
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func checkRejected(t *testing.T, id *auth.Identity, err, wantErr error, token string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Authenticate accepted the token as %+v, want %v", id, wantErr)
	}
	if !errors.Is(err, wantErr) {
		t.Errorf("Authenticate error = %v, want errors.Is %v", err, wantErr)
	}
	if id != nil {
		t.Errorf("Authenticate returned identity %+v with an error", id)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Errorf("error text contains the token: %v", err)
	}
	// No signature either: the last segment of a JWT is its secret part.
	if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) > 8 && strings.Contains(err.Error(), parts[2]) {
		t.Errorf("error text contains the token's signature: %v", err)
	}
}

func checkMayUse(t *testing.T, id *auth.Identity, mayUse map[string]bool) {
	t.Helper()
	for p, want := range mayUse {
		if got := id.MayUse(p); got != want {
			t.Errorf("MayUse(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestJWTNewHS256Secret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "32 bytes", env: map[string]string{secretEnv: strings.Repeat("s", 32)}},
		{name: "long", env: map[string]string{secretEnv: string(hsSecret)}},
		{name: "31 bytes", env: map[string]string{secretEnv: "31-byte-secret-0123456789abcdef"}, wantErr: true},
		{name: "short", env: map[string]string{secretEnv: "hunter2"}, wantErr: true},
		{name: "empty", env: map[string]string{secretEnv: ""}, wantErr: true},
		{name: "unset", env: map[string]string{}, wantErr: true},
		{name: "other variable set", env: map[string]string{"OTHER": string(hsSecret)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseJWT()
			cfg.HS256SecretEnv = secretEnv
			a, err := auth.New(t.Context(), config.Auth{Mode: config.AuthJWT, JWT: cfg}, envOf(tt.env), nil)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New = %T, want an error", a)
			}
			if s := tt.env[secretEnv]; s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestJWTNewErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "not.json")
	if err := os.WriteFile(notJSON, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	badKey := filepath.Join(dir, "bad-key.json")
	if err := os.WriteFile(badKey, []byte(`{"keys":[{"kty":"RSA","kid":"x","alg":"RS256","n":"!!","e":"AQAB"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(c *config.JWT)
	}{
		{name: "no key", edit: func(*config.JWT) {}},
		{name: "missing JWKS file", edit: func(c *config.JWT) { c.JWKSFile = filepath.Join(dir, "missing.json") }},
		{name: "JWKS file not JSON", edit: func(c *config.JWT) { c.JWKSFile = notJSON }},
		{name: "JWKS file with a bad key", edit: func(c *config.JWT) { c.JWKSFile = badKey }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseJWT()
			tt.edit(&cfg)
			a, err := auth.New(t.Context(), config.Auth{Mode: config.AuthJWT, JWT: cfg}, noEnv, nil)
			if err == nil {
				t.Fatalf("New = %T, want an error", a)
			}
		})
	}
}

// TestJWTClaims runs every claims case with every algorithm against every
// configuration that accepts that algorithm.
func TestJWTClaims(t *testing.T) {
	t.Parallel()
	as := newJWTAuths(t)
	configs := []struct {
		name    string
		auth    auth.Authenticator
		signers []signer
	}{
		{name: "hs256", auth: as.hs, signers: []signer{hsSigner()}},
		{name: "jwks file", auth: as.file, signers: []signer{rsSigner(), esSigner(), edSigner()}},
		{name: "jwks url", auth: as.url, signers: []signer{rsSigner(), esSigner(), edSigner()}},
		{name: "hs256 and jwks file", auth: as.hsFile, signers: []signer{hsSigner(), rsSigner(), esSigner(), edSigner()}},
	}
	alice := &auth.Identity{Subject: "alice", Profiles: []string{"default", "avatars"}}
	aliceMayUse := map[string]bool{"default": true, "avatars": true, "documents": false}
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	in := func(d time.Duration) int64 { return time.Now().Add(d).Unix() }
	tests := []struct {
		name   string
		edit   func(c jwt.MapClaims)
		want   *auth.Identity // nil: rejected with ErrInvalidToken
		mayUse map[string]bool
	}{
		{name: "profiles array", want: alice, mayUse: aliceMayUse},
		{
			name:   "profiles string",
			edit:   func(c jwt.MapClaims) { c[claimName] = "default avatars" },
			want:   alice,
			mayUse: aliceMayUse,
		},
		{
			name:   "no profiles claim",
			edit:   func(c jwt.MapClaims) { delete(c, claimName) },
			want:   &auth.Identity{Subject: "alice"},
			mayUse: map[string]bool{"default": false, "avatars": false, "*": false},
		},
		{
			name:   "all profiles",
			edit:   func(c jwt.MapClaims) { c[claimName] = []string{"*"} },
			want:   &auth.Identity{Subject: "alice", Profiles: []string{"*"}},
			mayUse: map[string]bool{"default": true, "avatars": true, "documents": true},
		},
		{
			name:   "all profiles as string",
			edit:   func(c jwt.MapClaims) { c[claimName] = "*" },
			want:   &auth.Identity{Subject: "alice", Profiles: []string{"*"}},
			mayUse: map[string]bool{"default": true, "anything": true},
		},
		{
			name:   "profiles in another claim are ignored",
			edit:   func(c jwt.MapClaims) { delete(c, claimName); c["profiles"] = []string{"*"} },
			want:   &auth.Identity{Subject: "alice"},
			mayUse: map[string]bool{"default": false},
		},
		{
			name:   "profiles claim of the wrong type",
			edit:   func(c jwt.MapClaims) { c[claimName] = 42 },
			want:   &auth.Identity{Subject: "alice"},
			mayUse: map[string]bool{"default": false},
		},
		{name: "exp within leeway", edit: func(c jwt.MapClaims) { c["iat"] = ago(time.Hour); c["exp"] = ago(10 * time.Second) }, want: alice},
		{name: "expired", edit: func(c jwt.MapClaims) { c["iat"] = ago(time.Hour); c["exp"] = ago(2 * time.Minute) }},
		{name: "nbf within leeway", edit: func(c jwt.MapClaims) { c["nbf"] = in(10 * time.Second) }, want: alice},
		{name: "not yet valid", edit: func(c jwt.MapClaims) { c["nbf"] = in(2 * time.Minute) }},
		{name: "issued in the future", edit: func(c jwt.MapClaims) { c["iat"] = in(2 * time.Minute) }},
		{name: "missing exp", edit: func(c jwt.MapClaims) { delete(c, "exp") }},
		{name: "exp not a number", edit: func(c jwt.MapClaims) { c["exp"] = "tomorrow" }},
		{name: "wrong issuer", edit: func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }},
		{name: "missing issuer", edit: func(c jwt.MapClaims) { delete(c, "iss") }},
		{name: "wrong audience", edit: func(c jwt.MapClaims) { c["aud"] = "other" }},
		{name: "missing audience", edit: func(c jwt.MapClaims) { delete(c, "aud") }},
		{name: "audience array with gatepost", edit: func(c jwt.MapClaims) { c["aud"] = []string{"other", audience} }, want: alice},
		{name: "audience array without gatepost", edit: func(c jwt.MapClaims) { c["aud"] = []string{"other", "third"} }},
		{name: "missing sub", edit: func(c jwt.MapClaims) { delete(c, "sub") }},
		{name: "empty sub", edit: func(c jwt.MapClaims) { c["sub"] = "" }},
		{name: "sub not a string", edit: func(c jwt.MapClaims) { c["sub"] = 7 }},
		{name: "blank sub", edit: func(c jwt.MapClaims) { c["sub"] = " \t " }},
		// cert: subjects belong to client certificates only.
		{name: "sub with the certificate prefix", edit: func(c jwt.MapClaims) { c["sub"] = "cert:billing-service" }},
		{name: "sub with the certificate prefix in capitals", edit: func(c jwt.MapClaims) { c["sub"] = "CERT:billing-service" }},
		{name: "sub with the certificate prefix in mixed case", edit: func(c jwt.MapClaims) { c["sub"] = "Cert:billing-service" }},
		{name: "sub only the certificate prefix", edit: func(c jwt.MapClaims) { c["sub"] = "cert:" }},
		{
			name: "sub starting with cert but not the prefix",
			edit: func(c jwt.MapClaims) { c["sub"] = "certificate-service" },
			want: &auth.Identity{Subject: "certificate-service", Profiles: []string{"default", "avatars"}},
		},
		// max_token_lifetime (24h here, the default).
		{name: "1h token", edit: func(c jwt.MapClaims) { c["exp"] = in(time.Hour) }, want: alice},
		{name: "24h token", edit: func(c jwt.MapClaims) { c["exp"] = c["iat"].(int64) + int64((24 * time.Hour).Seconds()) }, want: alice},
		{name: "23h token without iat", edit: func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = in(23 * time.Hour) }, want: alice},
		{name: "exp in the year 3000", edit: func(c jwt.MapClaims) { c["exp"] = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }},
		{name: "exp in the year 3000 without iat", edit: func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }},
		{name: "exp 25h away without iat", edit: func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = in(25 * time.Hour) }},
		{name: "iat and exp 48h apart", edit: func(c jwt.MapClaims) { c["iat"] = ago(47 * time.Hour); c["exp"] = in(time.Hour) }},
		{name: "iat and exp 24h and 1s apart", edit: func(c jwt.MapClaims) {
			c["iat"] = ago(time.Hour)
			c["exp"] = c["iat"].(int64) + int64((24*time.Hour + time.Second).Seconds())
		}},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range cfg.signers {
				t.Run(s.name, func(t *testing.T) {
					t.Parallel()
					for _, tt := range tests {
						t.Run(tt.name, func(t *testing.T) {
							t.Parallel()
							token := s.sign(t, validClaims(tt.edit))
							id, err := cfg.auth.Authenticate(t.Context(), token)
							if tt.want == nil {
								checkRejected(t, id, err, auth.ErrInvalidToken, token)
								return
							}
							if err != nil {
								t.Fatalf("Authenticate: %v", err)
							}
							if diff := cmp.Diff(tt.want, id); diff != "" {
								t.Errorf("identity mismatch (-want +got):\n%s", diff)
							}
							checkMayUse(t, id, tt.mayUse)
						})
					}
				})
			}
		})
	}
}

// TestJWTRejects presents forged, malformed and misdirected tokens.
func TestJWTRejects(t *testing.T) {
	t.Parallel()
	as := newJWTAuths(t)
	k := keys()
	all := map[string]auth.Authenticator{"hs256": as.hs, "jwks file": as.file, "jwks url": as.url, "hs256 and jwks file": as.hsFile}
	jwks := map[string]auth.Authenticator{"jwks file": as.file, "jwks url": as.url, "hs256 and jwks file": as.hsFile}
	jwksOnly := map[string]auth.Authenticator{"jwks file": as.file, "jwks url": as.url}
	withHS := map[string]auth.Authenticator{"hs256": as.hs, "hs256 and jwks file": as.hsFile}

	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	valid := validClaims(nil)
	hsValid := hsSigner().sign(t, valid)
	rsValid := rsSigner().sign(t, valid)

	tests := []struct {
		name    string
		auths   map[string]auth.Authenticator
		token   string
		wantErr error
	}{
		{name: "empty", auths: all, token: "", wantErr: auth.ErrNoToken},
		{name: "malformed", auths: all, token: "not.a.jwt"},
		{name: "garbage", auths: all, token: "garbage-that-is-no-token-at-all"},
		{name: "two segments", auths: all, token: strings.Join(strings.Split(rsValid, ".")[:2], ".")},
		{name: "signature stripped", auths: all, token: strings.Join(strings.Split(rsValid, ".")[:2], ".") + "."},
		{name: "HS256 signature truncated", auths: withHS, token: hsValid[:len(hsValid)-2]},
		{name: "RS256 payload swapped", auths: jwks, token: swapPayload(t, rsValid, validClaims(func(c jwt.MapClaims) { c["sub"] = "mallory" }))},
		{name: "HS256 payload swapped", auths: withHS, token: swapPayload(t, hsValid, validClaims(func(c jwt.MapClaims) { c["sub"] = "mallory" }))},
		{name: "HS256 other secret", auths: withHS, token: sign(t, jwt.SigningMethodHS256, otherSecret, "", valid)},
		{name: "RS256 other key same kid", auths: jwks, token: sign(t, jwt.SigningMethodRS256, k.rsaOther, rsaKID, valid)},
		{name: "ES256 other key same kid", auths: jwks, token: sign(t, jwt.SigningMethodES256, k.ecOther, ecKID, valid)},
		{name: "EdDSA other key same kid", auths: jwks, token: sign(t, jwt.SigningMethodEdDSA, k.edOther, edKID, valid)},
		{name: "alg none", auths: all, token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", valid)},
		{name: "alg none with kid", auths: all, token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, rsaKID, valid)},
		{name: "HS256 when only JWKS is configured", auths: jwksOnly, token: hsValid},
		{name: "HS256 with kid when only JWKS is configured", auths: jwksOnly, token: sign(t, jwt.SigningMethodHS256, hsSecret, rsaKID, valid)},
		{name: "HS256 signed with RSA public key PEM", auths: all, token: sign(t, jwt.SigningMethodHS256, pubPEM, rsaKID, valid)},
		{name: "HS256 signed with RSA public key PKCS1 PEM", auths: all, token: sign(t, jwt.SigningMethodHS256, pkcs1PEM, rsaKID, valid)},
		{name: "HS256 signed with RSA public key DER", auths: all, token: sign(t, jwt.SigningMethodHS256, pubDER, rsaKID, valid)},
		{name: "HS384 with the right secret", auths: all, token: sign(t, jwt.SigningMethodHS384, hsSecret, "", valid)},
		{name: "RS384 with the right key", auths: all, token: sign(t, jwt.SigningMethodRS384, k.rsa, rsaKID, valid)},
		{name: "PS256 with the right key", auths: all, token: sign(t, jwt.SigningMethodPS256, k.rsa, rsaKID, valid)},
		{name: "unknown kid", auths: all, token: sign(t, jwt.SigningMethodRS256, k.rsa, "no-such-kid", valid)},
		{name: "RS256 with the EC key's kid", auths: all, token: sign(t, jwt.SigningMethodRS256, k.rsa, ecKID, valid)},
		{name: "RS256 with the Ed25519 key's kid", auths: all, token: sign(t, jwt.SigningMethodRS256, k.rsa, edKID, valid)},
		{name: "ES256 with the RSA key's kid", auths: all, token: sign(t, jwt.SigningMethodES256, k.ec, rsaKID, valid)},
		{name: "EdDSA with the EC key's kid", auths: all, token: sign(t, jwt.SigningMethodEdDSA, k.ed, ecKID, valid)},
		{name: "RS256 signed by the other key with the EC key's kid", auths: all, token: sign(t, jwt.SigningMethodRS256, k.rsaOther, ecKID, valid)},
		{name: "RS256 when only HS256 is configured", auths: map[string]auth.Authenticator{"hs256": as.hs}, token: rsValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErr := tt.wantErr
			if wantErr == nil {
				wantErr = auth.ErrInvalidToken
			}
			for name, a := range tt.auths {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					id, err := a.Authenticate(t.Context(), tt.token)
					checkRejected(t, id, err, wantErr, tt.token)
				})
			}
		})
	}
}

// swapPayload replaces a signed token's claims, keeping header and signature.
func swapPayload(t *testing.T, token string, claims jwt.MapClaims) string {
	t.Helper()
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	parts[1] = b64(raw)
	return strings.Join(parts, ".")
}

// TestJWKSURLRotation shows the JWKS is cached, refetched when a token names
// an unknown key id, and that a key removed from the set stops working.
func TestJWKSURLRotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		latency time.Duration
	}{
		{name: "loopback"},
		// A JWKS served across a network takes a while to arrive; the
		// refetch must be allowed the configured JWKS timeout to finish.
		{name: "network latency", latency: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testRotation(t, tt.latency)
		})
	}
}

func testRotation(t *testing.T, latency time.Duration) {
	k := keys()
	const kidA, kidB = "key-a", "key-b"
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(kidA, &k.rsa.PublicKey)))
	srv.latency.Store(int64(latency))
	cfg := baseJWT()
	cfg.JWKSURL = srv.URL
	a := newJWTAuth(t, cfg, noEnv, srv.Client())

	tokA := sign(t, jwt.SigningMethodRS256, k.rsa, kidA, validClaims(nil))
	tokB := sign(t, jwt.SigningMethodRS256, k.rsaB, kidB, validClaims(func(c jwt.MapClaims) { c["sub"] = "bob" }))
	want := func(sub string) *auth.Identity {
		return &auth.Identity{Subject: sub, Profiles: []string{"default", "avatars"}}
	}

	fetches := srv.fetches.Load()
	if fetches != 1 {
		t.Errorf("JWKS fetched %d times by New, want 1", fetches)
	}
	for range 50 {
		id, err := a.Authenticate(t.Context(), tokA)
		if err != nil {
			t.Fatalf("Authenticate(key A): %v", err)
		}
		if diff := cmp.Diff(want("alice"), id); diff != "" {
			t.Fatalf("identity mismatch (-want +got):\n%s", diff)
		}
	}
	if got := srv.fetches.Load(); got != fetches {
		t.Errorf("JWKS fetched %d times after verifying known keys, want %d (no refetch)", got, fetches)
	}

	// Rotate: the server now publishes only key B. The first token with
	// kid B triggers a refetch; should the refetch allowance be spent, a
	// later attempt gets it.
	srv.set(jwksJSON(t, rsaJWK(kidB, &k.rsaB.PublicKey)))
	var (
		id  *auth.Identity
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; {
		id, err = a.Authenticate(t.Context(), tokB)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Authenticate(key B) after rotation: %v (JWKS fetched %d times)", err, srv.fetches.Load())
	}
	if diff := cmp.Diff(want("bob"), id); diff != "" {
		t.Errorf("identity mismatch (-want +got):\n%s", diff)
	}
	if got := srv.fetches.Load(); got <= fetches {
		t.Errorf("JWKS fetched %d times after an unknown kid, want more than %d", got, fetches)
	}

	// Key A was removed from the set, so it no longer verifies.
	id, err = a.Authenticate(t.Context(), tokA)
	checkRejected(t, id, err, auth.ErrInvalidToken, tokA)

	// Key B is now cached.
	fetches = srv.fetches.Load()
	for range 50 {
		if _, err := a.Authenticate(t.Context(), tokB); err != nil {
			t.Fatalf("Authenticate(key B): %v", err)
		}
	}
	if got := srv.fetches.Load(); got != fetches {
		t.Errorf("JWKS fetched %d times after verifying known keys, want %d (no refetch)", got, fetches)
	}
}

// TestJWKSURLUnavailable checks that a JWKS server that fails or hangs
// does not stop start-up, and that tokens are then refused.
func TestJWKSURLUnavailable(t *testing.T) {
	t.Parallel()
	token := rsSigner().sign(t, validClaims(nil))

	t.Run("500", func(t *testing.T) {
		t.Parallel()
		srv := newJWKSServer(t, allJWKS(t))
		srv.status.Store(http.StatusInternalServerError)
		cfg := baseJWT()
		cfg.JWKSURL = srv.URL
		a := newJWTAuth(t, cfg, noEnv, srv.Client())
		for range 3 {
			id, err := a.Authenticate(t.Context(), token)
			checkRejected(t, id, err, auth.ErrInvalidToken, token)
		}
		if srv.fetches.Load() == 0 {
			t.Error("the JWKS server was never asked")
		}
	})

	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		srv := newJWKSServer(t, []byte("<html>not a key set</html>"))
		cfg := baseJWT()
		cfg.JWKSURL = srv.URL
		a := newJWTAuth(t, cfg, noEnv, srv.Client())
		id, err := a.Authenticate(t.Context(), token)
		checkRejected(t, id, err, auth.ErrInvalidToken, token)
	})

	t.Run("hangs", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		var fetches atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetches.Add(1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		// Cleanups run last-in first-out: release the handlers, then close.
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		cfg := baseJWT()
		cfg.JWKSURL = srv.URL
		cfg.JWKSTimeout = 200 * time.Millisecond
		a := newJWTAuth(t, cfg, noEnv, srv.Client())

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		id, err := a.Authenticate(ctx, token)
		checkRejected(t, id, err, auth.ErrInvalidToken, token)
		if fetches.Load() == 0 {
			t.Error("the JWKS server was never asked")
		}
	})
}
