// Package seaweed starts a real SeaweedFS server with S3 signature checking
// on loopback, for gatepost's integration tests and for `make run`.
//
// SeaweedFS checks SigV4 signatures and POST policies only when it is given
// an identity configuration, so Start always writes one with fresh random
// credentials.
package seaweed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// BinaryEnv names the environment variable holding the path of the weed
// binary; the Makefile sets it.
const BinaryEnv = "GATEPOST_WEED"

// Region is the signing region SeaweedFS accepts for any request.
const Region = "us-east-1"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
)

// Server is a running SeaweedFS.
type Server struct {
	// Endpoint is the S3 API's base URL, for example http://127.0.0.1:41234.
	Endpoint string
	// AccessKey and SecretKey are the credentials of the one identity, which
	// may do everything.
	AccessKey, SecretKey string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Binary returns the path of the weed binary from $GATEPOST_WEED or PATH.
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w (run `make weed`)", BinaryEnv, p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("weed")
	if err != nil {
		return "", fmt.Errorf("no SeaweedFS binary: set %s or run `make weed`", BinaryEnv)
	}
	return p, nil
}

// Start runs SeaweedFS (master, volume, filer and S3 in one process) with
// its data in dir, on free loopback ports, and waits until the S3 API
// answers. Its output goes to dir/weed.log.
func Start(ctx context.Context, binary, dir string) (*Server, error) {
	access, secret := randomHex(10), randomHex(20)
	identities := map[string]any{"identities": []any{map[string]any{
		"name":        "gatepost-test",
		"credentials": []any{map[string]string{"accessKey": access, "secretKey": secret}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "s3-identities.json")
	conf, _ := json.Marshal(identities)
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return nil, fmt.Errorf("write identity config: %w", err)
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	cmd := exec.Command(binary, "server",
		"-dir="+dataDir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p(0), "-master.port.grpc="+p(1),
		"-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+confPath,
		"-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3.localSocket="+filepath.Join(dir, "s3.sock"),
		"-master.volumeSizeLimitMB=64", "-volume.max=4",
		"-master.telemetry=false",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	s := &Server{
		Endpoint:  "http://127.0.0.1:" + p(6),
		AccessKey: access, SecretKey: secret,
		cmd: cmd, done: make(chan struct{}),
	}
	go func() {
		s.err = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("SeaweedFS did not become ready (log: %s): %w", logFile.Name(), err)
	}
	return s, nil
}

// waitReady polls until an authenticated ListBuckets succeeds, which needs
// the master, volume, filer and S3 servers all up.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := s.Client()
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("weed exited: %v", s.err)
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
// and the server's static credentials.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// CreateBucket creates a bucket, retrying briefly while the filer settles.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	client := s.Client()
	var err error
	for range 20 {
		_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("create bucket %s: %w", name, err)
}

// AllowBrowserUploads sets the bucket's CORS configuration so that pages
// from origins may POST (and PUT) uploads and read the answer, as browsers
// need for direct uploads.
func (s *Server) AllowBrowserUploads(ctx context.Context, bucket string, origins []string) error {
	_, err := s.Client().PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedOrigins: origins,
			AllowedMethods: []string{"POST", "PUT", "GET", "HEAD"},
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag", "Location"},
			MaxAgeSeconds:  aws.Int32(600),
		}}},
	})
	if err != nil {
		return fmt.Errorf("set CORS on bucket %s: %w", bucket, err)
	}
	return nil
}

// Stop sends SIGTERM to the process group and waits for it to exit, killing
// it if it takes longer than 20 seconds.
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

// freePorts returns n distinct free loopback ports. They are free when
// checked; SeaweedFS binds them a moment later, so a clash is possible but
// rare, and Start then fails with weed's own error.
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
