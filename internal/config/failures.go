package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Defaults of the failure limits: generous enough that a misconfigured
// client is noticed in its logs rather than locked out, tight enough that
// a flood of bad tokens or bad requests costs its sender, not gatepost.
const (
	DefaultAuthFailuresPerSecond    = 1
	DefaultAuthFailureBurst         = 30
	DefaultInvalidRequestsPerSecond = 5
	DefaultInvalidRequestBurst      = 50
)

// FailureLimits are token buckets charged only by failed calls. While a
// bucket is empty, its owner's calls are refused (429) before any work.
type FailureLimits struct {
	// AuthPerAddress is charged by every failed authentication, per client
	// address (see TrustedProxies).
	AuthPerAddress RateLimit `yaml:"auth_per_address"`
	// InvalidPerSubject is charged by every call of an authenticated
	// caller that fails because of the request (400, 403, 404, 409), per
	// subject.
	InvalidPerSubject RateLimit `yaml:"invalid_per_subject"`
}

// WithDefaults returns f with every unset rate and burst at its default
// (for configurations built in code rather than parsed).
func (f FailureLimits) WithDefaults() FailureLimits {
	f.applyDefaults()
	return f
}

func (f *FailureLimits) applyDefaults() {
	if f.AuthPerAddress.RequestsPerSecond == 0 {
		f.AuthPerAddress.RequestsPerSecond = DefaultAuthFailuresPerSecond
	}
	if f.AuthPerAddress.Burst == 0 {
		f.AuthPerAddress.Burst = DefaultAuthFailureBurst
	}
	if f.InvalidPerSubject.RequestsPerSecond == 0 {
		f.InvalidPerSubject.RequestsPerSecond = DefaultInvalidRequestsPerSecond
	}
	if f.InvalidPerSubject.Burst == 0 {
		f.InvalidPerSubject.Burst = DefaultInvalidRequestBurst
	}
}

// ParsePrefixes parses CIDR ranges (a bare address is a range of one).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if !strings.Contains(s, "/") {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR range", s)
			}
			out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR range", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
