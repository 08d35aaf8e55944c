package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatepost/gatepost/gateway"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/s3store"
	"github.com/gatepost/gatepost/internal/sharedstate"
	"github.com/gatepost/gatepost/server"
)

// ShutdownTimeout bounds graceful shutdown; after it, connections are cut.
const ShutdownTimeout = 10 * time.Second

// HTTP server limits: requests are small GETs, so anything slow or large is
// a misbehaving or hostile client.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	maxBodyBytes      = 1 << 20 // a CompleteMultipartUpload may list 10,000 parts
)

// Options are the parts of an App that do not come from configuration.
type Options struct {
	// Logger receives structured logs; slog.Default() when nil.
	Logger *slog.Logger
	// OpenAPI is the document served at /openapi.json (OpenAPI 2.0).
	OpenAPI []byte
	// OpenAPI31 is the document served at /openapi-3.1.json.
	OpenAPI31 []byte
	// AWSOptions are extra AWS SDK load options (tests pass static
	// credentials here).
	AWSOptions []func(*awsconfig.LoadOptions) error
	// Getenv reads environment variables (the JWT secret); os.Getenv when
	// nil.
	Getenv func(string) string
	// TracerProvider traces gRPC and HTTP requests; nil means no tracing
	// instrumentation at all.
	TracerProvider trace.TracerProvider
	// ConfigFile is the configuration file gatepost started with ("" for
	// the embedded default). Its API keys and mTLS profiles are reloaded
	// when its content changes (checked every ReloadInterval) and on every
	// value from ReloadSignals.
	ConfigFile string
	// LoadConfig reads and validates the configuration again as at
	// start-up (main passes config.FromArgs with the same arguments, so
	// the flag and environment overrides apply again); nil loads
	// ConfigFile with config.Load and validates it.
	LoadConfig func() (*config.Config, error)
	// ReloadSignals asks for a reload with every value (main relays
	// SIGHUP here).
	ReloadSignals <-chan os.Signal
	// ReloadInterval is how often ConfigFile is checked for changes
	// (0: DefaultReloadInterval).
	ReloadInterval time.Duration
}

func (o Options) getenv() func(string) string {
	if o.Getenv != nil {
		return o.Getenv
	}
	return os.Getenv
}

// App is a configured gatepost with its listeners bound.
type App struct {
	// reloader re-reads the configuration file (see reload.go).
	reloader
	logger      *slog.Logger
	adminLis    net.Listener
	adminServer *http.Server
	grpcLis     net.Listener
	httpLis     net.Listener
	grpcServer  *grpc.Server
	health      *health.Server
	httpServer  *http.Server
	tlsOn       bool
	shared      *sharedstate.State
	lifecycle   *lifecycle
}

