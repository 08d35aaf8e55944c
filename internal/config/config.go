package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Limits that S3 and SigV4 impose on every profile.
const (
	// MaxPostBytes is the largest object a single S3 POST or PUT upload may
	// carry.
	MaxPostBytes = 5 << 30
	// MaxObjectBytes is the largest object S3 stores (by multipart upload).
	MaxObjectBytes = 5 << 40
	// MaxExpires is the longest lifetime SigV4 allows for a presigned request.
	MaxExpires = 7 * 24 * time.Hour
	// MinExpires is the shortest policy lifetime gatepost signs.
	MinExpires = time.Second
	// DefaultExpires is the policy lifetime when a profile sets none.
	DefaultExpires = 15 * time.Minute
	// DefaultProfile is the profile used when a request names none.
	DefaultProfile = "default"
	// DefaultUploadTokenExpires is how long a multipart upload token lasts.
	DefaultUploadTokenExpires = 24 * time.Hour
	// MaxMetadataBytes is S3's limit on the total size of user metadata
	// (names and values) of one object.
	MaxMetadataBytes = 2048
)

// Uppy configures the Uppy Companion-compatible routes.
type Uppy struct {
	// Profile is the profile the routes sign for.
	Profile string `yaml:"profile"`
	// SessionExpires is how long a browser session (POST /v1/session, for
	// Uppy 6, which sends no Authorization header) lasts: 1m to 24h,
	// default 1h. The credential it carries is checked on every request.
	SessionExpires time.Duration `yaml:"session_expires"`
}

// DefaultSessionExpires is the default lifetime of a browser session.
const DefaultSessionExpires = time.Hour

// SessionLifetime is how long a browser session lasts.
func (u *Uppy) SessionLifetime() time.Duration {
	if u.SessionExpires == 0 {
		return DefaultSessionExpires
	}
	return u.SessionExpires
}

