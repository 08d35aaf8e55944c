package server

import (
	"context"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/quota"
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
	traceCaller(ctx, id, profile)
	limit, own := s.limitFor(profile)
	if limit.Disabled {
		return nil
	}
	ok, wait, err := s.buckets.AllowN(ctx, bucketKey(id, profile, own), n, limit.RequestsPerSecond, limit.Burst)
	if err != nil {
		return limitStoreDown(ctx)
	}
	if ok {
		return nil
	}
	if n > limit.Burst {
		return invalid(field, "%d in one call is more than your rate limit allows at once (%d); ask for at most %d per call", n, limit.Burst, limit.Burst)
	}
	return s.rateLimited(ctx, id, profile, wait)
}

// traceCaller puts the caller and profile on the call's trace: every RPC
// passes here once it knows them.
func traceCaller(ctx context.Context, id *auth.Identity, profile string) {
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String("gatepost.subject", id.Subject), attribute.String("gatepost.profile", profile))
}

// rateLimited is the answer to a call over its rate limit, which allows
// one again after wait.
func (s *Service) rateLimited(ctx context.Context, id *auth.Identity, profile string, wait time.Duration) error {
	s.metrics.RateLimited(profile)
	seconds := int(math.Ceil(wait.Seconds()))
	_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(seconds)))
	return status.Errorf(codes.ResourceExhausted, "rate limit exceeded for subject %s; retry after %ds", echo(id.Subject), seconds)
}

// rateCharge is the rate charge of a call that issues one credential. The
// charge may wait to be made in one step with the credential's quota
// reservation (a quota.Charger: in Redis, one round trip instead of two),
// but the call is answered as if it were made as soon as the profile is
// known: a call that ends earlier, refused for anything else, is charged
// then (settle), and a call over its rate is refused as such, whatever
// else is wrong with it. Not safe for concurrent use: one per call.
type rateCharge struct {
	s       *Service
	id      *auth.Identity
	profile string
	// pending is the charge waiting for the reservation; nil when there
	// is none (made already, or never deferred).
	pending *quota.Rate
}

// newCharge returns the rate charge of a call by id.
func (s *Service) newCharge(id *auth.Identity) *rateCharge { return &rateCharge{s: s, id: id} }

// profileKnown charges the rate of profile now, or defers it to the
// reservation when both can be made in one step.
func (c *rateCharge) profileKnown(ctx context.Context, profile string) error {
	c.profile = profile
	if c.pending = c.s.oneStepRate(c.id, profile); c.pending == nil {
		return c.s.allow(ctx, c.id, profile)
	}
	traceCaller(ctx, c.id, profile)
	return nil
}

// oneStepRate returns the rate charge of a credential of profile when it
// can be made in one step with the quota reservation (the quota store is a
// quota.Charger, the profile has a quota and its rate limit is on), else
// nil.
func (s *Service) oneStepRate(id *auth.Identity, profile string) *quota.Rate {
	if _, ok := s.quotas.(quota.Charger); !ok {
		return nil
	}
	if _, ok := s.quotaOf(profile); !ok {
		return nil
	}
	limit, own := s.limitFor(profile)
	if limit.Disabled || limit.Burst < 1 {
		return nil
	}
	return &quota.Rate{Key: bucketKey(id, profile, own), Tokens: 1, PerSecond: limit.RequestsPerSecond, Burst: limit.Burst}
}

// settle makes a deferred charge that the call did not make, because it
// ended before its reservation with err (or panicked, err still nil): the
// answer is the charge's refusal, if it refuses, else err.
func (c *rateCharge) settle(ctx context.Context, err error) error {
	if c.pending == nil {
		return err
	}
	c.pending = nil
	if refused := c.s.allow(ctx, c.id, c.profile); refused != nil {
		return refused
	}
	return err
}

// reserve makes the reservation of a quota store, with the deferred
// charge in the same step if there is one.
func (c *rateCharge) reserve(ctx context.Context, store quota.Store, key, object string, n int64, l quota.Limit) (quota.Result, error) {
	rate := c.pending
	if rate == nil {
		return store.Reserve(ctx, key, object, n, l)
	}
	c.pending = nil
	return store.(quota.Charger).ReserveCharged(ctx, *rate, key, object, n, l)
}

// limitFor returns the rate limit that applies to a profile: its own
// (counted per subject and profile, own is true) or the global one.
func (s *Service) limitFor(profile string) (limit config.RateLimit, own bool) {
	if p := s.profiles[profile].RateLimit; p != nil {
		return *p, true
	}
	return s.globalRate, false
}

// bucketKey is the key of the caller's bucket for a limit: the subject,
// and the profile when the limit is the profile's own.
func bucketKey(id *auth.Identity, profile string, own bool) string {
	if own {
		return id.Subject + "\x00" + profile
	}
	return id.Subject
}

// limitStoreDown answers a call whose limit could not be checked because
// the shared limit store is unreachable (shared_state.on_unavailable:
// deny): Unavailable, never an upload without its limit. The cause is
// logged once by the store; the caller is told what it can do.
func limitStoreDown(ctx context.Context) error {
	_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", "1"))
	return status.Error(codes.Unavailable, "limits: the shared limit store is unreachable, so nothing can be allowed now; try again shortly")
}
