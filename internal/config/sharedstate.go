package config

import (
	"fmt"
	"net/url"
)

// What limits do while the shared store is unreachable.
const (
	// OnUnavailableDeny answers calls that need a limit with Unavailable.
	OnUnavailableDeny = "deny"
	// OnUnavailableAllow counts limits in each replica's memory instead.
	OnUnavailableAllow = "allow"
)

// SharedState configures the store that replicas share limits through.
type SharedState struct {
	// RedisURL is redis://[user:password@]host:port/db (rediss:// for
	// TLS); empty keeps every limit in this process's memory, which is
	// right for one replica.
	RedisURL string `yaml:"redis_url"`
	// OnUnavailable is deny (default) or allow.
	OnUnavailable string `yaml:"on_unavailable"`
}

// Enabled reports whether limits are shared through Redis.
func (s *SharedState) Enabled() bool { return s.RedisURL != "" }

// Deny reports whether calls that need a limit fail while Redis is
// unreachable.
func (s *SharedState) Deny() bool { return s.OnUnavailable != OnUnavailableAllow }

func (s *SharedState) validate() []error {
	var errs []error
	if s.RedisURL != "" {
		u, err := url.Parse(s.RedisURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("shared_state.redis_url: not a URL: %v", err))
		case u.Scheme != "redis" && u.Scheme != "rediss":
			errs = append(errs, fmt.Errorf("shared_state.redis_url: %q is not a redis:// or rediss:// URL", redactURL(u)))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("shared_state.redis_url: %q names no host", redactURL(u)))
		}
	}
	switch s.OnUnavailable {
	case "", OnUnavailableDeny, OnUnavailableAllow:
	default:
		errs = append(errs, fmt.Errorf("shared_state.on_unavailable: %q is not one of deny, allow", s.OnUnavailable))
	}
	return errs
}

// redactURL is u without its password, for messages.
func redactURL(u *url.URL) string { return u.Redacted() }
