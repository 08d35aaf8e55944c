package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
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
// The context bounds background JWKS refreshing. When auth.mtls is enabled
// the Authenticator is also a CertAuthenticator. Use NewReloadable to
// replace API keys and certificate profiles while serving.
func New(ctx context.Context, cfg config.Auth, getenv func(string) string, client *http.Client) (Authenticator, error) {
	r, err := NewReloadable(ctx, cfg, Options{Getenv: getenv, Client: client})
	if err != nil {
		return nil, err
	}
	return r.Authenticator(), nil
}

// CertAuthenticator authenticates a caller by a verified client
// certificate. The Authenticator from New implements it when auth.mtls is
// enabled.
type CertAuthenticator interface {
	// AuthenticateCert returns the identity of the certificate's holder,
	// or nil when the certificate names nobody.
	AuthenticateCert(leaf *x509.Certificate) *Identity
}

// CertSubjectPrefix starts the subject of every caller authenticated by a
// client certificate. Token subjects never start with it (API keys with
// such a subject are a configuration error, JWTs with such a sub are
// refused), so a token can never pose as a certificate holder and share
// its key prefix, upload tokens or rate bucket.
const CertSubjectPrefix = config.CertSubjectPrefix

// certIdentity names the holder by the certificate's Common Name, else its
// first URI or DNS name, with the profiles configured for that name (or
// for "*"). The subject is that name after CertSubjectPrefix. A
// certificate that names nobody gets nil.
func certIdentity(leaf *x509.Certificate, profiles map[string][]string) *Identity {
	subject := leaf.Subject.CommonName
	switch {
	case subject != "":
	case len(leaf.URIs) > 0:
		subject = leaf.URIs[0].String()
	case len(leaf.DNSNames) > 0:
		subject = leaf.DNSNames[0]
	}
	if subject == "" {
		return nil
	}
	p, ok := profiles[subject]
	if !ok {
		p = profiles[config.AllProfiles]
	}
	return &Identity{Subject: CertSubjectPrefix + subject, Profiles: slices.Clone(p)}
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
