package server

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/ratelimit"

	"github.com/gatepost/gatepost/internal/uploadtoken"
)

// Service implements gatepostv1.UploadServiceServer.
type Service struct {
	gatepostv1.UnimplementedUploadServiceServer

	profiles   map[string]config.Profile
	store      objectstore.Store
	logger     *slog.Logger
	globalRate config.RateLimit
	limiter    *ratelimit.Limiter
	now        func() time.Time
	tokens     *uploadtoken.Sealer
	metrics    *metrics.Metrics
	clients    *ClientAddresses
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
		limiter:    ratelimit.New(),
		now:        time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if s.tokens == nil {
		s.tokens = uploadtoken.NewRandom(config.DefaultUploadTokenExpires)
	}
	return s
}

// CreatePresignedPost validates the request against its profile and the
// caller's rights and returns a presigned POST upload. Invalid requests get
// InvalidArgument naming the field, a profile the caller may not use gets
// PermissionDenied, a caller over its rate gets ResourceExhausted with a
// retry-after header; nothing is signed for any of them. A signing failure
// (for example no credentials) is Unavailable.
func (s *Service) CreatePresignedPost(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest) (*gatepostv1.CreatePresignedPostResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	post, profile, err := s.decide(ctx, req, id)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	signed, err := s.store.SignPost(ctx, post)
	s.metrics.Signed("post", time.Since(started))
	if err != nil {
		return nil, s.storeFailed(ctx, "signing the upload policy", err, "bucket", post.Bucket, "key", post.Key)
	}
	s.auditLine(ctx, "policy issued", id, profile, post.Bucket, post.Key, post.MaxBytes, signed.ExpiresAt)
	s.metrics.Issued(profile, "post")
	return &gatepostv1.CreatePresignedPostResponse{
		Url:              signed.URL,
		Fields:           signed.Fields,
		Key:              post.Key,
		Bucket:           post.Bucket,
		ExpiresAt:        timestamppb.New(signed.ExpiresAt),
		MaxContentLength: post.MaxBytes,
	}, nil
}

// allow applies the profile's rate limit, or the global one, to the
// caller. A profile's own limit is counted per subject and profile.
func (s *Service) allow(ctx context.Context, id *auth.Identity, profile string) error {
	return s.allowN(ctx, id, profile, 1, "")
}

// allowN is allow for a call that issues n credentials (one token each).
// field names the request field that asked for n, for the message when n
// is more than the limit's burst, which no wait could ever allow.
func (s *Service) allowN(ctx context.Context, id *auth.Identity, profile string, n int, field string) error {
	// Every RPC passes here once it knows caller and profile: the place to
	// put them on the trace.
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String("gatepost.subject", id.Subject), attribute.String("gatepost.profile", profile))
	limit, own := s.limitFor(profile)
	key := id.Subject
	if own {
		key = id.Subject + "\x00" + profile
	}
	if limit.Disabled {
		return nil
	}
	ok, wait := s.limiter.AllowN(key, n, limit.RequestsPerSecond, limit.Burst, s.now())
	if ok {
		return nil
	}
	if n > limit.Burst {
		return invalid(field, "%d in one call is more than your rate limit allows at once (%d); ask for at most %d per call", n, limit.Burst, limit.Burst)
	}
	s.metrics.RateLimited(profile)
	seconds := int(math.Ceil(wait.Seconds()))
	_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(seconds)))
	return status.Errorf(codes.ResourceExhausted, "rate limit exceeded for subject %s; retry after %ds", echo(id.Subject), seconds)
}

// limitFor returns the rate limit that applies to a profile: its own
// (counted per subject and profile, own is true) or the global one.
func (s *Service) limitFor(profile string) (limit config.RateLimit, own bool) {
	if p := s.profiles[profile].RateLimit; p != nil {
		return *p, true
	}
	return s.globalRate, false
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
