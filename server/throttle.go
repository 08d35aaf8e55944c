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
// log line, while its valid ones keep working (a valid token from a
// shared address, a valid request from a subject that also sends bad
// ones). Without it a caller could send bad
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

// authFailed charges a failed authentication to the client's address, in
// one step. Over the address's budget it returns the refusal to answer
// instead (ResourceExhausted with retry-after); within it, whether the
// failure is worth a log line: within the budget of all addresses' lines
// too.
func (f *FailureThrottle) authFailed(ctx context.Context, addr string) (logIt bool, refusal error) {
	if f == nil || f.limits.AuthPerAddress.Disabled {
		return true, nil
	}
	if over, wait := f.charge(ctx, "auth\x00"+addr, f.limits.AuthPerAddress); over {
		return false, refuse(ctx, wait, "too many failed authentications from your address")
	}
	return f.authLines.AllowN(f.now(), 1), nil
}

// Interceptor charges every call that fails because of its request to
// its subject's budget, and answers a failing call whose budget is used up
// with ResourceExhausted (and retry-after) instead of its own error. A
// subject's valid calls are never refused here (its rate limit bounds
// them), so a call that succeeds costs no look-up at all; the charge is
// one atomic step, so concurrent failures cannot overdraw the budget. It
// must run after authentication.
func (f *FailureThrottle) Interceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil || !callerFault(status.Code(err)) {
			return resp, err
		}
		id, ok := IdentityFrom(ctx)
		if !ok || f.limits.InvalidPerSubject.Disabled {
			return resp, err
		}
		if over, wait := f.charge(ctx, "invalid\x00"+id.Subject, f.limits.InvalidPerSubject); over {
			return nil, refuse(ctx, wait, "too many invalid requests from subject %s", echo(id.Subject))
		}
		return resp, err
	}
}

// chargeTimeout bounds charging a failure to its bucket.
const chargeTimeout = time.Second

// charge takes one token for a failure from the bucket of key, and
// reports whether the bucket was already empty (over its budget) and how
// long until a token is back. It charges in a bounded context of its own,
// not the call's, whose deadline the caller chooses (one that ran out
// would skip the charge). A limit store that cannot say is not over: the
// call is failing anyway, and says why.
func (f *FailureThrottle) charge(ctx context.Context, key string, l config.RateLimit) (over bool, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chargeTimeout)
	defer cancel()
	ok, wait, err := f.buckets.AllowN(ctx, key, 1, l.RequestsPerSecond, l.Burst)
	return err == nil && !ok, wait
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
