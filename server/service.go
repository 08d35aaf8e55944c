package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/ratelimit"
	"github.com/gatepost/gatepost/internal/uploadtoken"
)

// Service implements gatepostv1.UploadServiceServer.
type Service struct {
	gatepostv1.UnimplementedUploadServiceServer

	profiles     map[string]config.Profile
	store        objectstore.Store
	logger       *slog.Logger
	globalRate   config.RateLimit
	buckets      ratelimit.Buckets
	quotas       quota.Store
	defaultQuota *config.Quota
	now          func() time.Time
	tokens       *uploadtoken.Sealer
	metrics      *metrics.Metrics
	clients      *ClientAddresses
	verifier     *finalize.Verifier
}

// WithMetrics records issued credentials, rate-limit hits and signing
// latency in m.
func WithMetrics(m *metrics.Metrics) ServiceOption {
	return func(s *Service) { s.metrics = m }
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithRateLimit sets the per-subject rate limit for profiles that have no
// limit of their own. Without it only profile limits apply.
func WithRateLimit(r config.RateLimit) ServiceOption {
	return func(s *Service) { s.globalRate = r }
}

// WithBuckets keeps rate limits in b (shared by replicas, say) instead of
// this process's memory.
func WithBuckets(b ratelimit.Buckets) ServiceOption {
	return func(s *Service) { s.buckets = b }
}

// WithClientAddresses sets how audit lines name the client (by default
// the nearest hop, believing no proxy).
func WithClientAddresses(c *ClientAddresses) ServiceOption {
	return func(s *Service) { s.clients = c }
}

// WithClock replaces time.Now for rate limits and upload token lifetimes
// (tests).
func WithClock(now func() time.Time) ServiceOption {
	return func(s *Service) { s.now = now }
}

// NewService returns a Service that signs uploads to store according to
// profiles. The profiles must have been validated. Callers must be
// authenticated by the interceptor from AuthInterceptor (or carry an
// identity from ContextWithIdentity).
func NewService(profiles map[string]config.Profile, store objectstore.Store, logger *slog.Logger, opts ...ServiceOption) *Service {
	s := &Service{
		profiles:   profiles,
		store:      store,
		logger:     logger,
		globalRate: config.RateLimit{Disabled: true},
		now:        time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if s.buckets == nil {
		s.buckets = ratelimit.NewMemory(func() time.Time { return s.now() })
	}
	if s.quotas == nil {
		s.quotas = quota.NewMemory(func() time.Time { return s.now() })
	}
	if s.tokens == nil {
		s.tokens = uploadtoken.NewRandom(config.DefaultUploadTokenExpires)
	}
	if fs, ok := store.(finalize.Store); ok && s.verifier == nil {
		s.verifier = finalize.New(fs, profiles, finalize.Options{Logger: logger, Now: s.now})
	}
	return s
}

// auditLine writes one audit line for an upload step: who, what, where,
// until when; never the token, the signature or the policy. It uses typed
// attributes (LogAttrs): it runs once per issued credential, and boxing
// each value cost a sixth of a gRPC call.
func (s *Service) auditLine(ctx context.Context, msg string, id *auth.Identity, profile, bucket, key string, maxBytes int64, expiresAt time.Time) {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("subject", id.Subject), slog.String("profile", profile), slog.String("bucket", bucket),
		slog.String("key", key), slog.Int64("max_bytes", maxBytes), slog.String("request_id", RequestIDFrom(ctx)))
	if !expiresAt.IsZero() {
		attrs = append(attrs, slog.Time("expires_at", expiresAt))
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	// The client as the throttle sees it: one address, never the caller's
	// own X-Forwarded-For text.
	attrs = append(attrs, slog.String("client", s.clients.Of(ctx)))
	s.logger.LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
}

// caller returns the authenticated identity, or the error to answer with.
func (s *Service) caller(ctx context.Context) (*auth.Identity, error) {
	id, ok := IdentityFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, auth.ErrNoToken.Error())
	}
	return id, nil
}

// storeFailed turns a store error into the caller's answer: the caller's
// own cancellation as such, anything else Unavailable (and logged), saying
// when gatepost has no signing credentials, which retrying will not fix
// until an operator provides them.
// attrs say what the failed step was about (bucket, key) in the log line.
func (s *Service) storeFailed(ctx context.Context, what string, err error, attrs ...any) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	s.logger.ErrorContext(ctx, what+" failed", append(attrs, "error", err, "request_id", RequestIDFrom(ctx))...)
	switch {
	case errors.Is(err, objectstore.ErrNoCredentials):
		return status.Errorf(codes.Unavailable, "%s failed: gatepost has no signing credentials for the object store (its operator must provide them; /readyz says so too)", what)
	case errors.Is(err, objectstore.ErrCredentialsExpired):
		return status.Errorf(codes.Unavailable, "%s failed: gatepost's signing credentials have expired (its operator must renew them); try again later", what)
	}
	return status.Errorf(codes.Unavailable, "%s failed at the object store; try again later", what)
}
