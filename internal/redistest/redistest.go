// Package redistest runs Debian's redis-server for tests: on a free
// loopback port, with no persistence, stopped when the test ends. Tests
// can stop and start it again to play an outage.
package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/childproc"
)

// RequireEnv, when set, makes a missing redis-server fail the test
// instead of skipping it (CI sets it).
const RequireEnv = "GATEPOST_REQUIRE_REDIS"

// Server is a running (or stopped) redis-server.
type Server struct {
	// Addr is host:port, the same across restarts.
	Addr string
	// URL is redis://Addr/0.
	URL string

	t    testing.TB
	bin  string
	proc *childproc.Process
}

// Start starts redis-server, or skips the test without one.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("redis-server not found (apt-get install redis-server): %v", err)
		}
		t.Skip("redis-server not found (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Addr: addr, URL: "redis://" + addr + "/0", t: t, bin: bin}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on its address after Stop (or for the
// first time), and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	proc, err := childproc.Start(exec.Command(s.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning", "--dir", s.t.TempDir()), "")
	if err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.proc = proc
	client := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer client.Close()
	err = proc.WaitReady(context.Background(), 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return client.Ping(ctx).Err()
	})
	if err != nil {
		s.t.Fatalf("redis-server on %s: %v", s.Addr, err)
	}
}

// Stop kills the server (an outage: nothing is saved) and waits for it
// to exit.
func (s *Server) Stop() {
	s.proc.Stop(0)
	s.proc = nil
}

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { c.Close() })
	return c
}
