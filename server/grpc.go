package server

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/metrics"
)

// Limits on what a caller can make the gRPC server hold. Requests are a few
// hundred bytes, except a multipart completion listing many parts.
const (
	maxRecvMsgBytes      = 1 << 20 // a CompleteMultipartUpload may list 10,000 parts
	maxConcurrentStreams = 1024
	// maxHeaderListBytes caps a call's metadata as the HTTP listener caps
	// headers; grpc-go's own default is 16 MiB, which let forty calls
	// with huge authorization values hold 190 MB.
	maxHeaderListBytes = 64 << 10
	// handshakeTimeout bounds a connection's TLS and HTTP/2 handshake
	// (grpc-go's default is 120 s), like the HTTP listener's read-header
	// timeout.
	handshakeTimeout = 5 * time.Second
	// streamWorkersPerCPU sizes the pool of goroutines that run calls (see
	// NewGRPCServer): idle workers cost a few KiB of stack each.
	streamWorkersPerCPU = 32
)

// connectionLimits close connections that hold nothing or live too long:
// one idle for 5 minutes, or older than 30 minutes (after a GOAWAY and a
// grace period that lets calls in flight finish; clients reconnect, which
// also spreads them over new replicas). Pings: a client may ping every 10
// seconds at most, with or without calls, and one that does not answer
// the server's pings (every 2 minutes of silence) within 20 s is dropped.
var connectionLimits = struct {
	server keepalive.ServerParameters
	policy keepalive.EnforcementPolicy
}{
	server: keepalive.ServerParameters{
		MaxConnectionIdle:     5 * time.Minute,
		MaxConnectionAge:      30 * time.Minute,
		MaxConnectionAgeGrace: MaxRPCDuration,
		Time:                  2 * time.Minute,
		Timeout:               20 * time.Second,
	},
	policy: keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true},
}

// NewGRPCServer returns a gRPC server that serves svc, grpc.health.v1 (all
// services SERVING) and server reflection. Its interceptors, in order:
// request ids, one log line per call, panic recovery (Internal), a deadline
// on every call (streams too), and authentication of UploadService callers
// with authn. Connections are bounded by connectionLimits.
// It also returns the health server, so the caller can report NOT_SERVING
// while shutting down.
//
// m, when not nil, adds gRPC server metrics, counts rejections by reason and
// authentication failures.
//
// throttle, when not nil, makes failed authentications and invalid
// requests cost their sender (see FailureThrottle).
func NewGRPCServer(svc gatepostv1.UploadServiceServer, authn auth.Authenticator, logger *slog.Logger, m *metrics.Metrics, throttle *FailureThrottle, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	codec := newRequestCodec()
	interceptors := append([]grpc.UnaryServerInterceptor{codec.TakeMalformed()}, Interceptors(authn, logger, m, throttle)...)
	interceptors = append(interceptors, RefuseMalformed())
	opts = append([]grpc.ServerOption{
		grpc.ForceServerCodecV2(codec),
		grpc.MaxRecvMsgSize(maxRecvMsgBytes),
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
		grpc.MaxHeaderListSize(maxHeaderListBytes),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.KeepaliveParams(connectionLimits.server),
		grpc.KeepaliveEnforcementPolicy(connectionLimits.policy),
		// Reuse a pool of goroutines for streams: a fresh goroutine per call
		// grows its stack anew each time, which profiling showed as ~10%
		// of the CPU at high rates. gRPC hands a stream to a worker only if
		// one is idle, else starts a goroutine, so the pool must be larger
		// than the calls in flight at saturation: with one worker per core,
		// 64 connections still started a goroutine for most calls.
		grpc.NumStreamWorkers(uint32(streamWorkersPerCPU * runtime.GOMAXPROCS(0))),
		grpc.ChainUnaryInterceptor(interceptors...),
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recoverPanics(logger)),
			newPublicStreams(maxPublicStreams, maxPublicStreamsPerAddress).Interceptor(),
			StreamDeadlineInterceptor(MaxStreamDuration),
			StreamAuthInterceptor(authn, logger, m, throttle)),
	}, opts...)
	srv := grpc.NewServer(opts...)
	gatepostv1.RegisterUploadServiceServer(srv, svc)

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(gatepostv1.UploadService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	if m != nil {
		m.GRPC.InitializeMetrics(srv)
	}
	return srv, hs
}

// Interceptors returns the chain every UploadService call goes through, on
// gRPC and (through InProcess) REST alike: request ids, one log line per
// call, metrics and rejection counts (when m is not nil), panic recovery, a
// deadline, authentication, and the invalid-request throttle (when
// throttle is not nil).
func Interceptors(authn auth.Authenticator, logger *slog.Logger, m *metrics.Metrics, throttle *FailureThrottle) []grpc.UnaryServerInterceptor {
	interceptors := []grpc.UnaryServerInterceptor{
		RequestIDInterceptor(),
		logging.UnaryServerInterceptor(slogAdapter(logger, time.Now),
			logging.WithLogOnEvents(logging.FinishCall),
			// Fields that are the same on every line cost time and say
			// nothing: the duration is in grpc.time_ms.
			logging.WithDisableLoggingFields(logging.SystemTag[0], logging.ComponentFieldKey, logging.MethodTypeFieldKey),
			logging.WithFieldsFromContext(func(ctx context.Context) logging.Fields {
				return logging.Fields{"request_id", RequestIDFrom(ctx)}
			})),
	}
	if m != nil {
		interceptors = append(interceptors, m.GRPC.UnaryServerInterceptor(), RejectionInterceptor(m))
	}
	interceptors = append(interceptors,
		recovery.UnaryServerInterceptor(recoverPanics(logger)),
		DeadlineInterceptor(MaxRPCDuration),
		AuthInterceptor(authn, logger, m, throttle),
	)
	if throttle != nil {
		interceptors = append(interceptors, throttle.Interceptor())
	}
	return interceptors
}

// recoverPanics turns a panic in a handler into Internal, logged.
func recoverPanics(logger *slog.Logger) recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in handler", "panic", p)
		return status.Error(codes.Internal, "internal error")
	})
}

// Refused calls (bad tokens, throttled callers) are logged at most this
// often: a flood of them must not become a flood of log lines.
const (
	refusedLinesPerSecond = 20
	refusedLinesBurst     = 100
)

// slogAdapter lets go-grpc-middleware's logging interceptor write to slog.
// Lines about calls refused as Unauthenticated or ResourceExhausted pass
// a token bucket; the next line that passes says how many were dropped.
// now is the clock of that bucket (time.Now outside tests).
func slogAdapter(l *slog.Logger, now func() time.Time) logging.Logger {
	refused := rate.NewLimiter(refusedLinesPerSecond, refusedLinesBurst)
	var dropped atomic.Int64
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		if refusedCall(fields) {
			if !refused.AllowN(now(), 1) {
				dropped.Add(1)
				return
			}
			if n := dropped.Swap(0); n > 0 {
				fields = append(fields, "refused_lines_dropped", n)
			}
		}
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// refusedCall reports whether a call's log fields say it was refused as
// Unauthenticated or ResourceExhausted.
func refusedCall(fields []any) bool {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "grpc.code" {
			c, _ := fields[i+1].(string)
			return c == codes.Unauthenticated.String() || c == codes.ResourceExhausted.String()
		}
	}
	return false
}
