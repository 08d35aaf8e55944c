// Package storeproc runs an S3-compatible server as a child process for
// gatepost's tests: free loopback ports, random credentials, waiting until
// its S3 API answers, and stopping its whole process group.
package storeproc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/internal/childproc"
)

// Region is the signing region the tests use with every store.
const Region = "us-east-1"

// Process is a running store.
type Process struct{ *childproc.Process }

// Start starts cmd in its own process group with its output in logPath.
func Start(cmd *exec.Cmd, logPath string) (*Process, error) {
	p, err := childproc.Start(cmd, logPath)
	if err != nil {
		return nil, err
	}
	return &Process{p}, nil
}

// WaitReady polls an authenticated ListBuckets until it succeeds, the
// process exits, or timeout passes.
func (p *Process) WaitReady(ctx context.Context, client *s3.Client, timeout time.Duration) error {
	return p.Process.WaitReady(ctx, timeout, 200*time.Millisecond, func(ctx context.Context) error {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := client.ListBuckets(callCtx, &s3.ListBucketsInput{})
		return err
	})
}

// Stop sends SIGTERM to the process group and waits for it to exit,
// killing it after timeout; a nil Process is already stopped.
func (p *Process) Stop(timeout time.Duration) {
	if p != nil {
		p.Process.Stop(timeout)
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
// rare, and the store then exits: start it through Retrying.
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

// startAttempts is how many times Retrying starts a store.
const startAttempts = 3

// Retrying calls start until it succeeds, at most three times. A store
// started on ports from FreePorts can lose one of them to another process
// (a parallel test package) in the moment between the check and its bind;
// it then exits before it answers (childproc.ErrExited), and a fresh set
// of ports is the remedy. Any other failure is returned at once.
func Retrying(start func() error) error {
	var err error
	for range startAttempts {
		if err = start(); err == nil || !errors.Is(err, childproc.ErrExited) {
			return err
		}
	}
	return fmt.Errorf("%d attempts on fresh ports: %w", startAttempts, err)
}

// LogTail returns the last lines (at most 2 KiB) of the log at path, for
// an error message that shows why a store failed without a separate file.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const limit = 2048
	if len(b) > limit {
		b = b[len(b)-limit:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(bytes.TrimSpace(b))
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
