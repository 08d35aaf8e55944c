package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// CORS configures cross-origin access to the REST API from browsers.
type CORS struct {
	// AllowedOrigins are the origins (scheme://host[:port]) whose pages may
	// call the REST API; "*" allows any (not with AllowCredentials).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowCredentials lets browsers send cookies; bearer tokens do not
	// need it.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long browsers may cache a preflight answer.
	MaxAge time.Duration `yaml:"max_age"`
}

func (c *CORS) validate() []error {
	var errs []error
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			if c.AllowCredentials {
				errs = append(errs, errors.New(`cors.allowed_origins: "*" cannot be combined with allow_credentials`))
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("cors.allowed_origins: %q is not an origin (scheme://host[:port])", o))
		}
	}
	if c.MaxAge < 0 {
		errs = append(errs, errors.New("cors.max_age: must not be negative"))
	}
	return errs
}