// New builds gatepost from a validated configuration and binds its
// listeners. Call Run to serve; if Run is never called, call Close.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *App, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	store, err := s3store.New(ctx, cfg.S3, opts.AWSOptions...)
	if err != nil {
		return nil, err
	}
	go warnWithoutCredentials(ctx, store, logger, opts.getenv())
	a := &App{logger: logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.listen(ctx, cfg); err != nil {
		return nil, err
	}

	reloadable, err := auth.NewReloadable(ctx, cfg.Auth, auth.Options{Getenv: opts.getenv(), Logger: logger})
	if err != nil {
		return nil, err
	}
	authn := reloadable.Authenticator()
	a.initReload(cfg, opts, reloadable)
	warnWithoutAuth(cfg, logger)

	var m *metrics.Metrics
	if !cfg.Metrics.Disabled {
		m = metrics.New()
	}
	if a.shared, err = sharedstate.Open(cfg.SharedState, logger); err != nil {
		return nil, err
	}
	if a.lifecycle, err = newLifecycle(cfg, store, a.shared, m, opts.getenv(), logger); err != nil {
		return nil, err
	}
	tokens, err := uploadTokens(ctx, cfg.Multipart, a.shared, cfg.LocalOnly(), opts.getenv(), logger)
	if err != nil {
		return nil, err
	}
	svc, throttle, err := newService(cfg, store, a.shared, tokens, a.lifecycle.verifier, m, logger)
	if err != nil {
		return nil, err
	}
	a.lifecycle.onVerdict = svc.VerdictReached
	t := newTracing(opts.TracerProvider)
	grpcOpts, httpTLS, err := a.serverSecurity(cfg, logger)
	if err != nil {
		return nil, err
	}
	a.grpcServer, a.health = server.NewGRPCServer(svc, authn, logger, m, throttle, append(grpcOpts, t.grpcOptions()...)...)

	// The gateway calls the service in-process through the same
	// interceptor chain as the gRPC server (authentication, validation,
	// limits, logging, metrics), without a loopback round trip.
	gwOpts := gateway.Options{
		OpenAPI: opts.OpenAPI, OpenAPI31: opts.OpenAPI31, Ready: a.readiness(store), Degraded: degraded(a.shared), CORS: cfg.CORS,
		LoopbackHostsOnly: cfg.LocalOnly(), StoreEvents: a.lifecycle.events,
	}
	if cfg.Uppy != nil {
		gwOpts.Companion = &gateway.Companion{Profile: cfg.Uppy.Profile, MetadataKeys: cfg.Profiles[cfg.Uppy.Profile].MetadataKeys, ObjectURL: store.ObjectURL, BarePartURLs: store.TakesBarePartURLs()}
		// Sessions share the upload token secret (configured, or shared
		// through Redis), so every replica opens every session.
		gwOpts.Sessions = gateway.NewSessions(tokens.DerivedKey("session hash"), tokens.DerivedKey("session block"), cfg.Uppy.SessionLifetime())
	}
	if metricsOnAPIPort(cfg) && m != nil {
		gwOpts.Metrics = m.Handler()
	}
	handler, err := gateway.New(ctx, server.InProcess(svc, server.Interceptors(authn, logger, m, throttle)), gwOpts)
	if err != nil {
		return nil, err
	}
	handler = m.InstrumentHTTP(t.httpHandler(handler))
	if err := a.adminListener(ctx, cfg, m); err != nil {
		return nil, err
	}
	a.logMetricsPlacement(cfg, m, gwOpts.Metrics != nil)
	a.httpServer = newHTTPServer(handler, httpTLS, logger)
	return a, nil
}

// listen binds the gRPC and HTTP listeners.
func (a *App) listen(ctx context.Context, cfg *config.Config) error {
	var lc net.ListenConfig
	var err error
	if a.grpcLis, err = lc.Listen(ctx, "tcp", cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen on grpc_addr: %w", err)
	}
	if a.httpLis, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen on http_addr: %w", err)
	}
	return nil
}

// readiness decides /readyz: the gRPC service serves and the store has
// signing credentials. Redis is reported (degraded), never a reason to be
// unready: with every replica unready at once, callers would get no
// answer at all instead of a 503 that says why.
func (a *App) readiness(store objectstore.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		resp, err := a.health.Check(ctx, &healthpb.HealthCheckRequest{Service: gatepostv1.UploadService_ServiceDesc.ServiceName})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return errors.New("the gRPC service is not serving")
		}
		if err := store.Ready(ctx); err != nil {
			if errors.Is(err, objectstore.ErrCredentialsExpired) {
				return errors.New("the signing credentials have expired")
			}
			return errors.New("no signing credentials: the AWS credential chain found none (see the log)")
		}
		return nil
	}
}

// degraded reports an unreachable Redis on /readyz.
func degraded(shared *sharedstate.State) func(context.Context) string {
	return func(ctx context.Context) string {
		if err := shared.Ready(ctx); err == nil {
			return ""
		}
		if shared.Deny() {
			return "the limit store (Redis) is unreachable: calls that need a limit answer 503 (shared_state.on_unavailable: deny)"
		}
		return "the limit store (Redis) is unreachable: limits are per replica (shared_state.on_unavailable: allow)"
	}
}

