// Command gatepost serves presigned S3 POST uploads over gRPC and REST.
//
// With no arguments it starts with an embedded default configuration; see
// -help for flags and README.md for the configuration file.
//
//	gatepost [serve] [flags]       run the server
//	gatepost hash-key [-stdin]     make an API key and its SHA-256 for auth.api_keys
//	gatepost token -sub S -iss I   print an HS256 test token for auth.mode jwt
//	gatepost presign [-rest] ...   ask a server for a presigned POST, print the JSON
//	gatepost upload [-rest] FILE   presign and upload FILE (exit 3: gatepost refused, 4: the store rejected)
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/tracing"
)

//go:embed gen/gatepost/v1/upload.swagger.json
var openAPI []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// A second signal while shutting down exits at once.
		<-ctx.Done()
		stop()
		hard := make(chan os.Signal, 1)
		signal.Notify(hard, os.Interrupt, syscall.SIGTERM)
		<-hard
		fmt.Fprintln(os.Stderr, "gatepost: second signal, exiting now")
		os.Exit(2)
	}()
	err := dispatch(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "gatepost: %v\n", err)
	}
	os.Exit(exitCode(err))
}

// dispatch runs a subcommand, or the server when the first argument is a
// flag or absent.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "hash-key":
			return hashKey(args[1:], stdin, stdout, stderr)
		case "token":
			return mintToken(args[1:], getenv, stdout, stderr)
		case "presign":
			return presignCommand(ctx, args[1:], getenv, stdout, stderr)
		case "upload":
			return uploadCommand(ctx, args[1:], getenv, stdout, stderr)
		case "serve":
			args = args[1:]
		}
	}
	return run(ctx, args, getenv, stderr)
}

// run starts the gatepost server and blocks until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.FromArgs("gatepost", args, getenv, stderr)
	if err != nil {
		return err
	}
	// Log lines are buffered (up to 256 KiB or 200 ms) rather than written
	// one syscall each: at thousands of requests a second the writes cost
	// more than the signing. Run flushes the buffer when it returns.
	logs := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(stderr), Size: 256 << 10, FlushInterval: 200 * time.Millisecond}
	defer func() { _ = logs.Stop() }()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
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
		Logger: logger, OpenAPI: openAPI, Getenv: getenv, TracerProvider: tp,
		ConfigFile: cfg.File,
		LoadConfig: func() (*config.Config, error) {
			return config.FromArgs("gatepost", args, getenv, io.Discard)
		},
		ReloadSignals: hup,
	})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
