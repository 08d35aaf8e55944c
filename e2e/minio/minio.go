// Package minio starts a real MinIO server on loopback, as a separate
// process, for gatepost's integration tests. MinIO is AGPL-3.0: it is
// built from the Go module proxy by `make minio` and only ever run, never
// imported.
//
// MinIO always checks SigV4 signatures and POST policies; Start gives it
// fresh random root credentials.
package minio

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
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BinaryEnv names the environment variable holding the path of the minio
// binary; the Makefile sets it.
const BinaryEnv = "GATEPOST_MINIO"

// Region is MinIO's default signing region.
const Region = "us-east-1"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is a running MinIO.
type Server struct {
	// Endpoint is the S3 API's base URL, for example http://127.0.0.1:41234.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Binary returns the path of the minio binary from $GATEPOST_MINIO or PATH.
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w (run `make minio`)", BinaryEnv, p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("minio")
	if err != nil {
		return "", fmt.Errorf("no MinIO binary: set %s or run `make minio`", BinaryEnv)
	}
	return p, nil
}

// Start runs MinIO with its data in dir/data on free loopback ports (the
// S3 API and a console it never uses) and waits until it is ready. Its
// output goes to dir/minio.log.
func Start(ctx context.Context, binary, dir string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		AccessKey: "gp" + randomHex(9), SecretKey: randomHex(20),
		done: make(chan struct{}),
	}
	s.cmd = exec.Command(binary, "server", dataDir, "--quiet",
		"--address", "127.0.0.1:"+strconv.Itoa(ports[0]),
		"--console-address", "127.0.0.1:"+strconv.Itoa(ports[1]))
	// Nothing but loopback: no update checks, no console, no call-home.
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_UPDATE=off", "MINIO_BROWSER=off", "MINIO_CALLHOME_ENABLE=off",
		"MINIO_REGION="+Region, "HOME="+dir)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("MinIO did not become ready (log: %s): %w", logFile.Name(), err)
	}
	return s, nil
}

// waitReady polls MinIO's readiness endpoint, then an authenticated
// ListBuckets.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := s.Client()
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("minio exited: %v", s.err)
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

// Client returns an S3 client for the server, with path-style addressing
// and the root credentials.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// AllowBrowserUploads does nothing: MinIO answers PutBucketCors with
// NotImplemented and allows every origin (exposing ETag) by default.
func (s *Server) AllowBrowserUploads(context.Context, string, []string) error { return nil }

// Stop sends SIGTERM to the process group and waits for it to exit, killing
// it if it takes longer than 10 seconds.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// freePorts returns n distinct free loopback ports; see the seaweed
// package for the (rare) race this leaves.
func freePorts(n int) ([]int, error) {
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

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed")) // cannot happen on Linux
	}
	return hex.EncodeToString(b)
}
