package server

import (
	"context"
	"math"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

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
	ok, wait, err := s.buckets.AllowN(ctx, key, n, limit.RequestsPerSecond, limit.Burst)
	if err != nil {
		return limitStoreDown(ctx)
	}
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

// limitStoreDown answers a call whose limit could not be checked because
// the shared limit store is unreachable (shared_state.on_unavailable:
// deny): Unavailable, never an upload without its limit. The cause is
// logged once by the store; the caller is told what it can do.
func limitStoreDown(ctx context.Context) error {
	_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", "1"))
	return status.Error(codes.Unavailable, "limits: the shared limit store is unreachable, so nothing can be allowed now; try again shortly")
}
