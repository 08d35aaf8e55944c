package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// FromArgs builds the configuration for a gatepost server from command-line
// arguments and the environment. Precedence, highest first: flags,
// GATEPOST_* environment variables (the flag name upper-cased with '-'
// turned into '_', for example GATEPOST_HTTP_ADDR), the YAML file named by
// -config (or GATEPOST_CONFIG), and the embedded default. The result is
// validated. Usage and flag errors are written to output.
//
// Mistakes in args or in a GATEPOST_* variable are *ArgsError; -h gives
// flag.ErrHelp after printing the usage.
func FromArgs(name string, args []string, getenv func(string) string, output io.Writer) (*Config, error) {
	fs, v := serverFlags(name)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nRun the gatepost server: gRPC and REST, on the embedded default configuration\nunless -config names a file.\n\nFlags (each also read from GATEPOST_<FLAG>, for example GATEPOST_HTTP_ADDR):\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &ArgsError{Err: err, Shown: true}
	}
	if fs.NArg() > 0 {
		return nil, &ArgsError{Err: fmt.Errorf("unexpected arguments %q (the server takes flags only; `gatepost help` lists the commands)", fs.Args())}
	}
	// The standard flag package has no environment fallback and the few
	// libraries that add one bring far more than these six settings need:
	// an unset flag simply takes its GATEPOST_* variable through fs.Set,
	// so the flag's own parsing (for example of booleans) applies.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "GATEPOST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !set[f.Name] && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", env, err)
			}
			set[f.Name] = true
		}
	})
	if envErr != nil {
		return nil, &ArgsError{Err: envErr}
	}

	var cfg *Config
	var err error
	if *v.path != "" {
		cfg, err = Load(*v.path)
	} else {
		cfg, err = Default()
	}
	if err != nil {
		return nil, err
	}
	if set["grpc-addr"] {
		cfg.GRPCAddr = *v.grpcAddr
	}
	if set["http-addr"] {
		cfg.HTTPAddr = *v.httpAddr
	}
	if set["s3-region"] {
		cfg.S3.Region = *v.region
	}
	if set["s3-endpoint"] {
		cfg.S3.Endpoint = *v.endpoint
	}
	if set["s3-path-style"] {
		cfg.S3.PathStyle = *v.pathStyle
	}
	if set["s3-store"] {
		cfg.S3.Store = Store(*v.store)
	}
	if set["redis-url"] {
		cfg.SharedState.RedisURL = *v.redisURL
	}
	if set["webhook-url"] {
		for name, p := range cfg.Profiles {
			if p.Webhook == nil {
				p.Webhook = &Webhook{URL: *v.webhookURL, SecretEnv: WebhookSecretEnv}
				cfg.Profiles[name] = p
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// ArgsError is a mistake in the server's command line or GATEPOST_*
// variables, as opposed to in the configuration they name.
type ArgsError struct {
	Err error
	// Shown is true when the flag package has already printed Err, with
	// the usage.
	Shown bool
}

func (e *ArgsError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ArgsError) Unwrap() error { return e.Err }

// serverFlagValues are where the server's flags are parsed to.
type serverFlagValues struct {
	path, grpcAddr, httpAddr, region, endpoint, store, redisURL, webhookURL *string
	pathStyle                                                               *bool
}

// WebhookSecretEnv holds the webhook secret of the profiles -webhook-url
// gives a webhook.
const WebhookSecretEnv = "GATEPOST_WEBHOOK_SECRET"

// serverFlags defines the server's flags on a new flag set.
func serverFlags(name string) (*flag.FlagSet, serverFlagValues) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return fs, serverFlagValues{
		path:      fs.String("config", "", "YAML configuration `file` (default: the embedded default)"),
		grpcAddr:  fs.String("grpc-addr", "", "gRPC listen `host:port`, overrides grpc_addr"),
		httpAddr:  fs.String("http-addr", "", "HTTP listen `host:port`, overrides http_addr"),
		region:    fs.String("s3-region", "", "S3 signing `region`, overrides s3.region"),
		endpoint:  fs.String("s3-endpoint", "", "S3 endpoint `URL`, overrides s3.endpoint"),
		pathStyle: fs.Bool("s3-path-style", false, "use path-style S3 URLs, overrides s3.path_style"),
		store:     fs.String("s3-store", "", "the `kind` of store: aws, minio, seaweedfs or other, overrides s3.store"),
		redisURL:  fs.String("redis-url", "", "Redis `URL` that replicas share limits through, overrides shared_state.redis_url (keep a password in GATEPOST_REDIS_URL)"),
		webhookURL: fs.String("webhook-url", "", "webhook `URL` for every profile without a webhook of its own, signed with the secret in "+
			WebhookSecretEnv),
	}
}

// PrintFlags writes the server's flags and their descriptions to w, as
// -h shows them.
func PrintFlags(w io.Writer) {
	fs, _ := serverFlags("gatepost")
	fs.SetOutput(w)
	fs.PrintDefaults()
}
