package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/ratelimit"
)

// testThrottle allows bursts of three failures that refill once an hour,
// on a clock the test holds still.
func testThrottle(trusted ...string) *FailureThrottle {
	prefixes, err := config.ParsePrefixes(trusted)
	if err != nil {
		panic(err)
	}
	slow := config.RateLimit{RequestsPerSecond: 1.0 / 3600, Burst: 3}
	f := NewFailureThrottle(config.FailureLimits{AuthPerAddress: slow, InvalidPerSubject: slow}, NewClientAddresses(prefixes), nil)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.now = func() time.Time { return now }
	return f
}

// from returns a context as a gRPC call from ip would have, with an
// optional bearer token.
func from(ip, token string) context.Context {
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}})
	if token != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
	}
	return ctx
}

// TestAuthFailuresAreThrottled: after its budget of failed
// authentications an address's bad tokens are refused as throttled, while
// a valid token from the same address still works (addresses are shared);
// only the failures within the budget are logged.
func TestAuthFailuresAreThrottled(t *testing.T) {
	t.Parallel()
	keys := oneAPIKey(t, "good")
	var logs syncBuffer
	ic := AuthInterceptor(keys, jsonLogger(&logs), nil, testThrottle())
	info := &grpc.UnaryServerInfo{FullMethod: "/gatepost.v1.UploadService/CreatePresignedPost"}
	call := func(ctx context.Context) codes.Code {
		_, err := ic(ctx, nil, info, func(context.Context, any) (any, error) { return "ok", nil })
		return status.Code(err)
	}
	for i := range 3 {
		if got := call(from("192.0.2.1", "bad")); got != codes.Unauthenticated {
			t.Fatalf("failure %d: %s, want Unauthenticated", i+1, got)
		}
	}
	for i := range 5 {
		if got := call(from("192.0.2.1", "bad")); got != codes.ResourceExhausted {
			t.Errorf("failure %d over the budget: %s, want ResourceExhausted", i+4, got)
		}
	}
	if got := call(from("192.0.2.1", "good")); got != codes.OK {
		t.Errorf("a good token from a throttled address: %s, want OK (a stranger's failures must not lock it out)", got)
	}
	if got := call(from("192.0.2.2", "good")); got != codes.OK {
		t.Errorf("another address: %s, want OK", got)
	}
	if got := call(from("192.0.2.2", "bad")); got != codes.Unauthenticated {
		t.Errorf("another address's first failure: %s", got)
	}
	if n := strings.Count(logs.String(), `"msg":"authentication failed"`); n != 4 {
		t.Errorf("%d authentication-failure lines, want 4 (the failures within each address's budget):\n%s", n, logs.String())
	}
	// Health and reflection stay open even to a throttled address.
	_, err := ic(from("192.0.2.1", ""), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"},
		func(context.Context, any) (any, error) { return "ok", nil })
	if err != nil {
		t.Errorf("health check from a throttled address: %v", err)
	}
}

// TestAuthFailuresShareAnIPv6Slash64: addresses of one IPv6 /64 (one
// client, usually) share a budget; another /64 has its own; and the lines
// of all addresses together are bounded.
func TestAuthFailuresShareAnIPv6Slash64(t *testing.T) {
	t.Parallel()
	keys := oneAPIKey(t, "good")
	var logs syncBuffer
	ic := AuthInterceptor(keys, jsonLogger(&logs), nil, testThrottle())
	info := &grpc.UnaryServerInfo{FullMethod: "/gatepost.v1.UploadService/CreatePresignedPost"}
	call := func(ctx context.Context) codes.Code {
		_, err := ic(ctx, nil, info, func(context.Context, any) (any, error) { return "ok", nil })
		return status.Code(err)
	}
	// The budget is 3: three addresses of one /64 use it up.
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if got := call(from(a, "bad")); got != codes.Unauthenticated {
			t.Fatalf("%s: %s, want Unauthenticated", a, got)
		}
	}
	if got := call(from("2001:db8:1:2::99", "bad")); got != codes.ResourceExhausted {
		t.Errorf("a fourth address of the same /64: %s, want ResourceExhausted", got)
	}
	if got := call(from("2001:db8:1:3::1", "bad")); got != codes.Unauthenticated {
		t.Errorf("another /64: %s, want Unauthenticated", got)
	}

	// Many addresses, each within its own budget: the lines stop at the
	// budget of all addresses.
	var many syncBuffer
	ic = AuthInterceptor(keys, jsonLogger(&many), nil, testThrottle())
	for i := range 3 * refusedLinesBurst {
		call(from(fmt.Sprintf("198.51.%d.%d", i/250, i%250+1), "bad"))
	}
	if n := strings.Count(many.String(), `"msg":"authentication failed"`); n > refusedLinesBurst+5 {
		t.Errorf("%d authentication-failure lines from %d addresses, want at most about %d", n, 3*refusedLinesBurst, refusedLinesBurst)
	}
}

