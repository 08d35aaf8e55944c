package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/e2e/minio"
	"github.com/gatepost/gatepost/e2e/seaweed"
	"github.com/gatepost/gatepost/e2e/storeproc"
	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// bucket is the bucket every test profile uploads to.
const bucket = "uploads"

// objectStore is a running S3-compatible server under test.
type objectStore interface {
	Client() *s3.Client
	CreateBucket(ctx context.Context, name string) error
	AllowBrowserUploads(ctx context.Context, bucket string, origins []string) error
	Stop()
}

// target is one object store with the gatepost that signs for it.
type target struct {
	// name is the store's name, used as the subtest name.
	name string
	// kind is the store as gatepost's s3.store names it.
	kind config.Store
	// Access reaches the store with full rights.
	storeproc.Access
	store objectStore
	// s3 is a client of the store with full rights, for checking what
	// was stored and for setting things up behind gatepost's back.
	s3       *s3.Client
	gatepost *app.App
}

// stack is what the tests in this package share: every store under test
// (SeaweedFS first, then MinIO), each with its own gatepost.
var stack struct {
	targets []*target
	// allowedSite and otherSite serve the CORS probe page from two other
	// origins; gatepost allows only the first.
	allowedSite, otherSite *httptest.Server
}

// seaweedFS is the first store, the one the browser tests use.
func seaweedFS() *target { return stack.targets[0] }

// forEachStore runs f as a parallel subtest against every store.
func forEachStore(t *testing.T, f func(t *testing.T, st *target)) {
	t.Helper()
	for _, st := range stack.targets {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			f(t, st)
		})
	}
}

// forEachStoreInTurn runs f as a subtest against every store, one after
// the other (for tests that each drive a browser).
func forEachStoreInTurn(t *testing.T, f func(t *testing.T, st *target)) {
	t.Helper()
	for _, st := range stack.targets {
		t.Run(st.name, func(t *testing.T) { f(t, st) })
	}
}

