package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gatepost/gatepost/e2e/seaweed"
	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// bucket is the bucket every test profile uploads to.
const bucket = "uploads"

// stack is the SeaweedFS and gatepost shared by the tests in this package.
var stack struct {
	s3       *seaweed.Server
	gatepost *app.App
	// allowedSite and otherSite serve the CORS probe page from two other
	// origins; gatepost allows only the first.
	allowedSite, otherSite *httptest.Server
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
	binary, err := seaweed.Binary()
	if err != nil {
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
	s3srv, err := seaweed.Start(ctx, binary, dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer s3srv.Stop()
	if err := s3srv.CreateBucket(ctx, bucket); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	stack.s3 = s3srv

	stack.allowedSite = httptest.NewServer(corsProbePage())
	defer stack.allowedSite.Close()
	stack.otherSite = httptest.NewServer(corsProbePage())
	defer stack.otherSite.Close()

	cfg := testConfig(s3srv.Endpoint)
	cfg.CORS.AllowedOrigins = []string{stack.allowedSite.URL}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: test configuration: %v\n", err)
		return 1
	}
	a, err := app.New(ctx, cfg, app.Options{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		AWSOptions: []func(*awsconfig.LoadOptions) error{
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s3srv.AccessKey, s3srv.SecretKey, "")),
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start gatepost: %v\n", err)
		return 1
	}
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	stack.gatepost = a
	// The demo page is served by gatepost; it uploads to the store's
	// origin, so the bucket must allow gatepost's origin.
	if err := s3srv.AllowBrowserUploads(ctx, bucket, []string{"http://" + a.HTTPAddr()}); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}

	code := m.Run()
	cancel()
	select {
	case <-runErr:
	case <-time.After(app.ShutdownTimeout + time.Second):
		fmt.Fprintln(os.Stderr, "e2e: gatepost did not stop")
		code = 1
	}
	return code
}

// testConfig is gatepost's configuration for the tests: small limits so
// that "too large" needs only a few kilobytes.
func testConfig(endpoint string) *config.Config {
	return &config.Config{
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
				ContentTypes: []string{"image/png", "text/*"},
				Expires:      15 * time.Minute,
				MetadataKeys: []string{"owner", "purpose"},
			},
			"generated": {
				Bucket: bucket, KeyPrefix: "generated/", KeyMode: config.KeyModeGenerated,
				MinBytes: 1, MaxBytes: 1024,
				ContentTypes: []string{"*/*"},
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
			"shortlived": {
				Bucket: bucket, KeyPrefix: "short/", KeyMode: config.KeyModeClient,
				MinBytes: 1, MaxBytes: 1024,
				ContentTypes: []string{"text/plain"},
				Expires:      time.Second,
			},
		},
	}
}
