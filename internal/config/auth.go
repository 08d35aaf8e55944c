package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AuthMode says how callers are authenticated.
type AuthMode string

// The authentication modes.
const (
	// AuthAPIKey accepts bearer tokens whose SHA-256 is listed in the
	// configuration.
	AuthAPIKey AuthMode = "api_key"
	// AuthJWT accepts signed JSON Web Tokens.
	AuthJWT AuthMode = "jwt"
	// AuthNone accepts every caller as the subject "anonymous". It must be
	// chosen explicitly and is logged as a warning at start-up.
	AuthNone AuthMode = "none"
)

// AllProfiles in a list of allowed profiles allows every profile.
const AllProfiles = "*"

// Defaults of the access settings.
const (
	DefaultJWTLeeway        = 30 * time.Second
	MaxJWTLeeway            = 5 * time.Minute
	DefaultJWKSRefresh      = time.Hour
	DefaultJWKSTimeout      = 5 * time.Second
	DefaultJWKSMinRefresh   = time.Minute
	DefaultProfilesClaim    = "gatepost_profiles"
	subjectPlaceholder      = "{subject}"
	subjectPlaceholderValue = "subject"
)

// Bounds of jwt.max_token_lifetime.
const (
	// DefaultMaxTokenLifetime is the longest a JWT may be valid for (from
	// now to exp, and from iat to exp) unless jwt.max_token_lifetime says
	// otherwise.
	DefaultMaxTokenLifetime = 24 * time.Hour
	// MinMaxTokenLifetime is the smallest jwt.max_token_lifetime accepted.
	MinMaxTokenLifetime = time.Minute
	// MaxMaxTokenLifetime is the largest jwt.max_token_lifetime accepted.
	MaxMaxTokenLifetime = 30 * 24 * time.Hour
)

// Auth configures who may ask for upload policies.
type Auth struct {
	// Mode is api_key, jwt or none; required.
	Mode AuthMode `yaml:"mode"`
	// APIKeys are the accepted API keys (mode api_key).
	APIKeys []APIKey `yaml:"api_keys"`
	// JWT configures token verification (mode jwt).
	JWT JWT `yaml:"jwt"`
	// MTLS authenticates gRPC callers by their verified client certificate,
	// in any mode (it needs tls.client_ca_file).
	MTLS MTLS `yaml:"mtls"`
	// AllowNoneBeyondLoopback lets mode none listen on addresses other
	// than loopback, for when an authenticating proxy is in front.
	// Without it that is a configuration error.
	AllowNoneBeyondLoopback bool `yaml:"allow_none_beyond_loopback"`
}

// CertSubjectPrefix starts the subject of every caller authenticated by a
// client certificate. No API key subject and no JWT sub may start with it
// (in any letter case), so a token can never become a certificate holder's
// subject and share its key prefix, upload tokens or rate bucket.
const CertSubjectPrefix = "cert:"

// ReservedSubject reports whether a token subject is refused because it
// starts with CertSubjectPrefix, compared case-insensitively.
func ReservedSubject(subject string) bool {
	n := len(CertSubjectPrefix)
	return len(subject) >= n && strings.EqualFold(subject[:n], CertSubjectPrefix)
}

// MTLS configures client-certificate authentication on gRPC.
type MTLS struct {
	// Enabled turns it on: a caller with a verified client certificate is
	// the certificate's subject (its Common Name, else its first URI or DNS
	// name), and needs no bearer token.
	Enabled bool `yaml:"enabled"`
	// Profiles maps certificate subjects to the profiles they may use; the
	// key "*" applies to every other verified certificate.
	Profiles map[string][]string `yaml:"profiles"`
}

// APIKey is one accepted API key, stored by its SHA-256 only.
type APIKey struct {
	// Subject names the caller; it appears in logs and in {subject}.
	Subject string `yaml:"subject"`
	// SHA256 is the hex SHA-256 of the key (for example from
	// `printf %s "$KEY" | sha256sum`).
	SHA256 string `yaml:"sha256"`
	// Profiles the caller may use; "*" allows all.
	Profiles []string `yaml:"profiles"`
}

// JWT configures JSON Web Token verification.
type JWT struct {
	// HS256SecretEnv names the environment variable holding the HS256
	// shared secret; empty disables HS256.
	HS256SecretEnv string `yaml:"hs256_secret_env"`
	// JWKSFile is a JSON Web Key Set file with RS256, ES256 or EdDSA
	// public keys.
	JWKSFile string `yaml:"jwks_file"`
	// JWKSURL is a JSON Web Key Set URL, fetched with JWKSTimeout and
	// refreshed every JWKSRefresh, and at most every JWKSMinRefresh when a
	// token names an unknown key id.
	JWKSURL        string        `yaml:"jwks_url"`
	JWKSRefresh    time.Duration `yaml:"jwks_refresh"`
	JWKSTimeout    time.Duration `yaml:"jwks_timeout"`
	JWKSMinRefresh time.Duration `yaml:"jwks_min_refresh"`
	// Issuer must equal the iss claim; required.
	Issuer string `yaml:"issuer"`
	// Audience must be in the aud claim; required.
	Audience string `yaml:"audience"`
	// Leeway tolerates clock skew on exp, nbf and iat (default 30s).
	Leeway time.Duration `yaml:"leeway"`
	// MaxTokenLifetime refuses tokens valid for longer (default 24h, 1m to
	// 720h): exp may be at most this (plus Leeway) after now, and, when
	// the token has iat, at most this after iat. 0 means the default.
	MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
	// ProfilesClaim names the claim listing the profiles the caller may
	// use (an array of strings or a space-separated string; "*" allows all).
	ProfilesClaim string `yaml:"profiles_claim"`
}

