package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs what `make run` runs, with -smoke: SeaweedFS, the gatepost
// binary, and every command the banner prints, checked. It needs the
// binaries that `make test` builds (GATEPOST_BIN, GATEPOST_GRPCURL,
// GATEPOST_WEED).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS and gatepost")
	}
	bins := binaries(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var out bytes.Buffer
	err := run(t.Context(), []string{
		"-smoke",
		"-gatepost", bins["GATEPOST_BIN"], "-grpcurl", bins["GATEPOST_GRPCURL"], "-weed", bins["GATEPOST_WEED"],
		"-http-addr", freeAddr(t), "-grpc-addr", freeAddr(t),
	}, &out)
	if err != nil {
		t.Fatalf("make run smoke test: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Starting SeaweedFS") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestBusyPort: with gatepost's address taken (another `make run`), devstack
// starts nothing and names the address and how to choose another.
func TestBusyPort(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var out bytes.Buffer
	err = run(t.Context(), []string{
		"-weed", "/nonexistent/weed", "-http-addr", busy.Addr().String(), "-grpc-addr", freeAddr(t),
	}, &out)
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()+" is in use") || !strings.Contains(err.Error(), "GATEPOST_HTTP_ADDR=127.0.0.1:") {
		t.Errorf("run with a busy HTTP address: %v; want an error naming it and GATEPOST_HTTP_ADDR", err)
	}
	// Both busy: one message, one command that sets both.
	busy2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy2.Close()
	err = run(t.Context(), []string{
		"-weed", "/nonexistent/weed", "-http-addr", busy.Addr().String(), "-grpc-addr", busy2.Addr().String(),
	}, &out)
	if err == nil || !strings.Contains(err.Error(), busy2.Addr().String()) || !strings.Contains(err.Error(), " are in use") ||
		!strings.Contains(err.Error(), "GATEPOST_HTTP_ADDR=127.0.0.1:") || !strings.Contains(err.Error(), "GATEPOST_GRPC_ADDR=127.0.0.1:") {
		t.Errorf("run with both addresses busy: %v; want one error naming both, with a command setting both", err)
	}
	if strings.Contains(out.String(), "Starting") {
		t.Errorf("started something before checking the ports:\n%s", out.String())
	}
}

// TestInterrupt: Ctrl-C (the context ending) after the banner stops
// gatepost and SeaweedFS and returns no error, so `make run` exits 0; the
// ports are free again.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS and gatepost")
	}
	bins := binaries(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, w := io.Pipe()
	httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{
			"-gatepost", bins["GATEPOST_BIN"], "-grpcurl", bins["GATEPOST_GRPCURL"], "-weed", bins["GATEPOST_WEED"],
			"-http-addr", httpAddr, "-grpc-addr", grpcAddr,
		}, w)
		w.Close()
		done <- err
	}()
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.Contains(lines.Text(), "gatepost is running") {
	}
	go func() { _, _ = io.Copy(io.Discard, out) }() // the rest of the banner
	select {
	case err := <-done:
		t.Fatalf("run ended before the banner: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after Ctrl-C: %v, want nil (exit 0)", err)
	}
	for _, addr := range []string{httpAddr, grpcAddr} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s still in use after Ctrl-C: %v", addr, err)
			continue
		}
		l.Close()
	}
}

// TestGatepostExitsAtOnce: when gatepost exits by itself (a bad
// configuration, a crash), devstack stops SeaweedFS and says so, instead
// of waiting for ever.
func TestGatepostExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS")
	}
	bins := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{
		"-gatepost", "/bin/false", "-grpcurl", bins["GATEPOST_GRPCURL"], "-weed", bins["GATEPOST_WEED"],
		"-http-addr", freeAddr(t), "-grpc-addr", freeAddr(t),
	}, &out)
	if err == nil || !strings.Contains(err.Error(), "gatepost exited") {
		t.Errorf("run with a gatepost that exits: %v; want \"gatepost exited\"", err)
	}
	if ctx.Err() != nil {
		t.Errorf("run returned only when the test's own deadline passed")
	}
}

// binaries returns the binaries `make test` builds, or skips (fails under
// GATEPOST_REQUIRE_S3) without them.
func binaries(t *testing.T) map[string]string {
	t.Helper()
	bins := map[string]string{}
	for _, env := range []string{"GATEPOST_BIN", "GATEPOST_GRPCURL", "GATEPOST_WEED"} {
		bins[env] = os.Getenv(env)
		if bins[env] == "" {
			if os.Getenv("GATEPOST_REQUIRE_S3") != "" {
				t.Fatalf("%s is not set (run `make test`)", env)
			}
			t.Skipf("%s is not set (run `make test`)", env)
		}
	}
	return bins
}