// apiKey is the API key the tests authenticate with (subject "e2e");
// otherKey is another caller's (subject "e2e-other").
const (
	apiKey   = "gp_e2e_test_key_0123456789abcdefghij"
	otherKey = "gp_e2e_other_key_0123456789abcdefgh"
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Never let the AWS SDK look for instance credentials off this machine.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if testing.Short() {
		fmt.Println("e2e: skipped with -short")
		return 0
	}
	weedBinary, weedErr := seaweed.Binary()
	minioBinary, minioErr := minio.Binary()
	if err := errors.Join(weedErr, minioErr); err != nil {
		if os.Getenv("GATEPOST_REQUIRE_S3") != "" {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
		fmt.Printf("e2e: skipped: %v\n", err)
		return 0
	}
	dir, err := os.MkdirTemp("", "gatepost-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack.allowedSite = httptest.NewServer(corsProbePage())
	defer stack.allowedSite.Close()
	stack.otherSite = httptest.NewServer(corsProbePage())
	defer stack.otherSite.Close()

	var runErrs []chan error
	defer func() {
		cancel()
		for _, errc := range runErrs {
			select {
			case <-errc:
			case <-time.After(app.ShutdownTimeout + time.Second):
				fmt.Fprintln(os.Stderr, "e2e: gatepost did not stop")
			}
		}
		for _, st := range stack.targets {
			st.store.Stop()
		}
	}()
	// Each store: its name, and a start that gives it and how to reach it.
	starts := []struct {
		name  string
		kind  config.Store
		start func(dir string) (objectStore, storeproc.Access, error)
	}{
		{"SeaweedFS", config.StoreSeaweedFS, func(dir string) (objectStore, storeproc.Access, error) {
			srv, err := seaweed.Start(ctx, weedBinary, dir)
			if err != nil {
				return nil, storeproc.Access{}, err
			}
			return srv, srv.Access, nil
		}},
		{"MinIO", config.StoreMinIO, func(dir string) (objectStore, storeproc.Access, error) {
			srv, err := minio.Start(ctx, minioBinary, dir)
			if err != nil {
				return nil, storeproc.Access{}, err
			}
			return srv, srv.Access, nil
		}},
	}
	for _, s := range starts {
		store, access, err := s.start(filepath.Join(dir, strings.ToLower(s.name)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s: %v\n", s.name, err)
			return 1
		}
		st := &target{name: s.name, kind: s.kind, Access: access, store: store, s3: access.Client()}
		stack.targets = append(stack.targets, st)
		errc, err := st.startGatepost(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s: %v\n", s.name, err)
			return 1
		}
		runErrs = append(runErrs, errc)
	}
	return m.Run()
}

// startGatepost creates the test bucket in the store and starts a gatepost
// that signs for it with the store's credentials.
func (st *target) startGatepost(ctx context.Context) (chan error, error) {
	if err := st.store.CreateBucket(ctx, bucket); err != nil {
		return nil, err
	}
	cfg := testConfig(st.Endpoint, st.kind)
	cfg.CORS.AllowedOrigins = []string{stack.allowedSite.URL}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("test configuration: %w", err)
	}
	a, err := app.New(ctx, cfg, app.Options{
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		AWSOptions: []func(*awsconfig.LoadOptions) error{st.credentials()},
	})
	if err != nil {
		return nil, fmt.Errorf("start gatepost: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	st.gatepost = a
	// The demo page is served by gatepost; it uploads to the store's
	// origin, so the bucket must allow gatepost's origin.
	if err := st.store.AllowBrowserUploads(ctx, bucket, []string{"http://" + a.HTTPAddr()}); err != nil {
		return nil, err
	}
	return errc, nil
}

var noOverwrite = false

// testConfig is gatepost's configuration for the tests: small limits so
// that "too large" needs only a few kilobytes. On SeaweedFS, whose POST
// uploads apply request headers no policy covers, the tests accept that
// for plain profiles, and the pinned profile offers no POST (gatepost
// refuses to: an attachment pin would not hold).
func testConfig(endpoint string, kind config.Store) *config.Config {
	cfg := &config.Config{
		Auth: config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{
			{Subject: "e2e", SHA256: auth.HashKey(apiKey), Profiles: []string{config.AllProfiles}},
			{Subject: "e2e-other", SHA256: auth.HashKey(otherKey), Profiles: []string{config.AllProfiles}},
		}},
		RateLimit: config.RateLimit{Disabled: true},
		GRPCAddr:  "127.0.0.1:0",
		HTTPAddr:  "127.0.0.1:0",
		S3:        config.S3{Region: seaweed.Region, Endpoint: endpoint, PathStyle: true},
		Profiles: map[string]config.Profile{
			"default": {
				Bucket: bucket, KeyPrefix: "user-uploads/", KeyMode: config.KeyModeClient,
				MinBytes: 1, MaxBytes: 1024,
				ContentTypes: []string{"image/png", "text/plain"},
				Expires:      15 * time.Minute,
				MetadataKeys: []string{"owner", "purpose"},
			},
			"generated": {
				Bucket: bucket, KeyPrefix: "generated/", KeyMode: config.KeyModeGenerated,
				MinBytes: 1, MaxBytes: 1024,
				ContentTypes: []string{"image/png", "text/plain"},
				Expires:      15 * time.Minute,
			},
			"large": {
				Bucket: bucket, KeyPrefix: "large/{subject}/", KeyMode: config.KeyModeClient,
				MinBytes: 1, MaxBytes: 64 << 20,
				ContentTypes: []string{"application/octet-stream", "text/plain"},
				Expires:      15 * time.Minute,
				MetadataKeys: []string{"owner"},
			},
			"postonly": {
				Bucket: bucket, KeyPrefix: "postonly/", MaxBytes: 1024,
				ContentTypes: []string{"text/plain"}, Expires: time.Minute,
				Methods: []config.Method{config.MethodPost},
			},
			// pinned downloads whatever it stores, so it may take HTML.
			"pinned": {
				Bucket: bucket, KeyPrefix: "pinned/{subject}/", MinBytes: 1, MaxBytes: 64 << 20,
				ContentTypes: []string{"text/plain", "text/html", "application/octet-stream"}, Expires: 15 * time.Minute,
				ContentDisposition: "attachment", CacheControl: "private, max-age=60",
			},
			"noclobber": {
				Bucket: bucket, KeyPrefix: "noclobber/{subject}/", MinBytes: 1, MaxBytes: 64 << 20,
				ContentTypes: []string{"text/plain", "application/octet-stream"}, Expires: 15 * time.Minute,
				Methods: []config.Method{config.MethodPut, config.MethodMultipart}, Overwrite: &noOverwrite,
			},
			// unsized takes multipart uploads of undeclared size (Uppy's
			// Companion routes), up to 12 MiB, under a byte quota.
			"unsized": {
				Bucket: bucket, KeyPrefix: "unsized/{subject}/", MinBytes: 1, MaxBytes: 12 << 20,
				ContentTypes: []string{"application/octet-stream", "text/plain"}, Expires: 15 * time.Minute,
				Methods: []config.Method{config.MethodPost, config.MethodMultipart}, AllowUnsizedMultipart: true,
				Quota: &config.Quota{Bytes: 1 << 40, Per: 24 * time.Hour},
			},
			"shortlived": {
				Bucket: bucket, KeyPrefix: "short/", KeyMode: config.KeyModeClient,
				MinBytes: 1, MaxBytes: 1024,
				ContentTypes: []string{"text/plain"},
				Expires:      time.Second,
			},
		},
	}
	cfg.S3.Store = kind
	if kind == config.StoreSeaweedFS {
		cfg.S3.AcceptSeaweedFSPostHeaders = true
		pinned := cfg.Profiles["pinned"]
		pinned.Methods = []config.Method{config.MethodPut, config.MethodMultipart}
		cfg.Profiles["pinned"] = pinned
	}
	return cfg
}