// Config is gatepost's whole configuration.
type Config struct {
	// File is the file the configuration was loaded from ("" for the
	// embedded default); not a setting.
	File string `yaml:"-"`
	// GRPCAddr is the host:port the gRPC server listens on.
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is the host:port the REST gateway listens on.
	HTTPAddr string `yaml:"http_addr"`
	// S3 says how to reach and sign for the object store.
	S3 S3 `yaml:"s3"`
	// Profiles are the upload profiles callers may choose from, by name.
	Profiles map[string]Profile `yaml:"profiles"`
	// Auth says who may ask for upload policies.
	Auth Auth `yaml:"auth"`
	// RateLimit is the default per-subject rate limit; a profile may set
	// its own.
	RateLimit RateLimit `yaml:"rate_limit"`
	// FailureLimits throttle callers whose requests fail.
	FailureLimits FailureLimits `yaml:"failure_limits"`
	// TrustedProxies are the addresses (CIDR ranges) of proxies and load
	// balancers in front of gatepost whose X-Forwarded-For is believed when
	// telling which client an address-based limit applies to.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// CORS configures browser access to the REST API.
	CORS CORS `yaml:"cors"`
	// Multipart configures multipart uploads.
	Multipart Multipart `yaml:"multipart"`
	// Quota is the byte quota of profiles without their own (none when nil).
	Quota *Quota `yaml:"quota"`
	// SharedState is where replicas share limits (Redis), if anywhere.
	SharedState SharedState `yaml:"shared_state"`
	// Uppy, when set, serves the Uppy Companion routes @uppy/aws-s3 calls
	// (for now GET /s3/params, small files) for one profile.
	Uppy *Uppy `yaml:"uppy"`
	// StoreEvents, when set, accepts the store's event notifications at
	// POST /store-events, so that uploads whose client never finalizes
	// are verified too.
	StoreEvents *StoreEvents `yaml:"store_events"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// TLS configures TLS on both listeners and mTLS on gRPC.
	TLS TLS `yaml:"tls"`
}

// Metrics configures the Prometheus endpoint /metrics.
type Metrics struct {
	// Addr, when set, serves /metrics on its own listener (an admin port)
	// instead of on http_addr.
	Addr string `yaml:"addr"`
	// Disabled turns metrics off.
	Disabled bool `yaml:"disabled"`
	// Pprof also serves Go's /debug/pprof/ profiles on the metrics
	// listener (needs addr; never on the API port).
	Pprof bool `yaml:"pprof"`
	// OnAPIPort serves /metrics on http_addr even when auth.mode is
	// api_key or jwt; without it, and without addr, metrics are then not
	// served at all (with mode none they stay on http_addr).
	OnAPIPort bool `yaml:"on_api_port"`
}

// S3 configures the connection to S3 or an S3-compatible store.
type S3 struct {
	// Region is the signing region, for example "us-east-1".
	Region string `yaml:"region"`
	// Endpoint overrides the S3 endpoint URL, for S3-compatible stores.
	Endpoint string `yaml:"endpoint"`
	// PathStyle puts the bucket in the URL path instead of the host name.
	PathStyle bool `yaml:"path_style"`
	// Store is the kind of store: aws (default), minio, seaweedfs or
	// other. Rules that depend on how a store treats unsigned input follow
	// it (see validateStore).
	Store Store `yaml:"store"`
	// AcceptSeaweedFSPostHeaders lets profiles offer post on SeaweedFS,
	// whose POST uploads apply request headers no policy covers.
	AcceptSeaweedFSPostHeaders bool `yaml:"accept_seaweedfs_post_headers"`
}

// Default returns the embedded default configuration.
func Default() (*Config, error) {
	cfg, err := Parse(bytes.NewReader(defaultYAML))
	if err != nil {
		return nil, fmt.Errorf("embedded default configuration: %w", err)
	}
	return cfg, nil
}

// DefaultYAML returns the text of the embedded default configuration.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Load reads and parses the YAML file at path. It does not validate.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.File = path
	return cfg, nil
}

// Parse decodes YAML from r, refusing unknown settings, and fills in the
// defaults of unset profile settings. It does not validate.
func Parse(r io.Reader) (*Config, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty configuration")
		}
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse YAML: more than one document; put everything in one")
	}
	for name, p := range cfg.Profiles {
		if p.KeyMode == "" {
			p.KeyMode = KeyModeClient
		}
		if p.Expires == 0 {
			p.Expires = DefaultExpires
		}
		if p.RateLimit != nil {
			p.RateLimit.applyDefaults()
		}
		p.Quota.applyDefaults()

		cfg.Profiles[name] = p
	}
	cfg.Auth.applyDefaults()

	cfg.RateLimit.applyDefaults()
	cfg.FailureLimits.applyDefaults()
	cfg.Quota.applyDefaults()
	return &cfg, nil
}

var (
	profileNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	bucketNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	ipAddressRE    = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
	metadataKeyRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)
	mediaRangeRE   = regexp.MustCompile(`^(\*/\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/(\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126}))$`)
	errNoProfiles  = errors.New("profiles: at least one profile is required")
	errNoRegion    = errors.New("s3.region: required")
	errSameAddress = errors.New("grpc_addr and http_addr must differ")
)

// Validate checks the whole configuration and returns every problem found,
// each naming its setting (for example "profiles.default.max_bytes: ...").
func (c *Config) Validate() error {
	var errs []error
	if c.GRPCAddr == "" {
		errs = append(errs, errors.New("grpc_addr: required"))
	}
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http_addr: required"))
	}
	if c.GRPCAddr != "" && c.GRPCAddr == c.HTTPAddr && !strings.HasSuffix(c.GRPCAddr, ":0") {
		errs = append(errs, errSameAddress)
	}
	if c.S3.Region == "" {
		errs = append(errs, errNoRegion)
	}
	if c.S3.Endpoint != "" {
		u, err := url.Parse(c.S3.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("s3.endpoint: %q is not an http(s) URL", c.S3.Endpoint))
		}
	}
	if len(c.Profiles) == 0 {
		errs = append(errs, errNoProfiles)
	}
	names := sortedNames(c.Profiles)
	for _, name := range names {
		p := c.Profiles[name]
		errs = append(errs, p.validate("profiles."+name, name)...)
		if p.RateLimit != nil {
			errs = append(errs, p.RateLimit.validate("profiles."+name+".rate_limit")...)
		}
		errs = append(errs, p.Quota.validate("profiles."+name+".quota")...)
		errs = append(errs, p.Verify.validate("profiles."+name+".verify")...)
	}
	errs = append(errs, overlappingProfiles(c.Profiles, names)...)
	errs = append(errs, c.validateStore()...)
	errs = append(errs, c.Auth.validate(c.Profiles, listenAddr{"grpc_addr", c.GRPCAddr}, listenAddr{"http_addr", c.HTTPAddr})...)
	errs = append(errs, c.RateLimit.validate("rate_limit")...)
	errs = append(errs, c.FailureLimits.AuthPerAddress.validate("failure_limits.auth_per_address")...)
	errs = append(errs, c.FailureLimits.InvalidPerSubject.validate("failure_limits.invalid_per_subject")...)
	if _, err := ParsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted_proxies: %w", err))
	}
	errs = append(errs, c.CORS.validate()...)
	errs = append(errs, c.SharedState.validate()...)
	if c.Uppy != nil {
		if _, ok := c.Profiles[c.Uppy.Profile]; !ok {
			errs = append(errs, fmt.Errorf("uppy.profile: %q is not a profile", c.Uppy.Profile))
		}
		if d := c.Uppy.SessionExpires; d != 0 && (d < time.Minute || d > 24*time.Hour) {
			errs = append(errs, fmt.Errorf("uppy.session_expires: %s is outside 1m to 24h", d))
		}
	}
	if c.StoreEvents != nil && c.StoreEvents.SecretEnv == "" {
		errs = append(errs, errors.New("store_events.secret_env: required (the environment variable holding the secret the store sends)"))
	}
	errs = append(errs, c.Quota.validate("quota")...)
	errs = append(errs, c.TLS.validate(&c.Auth)...)
	if c.Metrics.Pprof && c.Metrics.Addr == "" {
		errs = append(errs, errors.New("metrics.pprof: needs metrics.addr (profiles are never served on the API port)"))
	}
	if e := c.Multipart.TokenExpires; e != 0 && (e < time.Minute || e > MaxExpires) {
		errs = append(errs, fmt.Errorf("multipart.token_expires: %s is outside 1m..168h", c.Multipart.TokenExpires))
	}
	return errors.Join(errs...)
}
