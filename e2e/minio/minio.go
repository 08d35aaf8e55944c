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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/e2e/storeproc"
)

// BinaryEnv names the environment variable holding the path of the minio
// binary; the Makefile sets it.
const BinaryEnv = "GATEPOST_MINIO"

// Region is the signing region MinIO is started with.
const Region = storeproc.Region

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is a running MinIO.
type Server struct {
	// Access reaches its S3 API with every right.
	storeproc.Access

	proc *storeproc.Process
}

// Binary returns the path of the minio binary from $GATEPOST_MINIO or PATH.
func Binary() (string, error) { return storeproc.Binary(BinaryEnv, "minio", "run `make minio`") }

// Start runs MinIO with its data in dir/data on free loopback ports (the
// S3 API and a console it never uses) and waits until it is ready. Its
// output goes to dir/minio.log. env adds to its environment (notification
// targets, say: MINIO_NOTIFY_WEBHOOK_...).
func Start(ctx context.Context, binary, dir string, env ...string) (*Server, error) {
	var s *Server
	err := storeproc.Retrying(func() (err error) {
		s, err = start(ctx, binary, dir, env)
		return err
	})
	return s, err
}

func start(ctx context.Context, binary, dir string, env []string) (*Server, error) {
	ports, err := storeproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Access: storeproc.Access{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		AccessKey: "gp" + storeproc.RandomHex(9), SecretKey: storeproc.RandomHex(20),
	}}
	cmd := exec.Command(binary, "server", dataDir, "--quiet",
		"--address", "127.0.0.1:"+strconv.Itoa(ports[0]),
		"--console-address", "127.0.0.1:"+strconv.Itoa(ports[1]))
	// Nothing but loopback: no update checks, no console, no call-home.
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_UPDATE=off", "MINIO_BROWSER=off", "MINIO_CALLHOME_ENABLE=off",
		"MINIO_REGION="+Region, "HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	logPath := filepath.Join(dir, "minio.log")
	if s.proc, err = storeproc.Start(cmd, logPath); err != nil {
		return nil, err
	}
	if err := s.proc.WaitReady(ctx, s.Client(), startTimeout); err != nil {
		s.Stop()
		return nil, fmt.Errorf("MinIO did not become ready: %w; the end of %s:\n%s", err, logPath, storeproc.LogTail(logPath))
	}
	return s, nil
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

// Stop stops MinIO, killing it if it takes longer than 10 seconds.
func (s *Server) Stop() { s.proc.Stop(stopTimeout) }
