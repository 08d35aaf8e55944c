// Package storeproc runs an S3-compatible server as a child process for
// gatepost's tests: free loopback ports, random credentials, waiting until
// its S3 API answers, and stopping its whole process group.
package storeproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Region is the signing region the tests use with every store.
const Region = "us-east-1"

// Process is a running store.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts cmd in its own process group with its output in logPath.
func Start(cmd *exec.Cmd, logPath string) (*Process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group (Ctrl-C reaches only the test or devstack,
	// which stop it), killed by the kernel if its parent dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// WaitReady polls an authenticated ListBuckets until it succeeds, the
// process exits, or timeout passes.
func (p *Process) WaitReady(ctx context.Context, client *s3.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("the store exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("%w; last error: %v", ctx.Err(), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		_, lastErr = client.ListBuckets(callCtx, &s3.ListBucketsInput{})
		callCancel()
		if lastErr == nil {
			return nil
		}
	}
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the process group and waits for it to exit,
// killing it after timeout.
func (p *Process) Stop(timeout time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Access is where a store's S3 API answers and the credentials that may
// do everything there. The store packages embed it in their Server.
type Access struct {
	// Endpoint is the S3 API's base URL, for example http://127.0.0.1:41234.
	Endpoint string
	// AccessKey and SecretKey are the credentials with every right.
	AccessKey, SecretKey string
}

// Client returns an S3 client for the store, with path-style addressing
// and the static credentials.
func (a Access) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(a.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(a.AccessKey, a.SecretKey, ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// FreePorts returns n distinct free loopback ports. They are free when
// checked; the store binds them a moment later, so a clash is possible but
// rare, and the store then fails with its own error.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// RandomHex returns 2n random hex digits.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed")) // cannot happen on Linux
	}
	return hex.EncodeToString(b)
}

// Binary returns the path in the environment variable env, or the named
// command on PATH; hint says how to build it.
func Binary(env, command, hint string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w (%s)", env, p, err, hint)
		}
		return p, nil
	}
	p, err := exec.LookPath(command)
	if err != nil {
		return "", fmt.Errorf("no %s binary: set %s or %s", command, env, hint)
	}
	return p, nil
}
