package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/metrics"
)

// metricsOnAPIPort reports whether /metrics is served on http_addr: only
// when there is no metrics listener, and then only with mode none (which
// listens on loopback) or when metrics.on_api_port asks for it. With
// authentication on, the API port faces the callers, and metrics would tell
// any of them about everyone's traffic.
func metricsOnAPIPort(cfg *config.Config) bool {
	return !cfg.Metrics.Disabled && cfg.Metrics.Addr == "" &&
		(cfg.Auth.Mode == config.AuthNone || cfg.Metrics.OnAPIPort)
}

// adminListener binds metrics.addr, when set, and serves /metrics (and
// pprof, when asked) there.
func (a *App) adminListener(ctx context.Context, cfg *config.Config, m *metrics.Metrics) error {
	if m == nil || cfg.Metrics.Addr == "" {
		return nil
	}
	var lc net.ListenConfig
	var err error
	if a.adminLis, err = lc.Listen(ctx, "tcp", cfg.Metrics.Addr); err != nil {
		return fmt.Errorf("listen on metrics.addr: %w", err)
	}
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", m.Handler())
	if cfg.Metrics.Pprof {
		admin.HandleFunc("/debug/pprof/", pprof.Index)
		admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
		admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.adminServer = &http.Server{Handler: admin, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
	return nil
}

// logMetricsPlacement says where /metrics is served, or why it is not.
func (a *App) logMetricsPlacement(cfg *config.Config, m *metrics.Metrics, onAPIPort bool) {
	switch {
	case m == nil:
		a.logger.Info("metrics are off (metrics.disabled)")
	case a.adminLis != nil:
		a.logger.Info("metrics are served on their own listener", "metrics_addr", a.MetricsAddr())
	case onAPIPort && cfg.Auth.Mode == config.AuthNone:
		a.logger.Info("metrics are served on the API port", "http_addr", a.HTTPAddr())
	case onAPIPort:
		a.logger.Warn("metrics are served on the API port without authentication, as metrics.on_api_port asks", "http_addr", a.HTTPAddr())
	default:
		a.logger.Warn("metrics are not served: with authentication on, /metrics is kept off the API port; set metrics.addr for an admin listener, or metrics.on_api_port: true",
			"auth_mode", string(cfg.Auth.Mode))
	}
}
