package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/gatepost/gatepost/internal/certreload"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
)

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

// warnWithoutAuth logs that authentication is off, louder when not on
// loopback (which validation allows only when asked).
func warnWithoutAuth(cfg *config.Config, logger *slog.Logger) {
	if cfg.Auth.Mode != config.AuthNone {
		return
	}
	if config.IsLoopback(cfg.GRPCAddr) && config.IsLoopback(cfg.HTTPAddr) {
		logger.Warn("authentication is off (auth.mode: none): every local caller may get upload policies; acceptable on loopback only")
		return
	}
	logger.Warn("AUTHENTICATION IS OFF (auth.mode: none) on a non-loopback address, as auth.allow_none_beyond_loopback allows: anyone who can reach gatepost past the authenticating proxy may get upload policies")
}

// serverSecurity returns the gRPC server's TLS option and the HTTP
// server's TLS configuration, or neither without TLS.
func (a *App) serverSecurity(cfg *config.Config, logger *slog.Logger) ([]grpc.ServerOption, *tls.Config, error) {
	if !cfg.TLS.Enabled() {
		return nil, nil, nil
	}
	httpTLS, grpcTLS, err := tlsConfigs(cfg.TLS, logger)
	if err != nil {
		return nil, nil, err
	}
	a.tlsOn = true
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(grpcTLS))}, httpTLS, nil
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
