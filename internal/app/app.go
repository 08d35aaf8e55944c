package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatepost/gatepost/gateway"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/certreload"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/metrics"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/s3store"
	"github.com/gatepost/gatepost/internal/uploadtoken"
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
	// OpenAPI is the document served at /openapi.json.
	OpenAPI []byte
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
}

// credentialsCheckTimeout bounds the start-up look for signing credentials:
// the SDK's chain may wait on an instance metadata service that is not
// there.
const credentialsCheckTimeout = 5 * time.Second

// warnWithoutCredentials looks for signing credentials once at start-up
// and logs a warning when there are none: every upload request would fail
// until there are. It runs beside start-up, so a slow chain does not delay
// serving.
func warnWithoutCredentials(ctx context.Context, store objectstore.Store, logger *slog.Logger, getenv func(string) string) {
	ctx, cancel := context.WithTimeout(ctx, credentialsCheckTimeout)
	defer cancel()
	err := store.Ready(ctx)
	if err == nil {
		return
	}
	hint := "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the pod or instance a role"
	if getenv("AWS_EC2_METADATA_DISABLED") == "" && (strings.Contains(err.Error(), "IMDS") || errors.Is(err, context.DeadlineExceeded)) {
		hint += "; the EC2 instance metadata service did not answer: off AWS, set AWS_EC2_METADATA_DISABLED=true so that requests do not wait for it"
	}
	logger.Warn("no signing credentials: every upload request will answer 503 until the AWS credential chain finds some",
		"error", err.Error(), "hint", hint)
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

	var lc net.ListenConfig
	if a.grpcLis, err = lc.Listen(ctx, "tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("listen on grpc_addr: %w", err)
	}
	if a.httpLis, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen on http_addr: %w", err)
	}

	reloadable, err := auth.NewReloadable(ctx, cfg.Auth, auth.Options{Getenv: opts.getenv(), Logger: logger})
	if err != nil {
		return nil, err
	}
	authn := reloadable.Authenticator()
	a.initReload(cfg, opts, reloadable)
	if cfg.Auth.Mode == config.AuthNone {
		if config.IsLoopback(cfg.GRPCAddr) && config.IsLoopback(cfg.HTTPAddr) {
			logger.Warn("authentication is off (auth.mode: none): every local caller may get upload policies; acceptable on loopback only")
		} else {
			// Validation refuses this unless it was asked for.
			logger.Warn("AUTHENTICATION IS OFF (auth.mode: none) on a non-loopback address, as auth.allow_none_beyond_loopback allows: anyone who can reach gatepost past the authenticating proxy may get upload policies")
		}
	}
	tokens, err := uploadTokens(cfg.Multipart, opts.getenv(), logger)
	if err != nil {
		return nil, err
	}
	var m *metrics.Metrics
	if !cfg.Metrics.Disabled {
		m = metrics.New()
	}
	trusted, err := config.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	clients := server.NewClientAddresses(trusted)
	throttle := server.NewFailureThrottle(cfg.FailureLimits, clients)
	svc := server.NewService(cfg.Profiles, store, logger,
		server.WithRateLimit(cfg.RateLimit), server.WithUploadTokens(tokens), server.WithMetrics(m),
		server.WithClientAddresses(clients))
	tp := opts.TracerProvider
	propagators := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	var grpcOpts []grpc.ServerOption
	if tp != nil {
		grpcOpts = append(grpcOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagators))))
	}
	var httpTLS *tls.Config
	if cfg.TLS.Enabled() {
		var grpcTLS *tls.Config
		if httpTLS, grpcTLS, err = tlsConfigs(cfg.TLS, logger); err != nil {
			return nil, err
		}
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(grpcTLS)))
		a.tlsOn = true
	}
	a.grpcServer, a.health = server.NewGRPCServer(svc, authn, logger, m, throttle, grpcOpts...)

	// The gateway calls the service in-process through the same
	// interceptor chain as the gRPC server (authentication, validation,
	// limits, logging, metrics), without a loopback round trip.
	inProcess := server.InProcess(svc, server.Interceptors(authn, logger, m, throttle))
	ready := func(ctx context.Context) error {
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
	gwOpts := gateway.Options{
		OpenAPI: opts.OpenAPI, Ready: ready, CORS: cfg.CORS,
		LoopbackHostsOnly: cfg.Auth.Mode == config.AuthNone && !cfg.Auth.AllowNoneBeyondLoopback,
	}
	if metricsOnAPIPort(cfg) && m != nil {
		gwOpts.Metrics = m.Handler()
	}
	handler, err := gateway.New(ctx, inProcess, gwOpts)
	if err != nil {
		return nil, err
	}
	if tp != nil {
		handler = otelhttp.NewHandler(handler, "gatepost.http",
			otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagators),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}
	handler = m.InstrumentHTTP(handler)
	if m != nil && cfg.Metrics.Addr != "" {
		if a.adminLis, err = lc.Listen(ctx, "tcp", cfg.Metrics.Addr); err != nil {
			return nil, fmt.Errorf("listen on metrics.addr: %w", err)
		}
		admin := http.NewServeMux()
		admin.Handle("GET /metrics", m.Handler())
		if cfg.Metrics.Pprof {
			admin.HandleFunc("/debug/pprof/", pprof.Index)
			admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
			admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		a.adminServer = &http.Server{Handler: admin, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
	}
	switch {
	case m == nil:
		logger.Info("metrics are off (metrics.disabled)")
	case a.adminLis != nil:
		logger.Info("metrics are served on their own listener", "metrics_addr", a.MetricsAddr())
	case gwOpts.Metrics != nil && cfg.Auth.Mode == config.AuthNone:
		logger.Info("metrics are served on the API port", "http_addr", a.HTTPAddr())
	case gwOpts.Metrics != nil:
		logger.Warn("metrics are served on the API port without authentication, as metrics.on_api_port asks", "http_addr", a.HTTPAddr())
	default:
		logger.Warn("metrics are not served: with authentication on, /metrics is kept off the API port; set metrics.addr for an admin listener, or metrics.on_api_port: true",
			"auth_mode", string(cfg.Auth.Mode))
	}
	a.httpServer = &http.Server{
		// Only the multipart routes take a body, a small JSON one: cap it.
		Handler:           http.MaxBytesHandler(handler, maxBodyBytes),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         httpTLS,
	}
	return a, nil
}

// metricsOnAPIPort reports whether /metrics is served on http_addr: only
// when there is no metrics listener, and then only with mode none (which
// listens on loopback) or when metrics.on_api_port asks for it. With
// authentication on, the API port faces the callers, and metrics would tell
// any of them about everyone's traffic.
func metricsOnAPIPort(cfg *config.Config) bool {
	return !cfg.Metrics.Disabled && cfg.Metrics.Addr == "" &&
		(cfg.Auth.Mode == config.AuthNone || cfg.Metrics.OnAPIPort)
}

// uploadTokens returns the sealer of multipart upload tokens: with the
// shared secret from the configured environment variable, or a random one
// (and a warning) when none is configured.
func uploadTokens(cfg config.Multipart, getenv func(string) string, logger *slog.Logger) (*uploadtoken.Sealer, error) {
	expires := cfg.TokenExpires
	if expires == 0 {
		expires = config.DefaultUploadTokenExpires
	}
	if cfg.TokenSecretEnv == "" {
		logger.Warn("multipart.token_secret_env is not set: upload tokens use a random per-process secret, so a multipart upload must be finished on the replica that started it")
		return uploadtoken.NewRandom(expires), nil
	}
	s, err := uploadtoken.New([]byte(getenv(cfg.TokenSecretEnv)), expires)
	if err != nil {
		return nil, fmt.Errorf("multipart.token_secret_env: $%s: %w", cfg.TokenSecretEnv, err)
	}
	return s, nil
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
}

// tlsConfigs builds the HTTP and gRPC TLS configurations: one reloading
// server certificate, and for gRPC the client CAs of mTLS.
func tlsConfigs(c config.TLS, logger *slog.Logger) (httpTLS, grpcTLS *tls.Config, err error) {
	loader, err := certreload.New(c.CertFile, c.KeyFile, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	httpTLS = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: loader.GetCertificate}
	grpcTLS = httpTLS.Clone()
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls.client_ca_file: %s holds no PEM certificate", c.ClientCAFile)
		}
		grpcTLS.ClientCAs = pool
		grpcTLS.ClientAuth = tls.VerifyClientCertIfGiven
		if c.ClientAuth == "require" {
			grpcTLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return httpTLS, grpcTLS, nil
}
