// Package config defines gatepost's configuration: listen addresses, the S3
// connection and the upload profiles. It loads YAML (with an embedded default
// so that gatepost runs with no arguments), applies flag and GATEPOST_*
// environment overrides, and validates everything at start-up with errors
// that name the offending setting.
package config