// newHTTPServer returns the HTTP server of the REST gateway, with the
// limits that keep slow or large requests from holding it.
func newHTTPServer(handler http.Handler, tlsConfig *tls.Config, logger *slog.Logger) *http.Server {
	return &http.Server{
		// Only the multipart routes take a body, a small JSON one: cap it.
		Handler:           http.MaxBytesHandler(handler, maxBodyBytes),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
}

// GRPCAddr is the address the gRPC server listens on.
func (a *App) GRPCAddr() string { return a.grpcLis.Addr().String() }

// MetricsAddr is the address of the separate metrics listener, or "" when
// /metrics is served on the HTTP address (or metrics are off).
func (a *App) MetricsAddr() string {
	if a.adminLis == nil {
		return ""
	}
	return a.adminLis.Addr().String()
}

// HTTPAddr is the address the REST gateway listens on.
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

// Run serves until ctx is done or a server fails, then shuts down
// gracefully: health turns NOT_SERVING, in-flight calls finish within
// ShutdownTimeout, and the listeners close. While it serves, the
// configuration file is reloaded on changes and reload signals.
func (a *App) Run(ctx context.Context) error {
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go a.watchConfig(watchCtx)
	// Webhook deliveries stop with the servers: what is still queued then
	// is lost (the queue is in memory).
	deliveries := make(chan struct{})
	go func() {
		a.lifecycle.queue.Run(watchCtx)
		close(deliveries)
	}()
	errc := make(chan error, 3)
	if a.adminServer != nil {
		go func() {
			if err := a.adminServer.Serve(a.adminLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics server: %w", err)
			}
		}()
	}
	go func() {
		if err := a.grpcServer.Serve(a.grpcLis); err != nil {
			errc <- fmt.Errorf("gRPC server: %w", err)
		}
	}()
	go func() {
		var err error
		if a.tlsOn {
			err = a.httpServer.ServeTLS(a.httpLis, "", "") // the certificate comes from TLSConfig
		} else {
			err = a.httpServer.Serve(a.httpLis)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("HTTP server: %w", err)
		}
	}()
	a.logger.InfoContext(ctx, "gatepost listening", "grpc_addr", a.GRPCAddr(), "http_addr", a.HTTPAddr(),
		"tls", a.tlsOn, "metrics_addr", a.MetricsAddr())

	var runErr error
	select {
	case <-ctx.Done():
		a.logger.Info("shutting down")
	case runErr = <-errc:
		a.logger.Error("server failed; shutting down", "error", runErr)
	}
	a.health.Shutdown()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := a.httpServer.Shutdown(shutdownCtx); err != nil {
		a.logger.Warn("HTTP server did not stop in time", "error", err)
	}
	if a.adminServer != nil {
		_ = a.adminServer.Shutdown(shutdownCtx)
	}
	stopped := make(chan struct{})
	go func() {
		a.grpcServer.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		a.logger.Warn("gRPC server did not stop in time; closing connections")
		a.grpcServer.Stop()
	}
	// The queue stops before its Redis client closes.
	stopWatching()
	<-deliveries
	a.Close()
	return runErr
}

// Close releases the listeners and the gateway's connection without a
// graceful shutdown. Run calls it; use it only when Run is never called.
func (a *App) Close() {
	if a.grpcLis != nil {
		_ = a.grpcLis.Close()
	}
	if a.httpLis != nil {
		_ = a.httpLis.Close()
	}
	if a.adminLis != nil {
		_ = a.adminLis.Close()
	}
	if a.lifecycle != nil {
		a.lifecycle.close()
	}
	if a.shared != nil {
		_ = a.shared.Close()
	}
}
