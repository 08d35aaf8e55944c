// Package redistest runs Debian's redis-server for tests: on a free
// loopback port, with no persistence, stopped when the test ends. Tests
// can stop and start it again to play an outage.
package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	cmd  *exec.Cmd
	done chan struct{}
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
	s.cmd = exec.Command(s.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning", "--dir", s.t.TempDir())
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	client := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (an outage: nothing is saved) and waits for it
// to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { c.Close() })
	return c
}
