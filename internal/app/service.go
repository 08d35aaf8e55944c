package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/sharedstate"
	"github.com/gatepost/gatepost/internal/uploadtoken"
	"github.com/gatepost/gatepost/server"
)

// newService builds the UploadService and the failure throttle its
// callers pass through, from the profiles, limits, upload token sealer and
// trusted proxies; limits live in shared (Redis or this process).
func newService(cfg *config.Config, store objectstore.Store, shared *sharedstate.State, tokens *uploadtoken.Sealer, verifier *finalize.Verifier, m *metrics.Metrics, logger *slog.Logger) (*server.Service, *server.FailureThrottle, error) {
	trusted, err := config.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	clients := server.NewClientAddresses(trusted)
	limits := shared.Limits(time.Now)
	svc := server.NewService(cfg.Profiles, store, logger,
		server.WithRateLimit(cfg.RateLimit), server.WithUploadTokens(tokens), server.WithMetrics(m),
		server.WithClientAddresses(clients), server.WithBuckets(limits.Buckets), server.WithQuotas(limits.Quotas, cfg.Quota),
		server.WithVerifier(verifier))
	return svc, server.NewFailureThrottle(cfg.FailureLimits, clients, limits.Buckets), nil
}

// sharedSecretWait bounds how long start-up waits for Redis to hand out
// the shared upload token secret.
const sharedSecretWait = 5 * time.Second

// uploadTokens returns the sealer of multipart upload tokens: with the
// secret from the configured environment variable; else, with Redis, one
// secret shared by every replica through it; else a random one (and a
// warning).
func uploadTokens(ctx context.Context, cfg config.Multipart, shared *sharedstate.State, localOnly bool, getenv func(string) string, logger *slog.Logger) (*uploadtoken.Sealer, error) {
	expires := cfg.TokenExpires
	if expires == 0 {
		expires = config.DefaultUploadTokenExpires
	}
	if cfg.TokenSecretEnv == "" && shared.Shared() {
		secret, err := sharedSecret(ctx, shared)
		switch {
		case err == nil:
			return uploadtoken.New(secret, expires)
		case shared.Deny():
			return nil, fmt.Errorf("shared_state: the upload token secret could not be read from Redis within %s (%w); set multipart.token_secret_env, or start Redis first", sharedSecretWait, err)
		default:
			logger.Warn("the upload token secret could not be read from Redis: this replica uses a random one, so its multipart uploads must be finished here (shared_state.on_unavailable: allow)", "error", err)
			return uploadtoken.NewRandom(expires), nil
		}
	}
	if cfg.TokenSecretEnv == "" {
		msg := "multipart.token_secret_env is not set: upload tokens use a random per-process secret, so a multipart upload must be finished on the replica that started it"
		if localOnly {
			logger.Info(msg) // one process on loopback (make run): nothing to share with
		} else {
			logger.Warn(msg)
		}
		return uploadtoken.NewRandom(expires), nil
	}
	s, err := uploadtoken.New([]byte(getenv(cfg.TokenSecretEnv)), expires)
	if err != nil {
		return nil, fmt.Errorf("multipart.token_secret_env: $%s: %w", cfg.TokenSecretEnv, err)
	}
	return s, nil
}

// sharedSecret asks Redis for the shared upload token secret until it
// answers or sharedSecretWait passes.
func sharedSecret(ctx context.Context, shared *sharedstate.State) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, sharedSecretWait)
	defer cancel()
	for {
		secret, err := shared.UploadTokenSecret(ctx)
		if err == nil {
			return secret, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
