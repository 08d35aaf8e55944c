package config

import (
	_ "embed"
	"errors"
	"fmt"
)

// TLS configures TLS on both listeners.
type TLS struct {
	// CertFile and KeyFile are the server's PEM certificate (chain) and key;
	// both or neither. They are reloaded when the files change.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, lets gRPC callers present client
	// certificates signed by these CAs (mTLS).
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is "request" (a certificate is verified when given; the
	// default) or "require" (callers without one are refused).
	ClientAuth string `yaml:"client_auth"`
}

// Enabled reports whether TLS is configured.
func (t *TLS) Enabled() bool { return t.CertFile != "" }

func (t *TLS) validate(auth *Auth) []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("tls: set both cert_file and key_file, or neither"))
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		errs = append(errs, errors.New("tls.client_ca_file: needs cert_file and key_file"))
	}
	switch t.ClientAuth {
	case "", "request", "require":
	default:
		errs = append(errs, fmt.Errorf("tls.client_auth: %q is not one of request, require", t.ClientAuth))
	}
	if auth.MTLS.Enabled && t.ClientCAFile == "" {
		errs = append(errs, errors.New("auth.mtls.enabled: needs tls.client_ca_file"))
	}
	return errs
}
