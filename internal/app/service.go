package app

import (
	"fmt"
	"log/slog"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadtoken"
	"github.com/gatepost/gatepost/server"
)

// newService builds the UploadService and the failure throttle its
// callers pass through, from the profiles, limits, upload token secret and
// trusted proxies.
func newService(cfg *config.Config, store objectstore.Store, m *metrics.Metrics, getenv func(string) string, logger *slog.Logger) (*server.Service, *server.FailureThrottle, error) {
	tokens, err := uploadTokens(cfg.Multipart, getenv, logger)
	if err != nil {
		return nil, nil, err
	}
	trusted, err := config.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	clients := server.NewClientAddresses(trusted)
	svc := server.NewService(cfg.Profiles, store, logger,
		server.WithRateLimit(cfg.RateLimit), server.WithUploadTokens(tokens), server.WithMetrics(m),
		server.WithClientAddresses(clients))
	return svc, server.NewFailureThrottle(cfg.FailureLimits, clients), nil
}

// uploadTokens returns the sealer of multipart upload tokens: with the
// shared secret from the configured environment variable, or a random one
// (and a warning) when none is configured.
func uploadTokens(cfg config.Multipart, getenv func(string) string, logger *slog.Logger) (*uploadtoken.Sealer, error) {
	expires := cfg.TokenExpires
	if expires == 0 {
		expires = config.DefaultUploadTokenExpires
	}
	if cfg.TokenSecretEnv == "" {
		logger.Warn("multipart.token_secret_env is not set: upload tokens use a random per-process secret, so a multipart upload must be finished on the replica that started it")
		return uploadtoken.NewRandom(expires), nil
	}
	s, err := uploadtoken.New([]byte(getenv(cfg.TokenSecretEnv)), expires)
	if err != nil {
		return nil, fmt.Errorf("multipart.token_secret_env: $%s: %w", cfg.TokenSecretEnv, err)
	}
	return s, nil
}
