package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/metrics"
)

// MaxRPCDuration is the deadline every unary RPC gets when the caller sets
// none or a later one.
const MaxRPCDuration = 10 * time.Second

// MaxStreamDuration bounds every streaming RPC (health Watch, reflection)
// the same way: long enough for a grpcurl session or a health watcher,
// which reconnects when its stream ends, short enough that a caller
// cannot hold a stream and its goroutine for ever.
const MaxStreamDuration = 5 * time.Minute

// maxRequestIDBytes bounds a caller-supplied request id.
const maxRequestIDBytes = 128

type ctxKey int

const (
	identityKey ctxKey = iota
	requestIDKey
)

// ContextWithIdentity returns ctx carrying an authenticated identity.
func ContextWithIdentity(ctx context.Context, id *auth.Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// IdentityFrom returns the caller's identity set by AuthInterceptor.
func IdentityFrom(ctx context.Context) (*auth.Identity, bool) {
	id, ok := ctx.Value(identityKey).(*auth.Identity)
	return id, ok && id != nil
}

// RequestIDFrom returns the request id set by RequestIDInterceptor.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func init() {
	// Request ids are random UUIDs, one per call: draw their randomness
	// from a buffered pool instead of one getrandom syscall each.
	uuid.EnableRandPool()
}

// RequestIDInterceptor takes the caller's x-request-id (REST: the
// X-Request-Id header) when it is short and printable, or generates one,
// and returns it in the x-request-id response header.
func RequestIDInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id := ""
		// ValueFromIncomingContext copies one key's values, where
		// FromIncomingContext copies all the metadata (about 4% of a
		// presign's CPU, for the three lookups of a call).
		if v := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(v) > 0 && validRequestID(v[0]) {
			id = v[0]
		}
		if id == "" {
			id = uuid.NewString()
		}
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", id))
		return handler(context.WithValue(ctx, requestIDKey, id), req)
	}
}

func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// DeadlineInterceptor gives every RPC a deadline of at most max.
func DeadlineInterceptor(max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > max {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, max)
			defer cancel()
		}
		return handler(ctx, req)
	}
}

// StreamDeadlineInterceptor gives every streaming RPC a deadline of at most
// max.
func StreamDeadlineInterceptor(max time.Duration) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= max {
			return handler(srv, ss)
		}
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		return handler(srv, &identifiedStream{ServerStream: ss, ctx: ctx})
	}
}

// uploadServicePrefix selects UploadService's methods.
var uploadServicePrefix = "/" + gatepostv1.UploadService_ServiceDesc.ServiceName + "/"

// public reports whether a method needs no authentication: health checks
// and reflection. Everything else, including services added later, does.
func public(fullMethod string) bool {
	for _, prefix := range []string{"/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"} {
		if strings.HasPrefix(fullMethod, prefix) {
			return true
		}
	}
	return false
}

// AuthInterceptor authenticates callers of UploadService from their
// "authorization: Bearer <token>" metadata (REST: the Authorization
// header). Failures are Unauthenticated with a www-authenticate header
// (WWW-Authenticate on REST) and a message that never echoes the token.
//
// With a throttle, a failed authentication from a client address whose
// failures used up its budget is answered ResourceExhausted instead of
// Unauthenticated (a valid token from it still works), and only failures
// within the budget are logged.
func AuthInterceptor(a auth.Authenticator, logger *slog.Logger, m *metrics.Metrics, throttle *FailureThrottle) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, info.FullMethod, a, logger, m, throttle)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamAuthInterceptor is AuthInterceptor for streaming RPCs. gatepost's
// own service has none today; this makes one added later (or any other
// stream but health and reflection) fail closed rather than skip
// authentication.
func StreamAuthInterceptor(a auth.Authenticator, logger *slog.Logger, m *metrics.Metrics, throttle *FailureThrottle) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), info.FullMethod, a, logger, m, throttle)
		if err != nil {
			return err
		}
		return handler(srv, &identifiedStream{ServerStream: ss, ctx: ctx})
	}
}

