package server

import (
	"context"
	"math"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/ratelimit"
)

// FailureThrottle makes failures cost their sender: failed
// authentications per client address and invalid requests per subject
// each drain a token bucket, and while a bucket is empty its owner's
// failing calls are refused (ResourceExhausted, with retry-after) with no
// log line: an address's tokens are still verified (a valid one from a
// shared address must keep working), a subject's requests are refused
// before validation. Without it a caller could send bad
// tokens or bad requests as fast as the network allows, each one
// verified, validated and logged.
type FailureThrottle struct {
	buckets ratelimit.Buckets
	limits  config.FailureLimits
	clients *ClientAddresses
	now     func() time.Time
	// authLines bounds the "authentication failed" lines of all addresses
	// together: each address has its budget, but addresses are many.
	authLines *rate.Limiter
}

// NewFailureThrottle returns a throttle with the given limits (unset ones
// take their defaults); clients names the address a failed
// authentication is charged to; buckets keep the budgets (this process's
// memory when nil).
func NewFailureThrottle(limits config.FailureLimits, clients *ClientAddresses, buckets ratelimit.Buckets) *FailureThrottle {
	f := &FailureThrottle{
		buckets: buckets, limits: limits.WithDefaults(), clients: clients, now: time.Now,
		authLines: rate.NewLimiter(refusedLinesPerSecond, refusedLinesBurst),
	}
	if f.buckets == nil {
		f.buckets = ratelimit.NewMemory(func() time.Time { return f.now() })
	}
	return f
}

// callerFault reports whether a call failed because of its request (as
// opposed to the caller's rate, an outage or a bug).
func callerFault(c codes.Code) bool {
	switch c {
	case codes.InvalidArgument, codes.PermissionDenied, codes.NotFound, codes.FailedPrecondition,
		codes.AlreadyExists, codes.OutOfRange:
		return true
	}
	return false
}

// refuse answers a throttled call: ResourceExhausted with a retry-after
// header in whole seconds.
func refuse(ctx context.Context, wait time.Duration, format string, args ...any) error {
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(seconds)))
	args = append(args, seconds)
	return status.Errorf(codes.ResourceExhausted, format+"; retry after %ds", args...)
}

// authBlocked returns the error for a client address whose failed
// authentications used up its budget, or nil.
func (f *FailureThrottle) authBlocked(ctx context.Context, addr string) error {
	if f == nil || f.limits.AuthPerAddress.Disabled {
		return nil
	}
	l := f.limits.AuthPerAddress
	// A limit store that cannot say does not block: the call is failing
	// its authentication anyway, and says so.
	if wait, err := f.buckets.Wait(ctx, "auth\x00"+addr, l.RequestsPerSecond, l.Burst); err == nil && wait > 0 {
		return refuse(ctx, wait, "too many failed authentications from your address")
	}
	return nil
}

// authFailed charges a failed authentication to the client's address. It
// reports whether the failure is worth a log line: within the address's
// budget and the budget of all addresses' lines.
func (f *FailureThrottle) authFailed(ctx context.Context, addr string) bool {
	if f == nil || f.limits.AuthPerAddress.Disabled {
		return true
	}
	l := f.limits.AuthPerAddress
	ok, _, err := f.buckets.AllowN(ctx, "auth\x00"+addr, 1, l.RequestsPerSecond, l.Burst)
	return (ok || err != nil) && f.authLines.AllowN(f.now(), 1)
}

// Interceptor refuses a subject whose invalid requests used up its
// budget, and charges every call that fails because of its request. It
// must run after authentication.
func (f *FailureThrottle) Interceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id, ok := IdentityFrom(ctx)
		if !ok || f.limits.InvalidPerSubject.Disabled {
			return handler(ctx, req)
		}
		l := f.limits.InvalidPerSubject
		key := "invalid\x00" + id.Subject
		wait, err := f.buckets.Wait(ctx, key, l.RequestsPerSecond, l.Burst)
		if err != nil {
			return nil, limitStoreDown(ctx)
		}
		if wait > 0 {
			return nil, refuse(ctx, wait, "too many invalid requests from subject %s", echo(id.Subject))
		}
		resp, err := handler(ctx, req)
		if err != nil && callerFault(status.Code(err)) {
			_, _, _ = f.buckets.AllowN(ctx, key, 1, l.RequestsPerSecond, l.Burst)
		}
		return resp, err
	}
}

// clientAddress names the client an address-based limit applies to, or ""
// without a throttle: its IP address, or for IPv6 its /64, since one
// client is usually given a whole /64 and could otherwise take a fresh
// budget with every address in it.
func (f *FailureThrottle) clientAddress(ctx context.Context) string {
	if f == nil {
		return ""
	}
	client := f.clients.Of(ctx)
	if addr, err := netip.ParseAddr(client); err == nil && addr.Is6() && !addr.Is4In6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return client
}
