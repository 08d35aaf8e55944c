// Package config defines gatepost's configuration: listen addresses, the S3
// connection and the upload profiles. It loads YAML (with an embedded default
// so that gatepost runs with no arguments), applies flag and GATEPOST_*
// environment overrides, and validates everything at start-up with errors
// that name the offending setting.
//
// One file per part of the configuration, each with its settings, their
// defaults and their validation: config.go (the whole, loading, the
// listeners, S3, metrics), profile.go and safety.go (upload profiles and
// the rules that keep their credentials narrow), keyspace.go (profiles
// whose key spaces meet), auth.go (authentication modes, API keys, JWT,
// mTLS), tls.go, cors.go, ratelimit.go, failures.go (failure throttling),
// multipart.go, flags.go (command-line and environment overrides) and
// reload.go (what a reload may change).
package config