// TestInvalidRequestsAreThrottled: a subject's requests that fail because
// of the request use up its budget; then its failing calls are answered
// ResourceExhausted instead of their own error, while its valid calls and
// other subjects are unaffected.
func TestInvalidRequestsAreThrottled(t *testing.T) {
	t.Parallel()
	ic := testThrottle().Interceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/gatepost.v1.UploadService/CreatePresignedPost"}
	as := func(subject string) context.Context {
		return ContextWithIdentity(context.Background(), &auth.Identity{Subject: subject, Profiles: []string{"*"}})
	}
	call := func(ctx context.Context, answer codes.Code) codes.Code {
		_, err := ic(ctx, nil, info, func(context.Context, any) (any, error) {
			if answer == codes.OK {
				return "ok", nil
			}
			return nil, status.Error(answer, "field: wrong")
		})
		return status.Code(err)
	}
	// Neither successes nor outages count.
	for _, c := range []codes.Code{codes.OK, codes.OK, codes.Unavailable, codes.ResourceExhausted, codes.Internal} {
		call(as("alice"), c)
	}
	for _, c := range []codes.Code{codes.InvalidArgument, codes.PermissionDenied, codes.NotFound} {
		if got := call(as("alice"), c); got != c {
			t.Fatalf("call answered %s, want %s", got, c)
		}
	}
	for _, tc := range []struct {
		subject string
		answer  codes.Code
		want    codes.Code
	}{
		{"alice", codes.InvalidArgument, codes.ResourceExhausted}, // over the budget
		{"alice", codes.FailedPrecondition, codes.ResourceExhausted},
		{"alice", codes.OK, codes.OK}, // a valid call still works
		{"alice", codes.Unavailable, codes.Unavailable},
		{"bob", codes.InvalidArgument, codes.InvalidArgument}, // another subject has its own budget
	} {
		if got := call(as(tc.subject), tc.answer); got != tc.want {
			t.Errorf("%s, after alice's three invalid requests, a call failing %s: %s, want %s", tc.subject, tc.answer, got, tc.want)
		}
	}
}

func jsonLogger(w *syncBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// TestRefusedCallLinesAreBounded: a flood of refused calls writes a
// bounded number of log lines, and says how many it dropped.
func TestRefusedCallLinesAreBounded(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := slogAdapter(jsonLogger(&logs), func() time.Time { return now })
	for range 1000 {
		l.Log(context.Background(), 0, "finished call", "grpc.code", codes.Unauthenticated.String())
	}
	for range 10 {
		l.Log(context.Background(), 0, "finished call", "grpc.code", codes.OK.String())
	}
	if lines := strings.Count(logs.String(), "\n"); lines != refusedLinesBurst+10 {
		t.Errorf("%d lines for 1000 refused and 10 good calls at one instant, want %d (the burst and every good call)", lines, refusedLinesBurst+10)
	}
	now = now.Add(time.Second / refusedLinesPerSecond) // one more line's worth
	l.Log(context.Background(), 0, "finished call", "grpc.code", codes.ResourceExhausted.String())
	if want := fmt.Sprintf(`"refused_lines_dropped":%d`, 1000-refusedLinesBurst); !strings.Contains(logs.String(), want) {
		t.Errorf("no line says %s", want)
	}
}

// TestAuthFailureLinesAreBounded: a token whose fields are huge (a JWT
// kid of 60 KiB) makes a failure line of bounded size.
func TestAuthFailureLinesAreBounded(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	ic := AuthInterceptor(quotingAuthenticator{}, jsonLogger(&logs), nil, testThrottle())
	info := &grpc.UnaryServerInfo{FullMethod: "/gatepost.v1.UploadService/CreatePresignedPost"}
	_, err := ic(from("192.0.2.9", strings.Repeat("k", 60<<10)), nil, info, func(context.Context, any) (any, error) { return "ok", nil })
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a bad token: %v", err)
	}
	if n := len(logs.String()); n == 0 || n > 2*maxReasonBytes {
		t.Errorf("the failure line is %d bytes, want at most %d:\n%.300s", n, 2*maxReasonBytes, logs.String())
	}
}

// quotingAuthenticator refuses every token with a reason that quotes it,
// as token libraries do with a kid they do not know.
type quotingAuthenticator struct{}

func (quotingAuthenticator) Authenticate(_ context.Context, token string) (*auth.Identity, error) {
	return nil, fmt.Errorf("%w: unknown kid %q", auth.ErrInvalidToken, token)
}

// deadlineBuckets fails, like Redis would, when the context it is given
// has ended.
type deadlineBuckets struct{ ratelimit.Buckets }

func (b deadlineBuckets) AllowN(ctx context.Context, key string, n int, perSecond float64, burst int) (bool, time.Duration, error) {
	if ctx.Err() != nil {
		return false, 0, ratelimit.ErrUnavailable
	}
	return b.Buckets.AllowN(ctx, key, n, perSecond, burst)
}

// TestChargeOutlivesTheCall: a caller whose own deadline has run out by
// the time its failure is charged is charged all the same.
func TestChargeOutlivesTheCall(t *testing.T) {
	t.Parallel()
	slow := config.RateLimit{RequestsPerSecond: 1.0 / 3600, Burst: 3}
	f := NewFailureThrottle(config.FailureLimits{InvalidPerSubject: slow}, NewClientAddresses(nil), deadlineBuckets{ratelimit.NewMemory(nil)})
	ic := f.Interceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/gatepost.v1.UploadService/CreatePresignedPost"}
	var last codes.Code
	for range 4 {
		ctx, cancel := context.WithCancel(ContextWithIdentity(context.Background(), &auth.Identity{Subject: "mallory", Profiles: []string{"*"}}))
		_, err := ic(ctx, nil, info, func(context.Context, any) (any, error) {
			cancel() // the caller's deadline runs out while the call runs
			return nil, status.Error(codes.InvalidArgument, "key: wrong")
		})
		last = status.Code(err)
	}
	if last != codes.ResourceExhausted {
		t.Errorf("the fourth invalid call with an expired deadline: %s; want ResourceExhausted", last)
	}
}
