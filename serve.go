package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/tracing"
)

//go:embed gen/gatepost/v1/upload.swagger.json
var openAPI []byte

//go:embed gen/gatepost/v1/upload.openapi.json
var openAPI31 []byte

// serveCommand implements `gatepost [serve]`: it runs the server until ctx
// is done.
func serveCommand(ctx context.Context, args []string, c cli) error {
	cfg, err := config.FromArgs("gatepost serve", args, c.getenv, helpOutput(args, c))
	if err != nil {
		var invalid *config.ArgsError
		if errors.As(err, &invalid) || errors.Is(err, flag.ErrHelp) {
			return usageError{error: err, shown: invalid != nil && invalid.Shown}
		}
		return err
	}
	return run(ctx, cfg, args, c.getenv, c.stderr)
}

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// gatepost's live heap is a few MiB, so at the runtime's default of 100 a
// loaded server collects many times a second, and each cycle also shrinks
// the stacks that the next requests grow again: 400 lets the heap reach five
// times what is live (still tens of MiB) and was measured here to lift gRPC
// presign throughput by about a quarter (BENCHMARKS.md).
const defaultGCPercent = 400

// gcPercent returns the GC target to set, or false when the environment
// sets GOGC itself (the runtime has read it already).
func gcPercent(getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	return defaultGCPercent, true
}

// run starts the gatepost server for cfg and blocks until ctx is done.
// args and getenv are what cfg came from: a reload reads them again.
func run(ctx context.Context, cfg *config.Config, args []string, getenv func(string) string, stderr io.Writer) error {
	// Log lines are buffered (up to 256 KiB or 200 ms) rather than written
	// one syscall each: at thousands of requests a second the writes cost
	// more than the signing. Run flushes the buffer when it returns.
	logs := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(stderr), Size: 256 << 10, FlushInterval: 200 * time.Millisecond}
	defer func() { _ = logs.Stop() }()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	if percent, ok := gcPercent(getenv); ok {
		debug.SetGCPercent(percent)
	}
	tp, shutdownTracing, err := tracing.Setup(ctx, getenv)
	if err != nil {
		return err
	}
	if !tracing.Enabled(getenv) {
		tp = nil // no instrumentation at all, rather than no-op spans
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(flushCtx); err != nil {
			logger.Warn("flushing traces failed", "error", err)
		}
	}()
	// SIGHUP reloads the API keys and mTLS profiles from the configuration
	// file, read again with the same flags and environment.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := app.New(ctx, cfg, app.Options{
		Logger: logger, OpenAPI: openAPI, OpenAPI31: openAPI31, Getenv: getenv, TracerProvider: tp,
		ConfigFile: cfg.File,
		LoadConfig: func() (*config.Config, error) {
			return config.FromArgs("gatepost serve", args, getenv, io.Discard)
		},
		ReloadSignals: hup,
	})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
