package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/gatepost/gatepost/internal/config"
)

// minHS256SecretBytes is the shortest HS256 secret accepted: RFC 7518
// requires a key at least as long as the hash output.
const minHS256SecretBytes = 32

// jwtAuth verifies JSON Web Tokens with golang-jwt and, for public keys, a
// JWKS from keyfunc (which caches and refreshes it).
type jwtAuth struct {
	parser        *jwt.Parser
	secret        []byte
	jwks          keyfunc.Keyfunc
	profilesClaim string
}

func newJWT(ctx context.Context, cfg config.JWT, getenv func(string) string,
	readFile func(string) ([]byte, error), client *http.Client,
) (*jwtAuth, error) {
	a := &jwtAuth{profilesClaim: cfg.ProfilesClaim}
	var methods []string
	if cfg.HS256SecretEnv != "" {
		secret := getenv(cfg.HS256SecretEnv)
		if len(secret) < minHS256SecretBytes {
			return nil, fmt.Errorf("auth.jwt.hs256_secret_env: $%s must hold a secret of at least %d bytes", cfg.HS256SecretEnv, minHS256SecretBytes)
		}
		a.secret = []byte(secret)
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	switch {
	case cfg.JWKSFile != "":
		raw, err := readFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file: %w", err)
		}
		if a.jwks, err = keyfunc.NewJWKSetJSON(raw); err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file %s: %w", cfg.JWKSFile, err)
		}
	case cfg.JWKSURL != "":
		var err error
		a.jwks, err = keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:          client,
			HTTPTimeout:     cfg.JWKSTimeout,
			RefreshInterval: cfg.JWKSRefresh,
			// A token with an unknown key id (after a key rotation)
			// triggers a refetch, at most once per JWKSMinRefresh.
			// jwkset bounds the wait for that allowance and the refetch
			// itself by one deadline, RateLimitWaitMax, so it must be
			// the fetch timeout: a tiny one cancels every refetch
			// before the JWKS arrives. A request waits for the
			// allowance only when it comes within JWKSTimeout (the
			// limiter refuses at once otherwise).
			RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.JWKSMinRefresh), 1),
			RateLimitWaitMax:  cfg.JWKSTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_url: %w", err)
		}
	}
	if a.jwks != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
	}
	if len(methods) == 0 {
		return nil, errors.New("auth.jwt: no key configured")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// Authenticate verifies the token's signature, exp, nbf, iat, iss and aud,
// and returns its sub and the profiles listed in the profiles claim.
func (a *jwtAuth) Authenticate(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// Each algorithm family gets only its own kind of key, so an RSA
		// public key can never be used as an HMAC secret.
		if t.Method.Alg() == jwt.SigningMethodHS256.Alg() {
			if a.secret == nil {
				return nil, errors.New("HS256 is not configured")
			}
			return a.secret, nil
		}
		if a.jwks == nil {
			return nil, errors.New("no JWKS is configured")
		}
		return a.jwks.KeyfuncCtx(ctx)(t)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	return &Identity{Subject: sub, Profiles: profilesFrom(claims[a.profilesClaim])}, nil
}

// profilesFrom reads the profiles claim: an array of strings, or one
// space-separated string (like OAuth's scope).
func profilesFrom(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, p := range v {
			if s, ok := p.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