// identifiedStream is a ServerStream whose context carries the caller.
type identifiedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identifiedStream) Context() context.Context { return s.ctx }

// maxReasonBytes bounds why an authentication failed in its log line:
// enough for the library's reason and a JWKS URL, not for a caller's
// 64 KiB token field.
const maxReasonBytes = 512

// authenticate returns ctx with the caller's identity, or the error to
// answer with. Public methods (health, reflection) pass unchanged.
func authenticate(ctx context.Context, fullMethod string, a auth.Authenticator, logger *slog.Logger, m *metrics.Metrics, throttle *FailureThrottle) (context.Context, error) {
	if public(fullMethod) {
		return ctx, nil
	}
	if leaf := verifiedClientCert(ctx); leaf != nil {
		if ca, ok := a.(auth.CertAuthenticator); ok {
			id := ca.AuthenticateCert(leaf)
			if id == nil {
				m.AuthFailed("invalid_certificate")
				return nil, status.Error(codes.Unauthenticated, "the client certificate names no subject (Common Name, URI or DNS name)")
			}
			return ContextWithIdentity(ctx, id), nil
		}
	}
	token, err := bearerFrom(ctx)
	var id *auth.Identity
	if err == nil {
		id, err = a.Authenticate(ctx, token)
	}
	if err != nil {
		// Only failures are throttled, so a valid token always works: an
		// address may be shared (a NAT, an ingress whose hops are not
		// trusted), and a stranger's bad tokens must not lock out its
		// other callers.
		client := throttle.clientAddress(ctx) // "" without a throttle
		logIt, refusal := throttle.authFailed(ctx, client)
		if refusal != nil {
			m.AuthFailed("throttled")
			return nil, refusal
		}
		challenge := `Bearer realm="gatepost"`
		msg := auth.ErrInvalidToken.Error()
		reason := "invalid_token"
		if errors.Is(err, auth.ErrNoToken) {
			msg = auth.ErrNoToken.Error()
			reason = "missing_token"
		} else {
			challenge += `, error="invalid_token"`
		}
		m.AuthFailed(reason)
		_ = grpc.SetHeader(ctx, metadata.Pairs("www-authenticate", challenge))
		if logIt {
			// The reason can quote the caller's token (a JWT's kid, say), so
			// it is cut to maxReasonBytes.
			attrs := []any{"method", fullMethod, "reason", truncate(err.Error(), maxReasonBytes), "request_id", RequestIDFrom(ctx)}
			if p, ok := peer.FromContext(ctx); ok {
				attrs = append(attrs, "peer", p.Addr.String())
			}
			if client != "" {
				attrs = append(attrs, "client", client)
			}
			logger.WarnContext(ctx, "authentication failed", attrs...)
		}
		return nil, status.Error(codes.Unauthenticated, msg)
	}
	return ContextWithIdentity(ctx, id), nil
}

// verifiedClientCert returns the caller's client certificate when the TLS
// handshake verified it against the configured CAs.
func verifiedClientCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

// RejectionInterceptor counts UploadService calls that end in an error,
// by method and gRPC code.
func RejectionInterceptor(m *metrics.Metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil && strings.HasPrefix(info.FullMethod, uploadServicePrefix) {
			m.Rejected(strings.TrimPrefix(info.FullMethod, uploadServicePrefix), status.Code(err).String())
		}
		return resp, err
	}
}

// bearerFrom reads the bearer token from the authorization metadata: ""
// when there is none or it is not a Bearer token (the authenticator then
// decides: mode none accepts, the others answer "missing bearer token"),
// an error when there are several.
func bearerFrom(ctx context.Context) (string, error) {
	values := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return auth.BearerToken(values[0]), nil
	default:
		return "", fmt.Errorf("%w: %d authorization values", auth.ErrInvalidToken, len(values))
	}
}