func (a *Auth) applyDefaults() {
	j := &a.JWT
	if j.Leeway == 0 {
		j.Leeway = DefaultJWTLeeway
	}
	if j.JWKSRefresh == 0 {
		j.JWKSRefresh = DefaultJWKSRefresh
	}
	if j.JWKSTimeout == 0 {
		j.JWKSTimeout = DefaultJWKSTimeout
	}
	if j.JWKSMinRefresh == 0 {
		j.JWKSMinRefresh = DefaultJWKSMinRefresh
	}
	if j.ProfilesClaim == "" {
		j.ProfilesClaim = DefaultProfilesClaim
	}
	if j.MaxTokenLifetime == 0 {
		j.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
}

// listenAddr is a listen address and the setting it comes from.
type listenAddr struct {
	setting, addr string
}

// validate checks the auth settings; profiles are the configured profiles
// and listeners the API's listen addresses (for mode none).
func (a *Auth) validate(profiles map[string]Profile, listeners ...listenAddr) []error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("auth.%s: %s", setting, fmt.Sprintf(format, args...)))
	}
	checkProfiles := func(setting string, names []string) {
		for _, n := range names {
			if _, ok := profiles[n]; !ok && n != AllProfiles {
				bad(setting, "unknown profile %q", n)
			}
		}
	}
	switch a.Mode {
	case "":
		bad("mode", "required: api_key, jwt, or none (none lets anyone who reaches gatepost get policies)")
	case AuthNone:
		var beyond []string
		for _, l := range listeners {
			if l.addr != "" && !IsLoopback(l.addr) {
				beyond = append(beyond, fmt.Sprintf("%s %q", l.setting, l.addr))
			}
		}
		if len(beyond) > 0 && !a.AllowNoneBeyondLoopback {
			bad("mode", "none on a non-loopback address (%s) lets anyone who can reach gatepost get upload credentials; "+
				"use api_key or jwt, listen on 127.0.0.1, or set auth.allow_none_beyond_loopback: true when an authenticating proxy is in front",
				strings.Join(beyond, ", "))
		}
	case AuthAPIKey:
		if len(a.APIKeys) == 0 {
			bad("api_keys", "at least one key is required in api_key mode")
		}
		seen := map[string]bool{}
		for i, k := range a.APIKeys {
			at := fmt.Sprintf("api_keys[%d]", i)
			switch {
			case strings.TrimSpace(k.Subject) == "":
				bad(at+".subject", "required (not blank)")
			case ReservedSubject(k.Subject):
				bad(at+".subject", "%q starts with %q, which is reserved for callers authenticated by a client certificate", k.Subject, CertSubjectPrefix)
			}
			sum, err := hex.DecodeString(k.SHA256)
			switch {
			case err != nil || len(sum) != 32:
				bad(at+".sha256", "must be 64 hex digits (the SHA-256 of the key, never the key itself)")
			case seen[strings.ToLower(k.SHA256)]:
				bad(at+".sha256", "listed twice")
			}
			seen[strings.ToLower(k.SHA256)] = true
			if len(k.Profiles) == 0 {
				bad(at+".profiles", `required (profile names, or "*" for all)`)
			}
			checkProfiles(at+".profiles", k.Profiles)
		}
	case AuthJWT:
		j := a.JWT
		if j.HS256SecretEnv == "" && j.JWKSFile == "" && j.JWKSURL == "" {
			bad("jwt", "set at least one of hs256_secret_env, jwks_file, jwks_url")
		}
		if j.JWKSFile != "" && j.JWKSURL != "" {
			bad("jwt", "set jwks_file or jwks_url, not both")
		}
		if j.JWKSURL != "" {
			u, err := url.Parse(j.JWKSURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("jwt.jwks_url", "%q is not an http(s) URL", j.JWKSURL)
			}
		}
		if j.Issuer == "" {
			bad("jwt.issuer", "required (the iss every token must carry)")
		}
		if j.Audience == "" {
			bad("jwt.audience", "required (the aud every token must carry)")
		}
		if j.Leeway < 0 || j.Leeway > MaxJWTLeeway {
			bad("jwt.leeway", "%s is outside 0s..5m", j.Leeway)
		}
		if l := j.MaxTokenLifetime; l != 0 && (l < MinMaxTokenLifetime || l > MaxMaxTokenLifetime) {
			bad("jwt.max_token_lifetime", "%s is outside 1m..720h", l)
		}
		if j.JWKSTimeout < 0 || j.JWKSRefresh < 0 || j.JWKSMinRefresh < 0 {
			bad("jwt", "durations must not be negative")
		}
	default:
		bad("mode", "%q is not one of api_key, jwt, none", a.Mode)
	}
	return errs
}

// LocalOnly reports whether authentication is off with no proxy in front
// (validation then requires every listener on loopback): the operator is
// the only caller. With auth.allow_none_beyond_loopback, callers come
// through an authenticating proxy and are not the operator.
func (c *Config) LocalOnly() bool {
	return c.Auth.Mode == AuthNone && !c.Auth.AllowNoneBeyondLoopback
}

// IsLoopback reports whether a listen address binds loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ProfileAllowed reports whether a list of allowed profiles permits name.
func ProfileAllowed(allowed []string, name string) bool {
	return slices.Contains(allowed, name) || slices.Contains(allowed, AllProfiles)
}
