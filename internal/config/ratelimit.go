package config

import (
	_ "embed"
	"fmt"
)

// Defaults of a rate limit.
const (
	DefaultRequestsPerSec = 50
	DefaultBurst          = 100
)

// RateLimit is a token bucket per subject.
type RateLimit struct {
	// RequestsPerSecond is the refill rate; 0 means the default
	// (DefaultRequestsPerSec).
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is the bucket size; 0 means the default (DefaultBurst).
	Burst int `yaml:"burst"`
	// Disabled turns the limit off.
	Disabled bool `yaml:"disabled"`
}

func (r *RateLimit) applyDefaults() {
	if r.RequestsPerSecond == 0 {
		r.RequestsPerSecond = DefaultRequestsPerSec
	}
	if r.Burst == 0 {
		r.Burst = DefaultBurst
	}
}

func (r *RateLimit) validate(at string) []error {
	if r.RequestsPerSecond < 0 || r.Burst < 0 {
		return []error{fmt.Errorf("%s: requests_per_second and burst must not be negative", at)}
	}
	return nil
}
