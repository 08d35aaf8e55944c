package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/gatepost/gatepost/internal/config"
)

// Errors an Authenticator returns. Their text is safe to show callers.
var (
	// ErrNoToken means the caller presented no bearer token.
	ErrNoToken = errors.New("missing bearer token: send authorization: Bearer <token>")
	// ErrInvalidToken means the token was not accepted. The reason is
	// deliberately not given to callers.
	ErrInvalidToken = errors.New("invalid or expired bearer token")
)

// Identity is an authenticated caller.
type Identity struct {
	// Subject names the caller (API key subject or JWT sub).
	Subject string
	// Profiles lists the profiles the caller may use ("*" for all).
	Profiles []string
}

// MayUse reports whether the caller may use the named profile.
func (id *Identity) MayUse(profile string) bool {
	return config.ProfileAllowed(id.Profiles, profile)
}

// Authenticator turns a bearer token into an Identity.
type Authenticator interface {
	// Authenticate returns the caller's identity, ErrNoToken when token is
	// empty, or an error wrapping ErrInvalidToken.
	Authenticate(ctx context.Context, token string) (*Identity, error)
}

// New returns the Authenticator for cfg. getenv reads the environment (for
// the HS256 secret); client fetches a JWKS URL (nil for a default client).
// The context bounds background JWKS refreshing.
func New(ctx context.Context, cfg config.Auth, getenv func(string) string, client *http.Client) (Authenticator, error) {
	switch cfg.Mode {
	case config.AuthNone:
		return anyone{}, nil
	case config.AuthAPIKey:
		return newAPIKeys(cfg.APIKeys)
	case config.AuthJWT:
		return newJWT(ctx, cfg.JWT, getenv, os.ReadFile, client)
	default:
		return nil, fmt.Errorf("auth.mode: %q is not supported", cfg.Mode)
	}
}

// BearerToken extracts the token from an Authorization header value. It
// returns "" when there is none or the scheme is not Bearer.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// HashKey returns the hex SHA-256 of an API key, the form the
// configuration stores.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// anyone accepts every caller, token or not (mode none).
type anyone struct{}

// AnonymousSubject is the subject of every caller in mode none.
const AnonymousSubject = "anonymous"

func (anyone) Authenticate(context.Context, string) (*Identity, error) {
	return &Identity{Subject: AnonymousSubject, Profiles: []string{config.AllProfiles}}, nil
}
