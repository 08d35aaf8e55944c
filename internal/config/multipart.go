package config

import (
	_ "embed"
	"time"
)

// Multipart configures multipart uploads.
type Multipart struct {
	// TokenSecretEnv names the environment variable holding the secret
	// (at least 32 bytes) that signs upload tokens. All replicas need the
	// same one; without it each process makes a random secret, and an
	// upload must then be finished on the replica that started it.
	TokenSecretEnv string `yaml:"token_secret_env"`
	// TokenExpires is how long an upload token is accepted (0: 24h).
	TokenExpires time.Duration `yaml:"token_expires"`
}
