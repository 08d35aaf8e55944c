package config

import (
	"fmt"
	"time"
)

// Bounds of a quota's window.
const (
	DefaultQuotaWindow = 24 * time.Hour
	MinQuotaWindow     = time.Minute
	MaxQuotaWindow     = 31 * 24 * time.Hour
)

// Quota bounds the bytes a subject may be granted per window in a profile:
// every credential reserves the bytes it allows.
type Quota struct {
	// Bytes is the most a subject may be granted per window.
	Bytes int64 `yaml:"bytes"`
	// Per is the window (default 24h, 1m to 31 days); a reservation
	// counts for one window from when it was made.
	Per time.Duration `yaml:"per"`
}

func (q *Quota) applyDefaults() {
	if q != nil && q.Per == 0 {
		q.Per = DefaultQuotaWindow
	}
}

func (q *Quota) validate(at string) []error {
	if q == nil {
		return nil
	}
	var errs []error
	if q.Bytes <= 0 {
		errs = append(errs, fmt.Errorf("%s.bytes: required (a positive number of bytes)", at))
	}
	if q.Per != 0 && (q.Per < MinQuotaWindow || q.Per > MaxQuotaWindow) {
		errs = append(errs, fmt.Errorf("%s.per: %s is outside 1m..744h (31 days)", at, q.Per))
	}
	return errs
}

// QuotaFor returns the quota of the named profile: its own, else the
// default, else nil (none).
func (c *Config) QuotaFor(profile string) *Quota {
	if p, ok := c.Profiles[profile]; ok && p.Quota != nil {
		return p.Quota
	}
	return c.Quota
}
