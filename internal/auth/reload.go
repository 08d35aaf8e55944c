package auth

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"sync/atomic"

	"github.com/gatepost/gatepost/internal/config"
)

// Options are the optional parts of NewReloadable.
type Options struct {
	// Getenv reads the environment (the HS256 secret); os.Getenv when nil.
	Getenv func(string) string
	// Client fetches a JWKS URL; a default client when nil. Either way its
	// responses are refused past MaxJWKSBytes.
	Client *http.Client
	// Logger receives failed JWKS fetches; slog.Default() when nil.
	Logger *slog.Logger
}

// Reloadable is an Authenticator whose API keys (mode api_key) and mTLS
// profiles Reload can replace while it serves, so that a key is revoked
// without a restart. The mode, the JWT settings and whether mTLS is on are
// fixed when it is made.
type Reloadable struct {
	mode config.AuthMode
	mtls bool
	// fixed authenticates tokens in modes jwt and none; nil in api_key
	// mode, where the current state's keys do.
	fixed Authenticator
	// state is swapped as a whole, so a request sees either the old keys
	// and profiles or the new ones, never a mixture.
	state atomic.Pointer[reloadState]
}

// reloadState is what Reload replaces.
type reloadState struct {
	keys         *apiKeys
	certProfiles map[string][]string
}

var _ Authenticator = (*Reloadable)(nil)

// NewReloadable returns the Reloadable authenticator for cfg. The context
// bounds background JWKS refreshing.
func NewReloadable(ctx context.Context, cfg config.Auth, opts Options) (*Reloadable, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	r := &Reloadable{mode: cfg.Mode, mtls: cfg.MTLS.Enabled}
	var err error
	switch cfg.Mode {
	case config.AuthNone:
		r.fixed = anyone{}
	case config.AuthAPIKey:
	case config.AuthJWT:
		if r.fixed, err = newJWT(ctx, cfg.JWT, getenv, os.ReadFile, opts.Client, logger); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("auth.mode: %q is not supported", cfg.Mode)
	}
	if err := r.Reload(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// Authenticator returns r as the Authenticator to serve with: when auth.mtls
// was enabled it also implements CertAuthenticator, with the current
// profiles.
func (r *Reloadable) Authenticator() Authenticator {
	if r.mtls {
		return reloadableCerts{r}
	}
	return r
}

// Authenticate implements Authenticator with the current API keys (mode
// api_key) or the fixed JWT or none authenticator.
func (r *Reloadable) Authenticate(ctx context.Context, token string) (*Identity, error) {
	if r.fixed != nil {
		return r.fixed.Authenticate(ctx, token)
	}
	return r.state.Load().keys.Authenticate(ctx, token)
}

// Reload replaces the API keys (mode api_key) and the mTLS profiles with
// those of cfg, in one step. cfg should have passed config validation;
// Reload still refuses a change of auth.mode (that needs a restart) and
// keys it cannot use. On error nothing changes.
func (r *Reloadable) Reload(cfg config.Auth) error {
	if cfg.Mode != r.mode {
		return fmt.Errorf("auth.mode: changed from %s to %s, which needs a restart", r.mode, cfg.Mode)
	}
	next := &reloadState{certProfiles: maps.Clone(cfg.MTLS.Profiles)}
	for name, p := range next.certProfiles {
		next.certProfiles[name] = slices.Clone(p)
	}
	if r.mode == config.AuthAPIKey {
		keys, err := newAPIKeys(cfg.APIKeys)
		if err != nil {
			return err
		}
		next.keys = keys
	}
	r.state.Store(next)
	return nil
}

// APIKeys returns how many API keys are in force (0 outside mode api_key).
func (r *Reloadable) APIKeys() int {
	if keys := r.state.Load().keys; keys != nil {
		return len(keys.bySum)
	}
	return 0
}

// CertProfiles returns how many certificate names (including "*") have
// profiles configured in auth.mtls.profiles.
func (r *Reloadable) CertProfiles() int {
	return len(r.state.Load().certProfiles)
}

// reloadableCerts is a Reloadable that also authenticates callers by their
// verified client certificate (auth.mtls enabled).
type reloadableCerts struct {
	*Reloadable
}

var _ CertAuthenticator = reloadableCerts{}

// AuthenticateCert implements CertAuthenticator with the current profiles.
func (r reloadableCerts) AuthenticateCert(leaf *x509.Certificate) *Identity {
	return certIdentity(leaf, r.state.Load().certProfiles)
}
