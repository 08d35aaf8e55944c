package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

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
	maxLifetime   time.Duration
	leeway        time.Duration
	// lastFetchFailure is the latest failed JWKS fetch, added to the
	// (logged) reason when a token's key cannot be found.
	lastFetchFailure atomic.Pointer[fetchFailure]
}

// fetchFailure is a failed JWKS fetch and when it happened.
type fetchFailure struct {
	at  time.Time
	err error
}

func newJWT(ctx context.Context, cfg config.JWT, getenv func(string) string,
	readFile func(string) ([]byte, error), client *http.Client, logger *slog.Logger,
) (*jwtAuth, error) {
	a := &jwtAuth{profilesClaim: cfg.ProfilesClaim, maxLifetime: cfg.MaxTokenLifetime, leeway: cfg.Leeway}
	if a.maxLifetime <= 0 {
		// Never unlimited, even for a configuration without defaults.
		a.maxLifetime = config.DefaultMaxTokenLifetime
	}
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
			// Responses over MaxJWKSBytes fail the fetch.
			Client:          limitJWKS(client),
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
			// A failed fetch (the first one included, which does not
			// stop start-up) is logged, and remembered for the reason
			// of the refusals it causes.
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					a.lastFetchFailure.Store(&fetchFailure{at: time.Now(), err: err})
					logger.ErrorContext(ctx, "fetching the JWKS failed; tokens signed with keys not yet known are refused", "url", u, "error", err)
				}
			},
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
		key, err := a.jwks.KeyfuncCtx(ctx)(t)
		if f := a.lastFetchFailure.Load(); err != nil && f != nil {
			err = fmt.Errorf("%w (the last failed JWKS fetch, at %s: %v)", err, f.at.UTC().Format(time.RFC3339), f.err)
		}
		return key, err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := a.checkLifetime(claims); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	sub, err := claims.GetSubject()
	switch {
	case err != nil || strings.TrimSpace(sub) == "":
		return nil, fmt.Errorf("%w: no sub claim, or a blank one", ErrInvalidToken)
	case config.ReservedSubject(sub):
		// Certificate holders' subjects start with cert:; a token must
		// never become one of them.
		return nil, fmt.Errorf("%w: sub %q starts with %q, which is reserved for client certificates", ErrInvalidToken, sub, CertSubjectPrefix)
	}
	return &Identity{Subject: sub, Profiles: profilesFrom(claims[a.profilesClaim])}, nil
}

// checkLifetime refuses tokens valid for longer than max_token_lifetime:
// exp at most that (plus the leeway) from now, and from iat when given.
// A stolen long-lived token would otherwise stay useful for years.
func (a *jwtAuth) checkLifetime(claims jwt.MapClaims) error {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return errors.New("no valid exp claim")
	}
	if left := time.Until(exp.Time); left > a.maxLifetime+a.leeway {
		return fmt.Errorf("exp is %s away, more than max_token_lifetime (%s)", left.Round(time.Second), a.maxLifetime)
	}
	iat, err := claims.GetIssuedAt()
	if err != nil {
		return errors.New("iat is not a valid time")
	}
	if iat != nil {
		if lifetime := exp.Sub(iat.Time); lifetime > a.maxLifetime {
			return fmt.Errorf("exp is %s after iat, more than max_token_lifetime (%s)", lifetime, a.maxLifetime)
		}
	}
	return nil
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
