// Package seaweed starts a real SeaweedFS server with S3 signature checking
// on loopback, for gatepost's integration tests and for `make run`.
//
// SeaweedFS checks SigV4 signatures and POST policies only when it is given
// an identity configuration, so Start always writes one with fresh random
// credentials.
package seaweed

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gatepost/gatepost/e2e/storeproc"
)

// BinaryEnv names the environment variable holding the path of the weed
// binary; the Makefile sets it.
const BinaryEnv = "GATEPOST_WEED"

// Region is the signing region SeaweedFS accepts for any request.
const Region = storeproc.Region

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
)

// Server is a running SeaweedFS.
type Server struct {
	// Access reaches its S3 API with every right.
	storeproc.Access

	proc *storeproc.Process
	// sockets are the unix sockets SeaweedFS makes in /tmp, whatever
	// directory it is given; Stop removes them.
	sockets []string
}

// Binary returns the path of the weed binary from $GATEPOST_WEED or PATH.
func Binary() (string, error) { return storeproc.Binary(BinaryEnv, "weed", "run `make weed`") }

// Start runs SeaweedFS (master, volume, filer and S3 in one process) with
// its data in dir, on free loopback ports, and waits until the S3 API
// answers. Its output goes to dir/weed.log. A start that loses a port to
// another process is tried again on fresh ones.
func Start(ctx context.Context, binary, dir string) (*Server, error) {
	var s *Server
	err := storeproc.Retrying(func() (err error) {
		s, err = start(ctx, binary, dir)
		return err
	})
	return s, err
}

func start(ctx context.Context, binary, dir string) (*Server, error) {
	access, secret := storeproc.RandomHex(10), storeproc.RandomHex(20)
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
	ports, err := storeproc.FreePorts(8)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	// -logdir: glog would write its files to the system temporary
	// directory, where they outlive the run.
	cmd := exec.Command(binary, "-logdir="+dir, "server",
		"-dir="+dataDir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p(0), "-master.port.grpc="+p(1),
		"-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+confPath,
		"-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3.localSocket="+filepath.Join(dir, "s3.sock"),
		// Room for the suite (the browser tests send many 21 MiB files;
		// deleted bytes are not reclaimed): 32 volumes of 64 MiB at most.
		"-master.volumeSizeLimitMB=64", "-volume.max=32",
		"-master.telemetry=false",
	)
	logPath := filepath.Join(dir, "weed.log")
	proc, err := storeproc.Start(cmd, logPath)
	if err != nil {
		return nil, err
	}
	s := &Server{Access: storeproc.Access{Endpoint: "http://127.0.0.1:" + p(6), AccessKey: access, SecretKey: secret}, proc: proc}
	// SeaweedFS names these after the gRPC ports, always in /tmp.
	for role, port := range map[string]string{"master": p(1), "volume": p(3), "filer": p(5), "s3": p(7)} {
		s.sockets = append(s.sockets, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%s.sock", role, port))
	}
	if err := proc.WaitReady(ctx, s.Client(), startTimeout); err != nil {
		s.Stop()
		return nil, fmt.Errorf("SeaweedFS did not become ready: %w; the end of %s:\n%s", err, logPath, storeproc.LogTail(logPath))
	}
	return s, nil
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

// Stop stops SeaweedFS, killing it if it takes longer than 20 seconds.
func (s *Server) Stop() { s.StopWithin(stopTimeout) }

// StopWithin stops SeaweedFS, killing it after timeout (a short one suits
// data that is thrown away anyway, such as `make run`'s), and removes the
// sockets it leaves in /tmp.
func (s *Server) StopWithin(timeout time.Duration) {
	s.proc.Stop(timeout)
	for _, path := range s.sockets {
		_ = os.Remove(path)
	}
}
