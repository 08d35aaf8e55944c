package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Verification says how a profile's uploads are checked once they have
// landed, before anything reports them ready.
type Verification struct {
	// Sniff compares the type detected in an object's first bytes with
	// its declared Content-Type.
	Sniff Sniff `yaml:"sniff"`
	// Staging makes every credential of the profile write to
	// .gatepost/staging/<key>; gatepost copies an upload to its key only
	// once it is verified, so the key never holds unverified bytes.
	Staging bool `yaml:"staging"`
	// OnReject is what happens to a rejected upload: delete (default) or
	// quarantine (kept at .gatepost/quarantine/<key> for inspection).
	OnReject RejectAction `yaml:"on_reject"`
	// MalwareScan, when set, has a ClamAV daemon scan every upload.
	MalwareScan *MalwareScan `yaml:"malware_scan"`
}

// RejectAction is what happens to a rejected upload.
type RejectAction string

// The reject actions.
const (
	// RejectDelete deletes a rejected upload.
	RejectDelete RejectAction = "delete"
	// RejectQuarantine moves it to .gatepost/quarantine/<key>.
	RejectQuarantine RejectAction = "quarantine"
)

// Quarantines reports whether rejected uploads are kept in quarantine.
func (v *Verification) Quarantines() bool { return v.OnReject == RejectQuarantine }

// MalwareScan is a ClamAV daemon that scans a profile's uploads.
type MalwareScan struct {
	// Clamd is the daemon's TCP address (host:port).
	Clamd string `yaml:"clamd"`
	// MaxBytes is the largest upload scanned; a larger one is rejected
	// (default 100 MiB; clamd's own StreamMaxLength must be at least as
	// large).
	MaxBytes int64 `yaml:"max_bytes"`
	// Timeout bounds one scan (default 2m).
	Timeout time.Duration `yaml:"timeout"`
}

// Default malware scan limits.
const (
	DefaultScanMaxBytes = 100 << 20
	DefaultScanTimeout  = 2 * time.Minute
)

// Webhook is where a profile's verdicts are sent, signed per the Standard
// Webhooks specification.
type Webhook struct {
	// URL is the application's endpoint (http or https).
	URL string `yaml:"url"`
	// SecretEnv names the environment variable holding the signing
	// secrets ("whsec_..."; during a rotation the new and the old,
	// separated by a space).
	SecretEnv string `yaml:"secret_env"`
}

// Sniff is how the detected type of an object's bytes must relate to its
// declared Content-Type.
type Sniff struct {
	// Disabled turns the comparison off for the profile.
	Disabled bool `yaml:"disabled"`
	// Skip lists declared media types whose bytes are not compared (a
	// format the detector does not know, say).
	Skip []string `yaml:"skip"`
	// Equivalent maps a declared media type to detected ones accepted for
	// it besides itself: {"application/vnd.ms-excel": ["application/x-ole-storage"]}.
	Equivalent map[string][]string `yaml:"equivalent"`
}

func (v *Verification) validate(at string) []error {
	var errs []error
	mediaType := func(setting, t string) {
		if !mediaRangeRE.MatchString(t) || strings.Contains(t, "*") {
			errs = append(errs, fmt.Errorf("%s.sniff.%s: %q is not a lowercase media type without parameters (like image/png)", at, setting, t))
		}
	}
	for _, t := range v.Sniff.Skip {
		mediaType("skip", t)
	}
	for declared, detected := range v.Sniff.Equivalent {
		mediaType("equivalent", declared)
		for _, t := range detected {
			mediaType("equivalent."+declared, t)
		}
	}
	switch v.OnReject {
	case "", RejectDelete, RejectQuarantine:
	default:
		errs = append(errs, fmt.Errorf("%s.on_reject: %q is not one of delete, quarantine", at, v.OnReject))
	}
	if m := v.MalwareScan; m != nil {
		if _, port, err := net.SplitHostPort(m.Clamd); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s.malware_scan.clamd: %q is not a host:port address", at, m.Clamd))
		}
		if m.MaxBytes < 0 {
			errs = append(errs, fmt.Errorf("%s.malware_scan.max_bytes: must not be negative", at))
		}
		if m.Timeout < 0 {
			errs = append(errs, fmt.Errorf("%s.malware_scan.timeout: must not be negative", at))
		}
	}
	return errs
}

// Limits returns the scan's size limit and timeout with defaults filled.
func (m *MalwareScan) Limits() (maxBytes int64, timeout time.Duration) {
	maxBytes, timeout = m.MaxBytes, m.Timeout
	if maxBytes == 0 {
		maxBytes = DefaultScanMaxBytes
	}
	if timeout == 0 {
		timeout = DefaultScanTimeout
	}
	return maxBytes, timeout
}

func (w *Webhook) validate(at string) []error {
	var errs []error
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s.url: %q is not an http or https URL", at, w.URL))
	}
	if w.SecretEnv == "" {
		errs = append(errs, fmt.Errorf("%s.secret_env: required (the environment variable holding the signing secret)", at))
	}
	return errs
}

// StoreEvents is the endpoint for the store's event notifications.
type StoreEvents struct {
	// SecretEnv names the environment variable holding the shared secret
	// the store proves (MinIO's webhook auth_token, or the password in an
	// SNS subscription URL).
	SecretEnv string `yaml:"secret_env"`
}
