package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// testProfiles returns the profiles the service tests use. They are
// checked with config's own validation, since NewService expects valid ones.
func testProfiles(tb testing.TB) map[string]config.Profile {
	tb.Helper()
	profiles := map[string]config.Profile{
		config.DefaultProfile: {
			Bucket:       "uploads",
			KeyPrefix:    "incoming/",
			KeyMode:      config.KeyModeClient,
			MinBytes:     1,
			MaxBytes:     10 << 20,
			ContentTypes: []string{"image/png", "image/jpeg", "text/plain"},
			Expires:      10 * time.Minute,
			MetadataKeys: []string{"origin", "note"},
		},
		"avatars": {
			Bucket:       "avatars",
			KeyPrefix:    "users/",
			KeyMode:      config.KeyModeGenerated,
			MinBytes:     100,
			MaxBytes:     1 << 20,
			ContentTypes: []string{"image/*"},
			// image/* admits SVG, which browsers run: downloaded only.
			ContentDisposition: "attachment",
			Expires:            5 * time.Minute,
		},
		"anything": {
			Bucket:             "misc",
			KeyMode:            config.KeyModeClient,
			MaxBytes:           config.MaxPostBytes,
			ContentTypes:       []string{"*/*"},
			ContentDisposition: "attachment",
			Expires:            time.Hour,
		},
	}
	cfg := config.Config{
		Auth:     config.Auth{Mode: config.AuthNone},
		GRPCAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		S3:       config.S3{Region: "us-east-1"},
		Profiles: profiles,
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("test profiles are invalid: %v", err)
	}
	return profiles
}

// syncBuffer is a bytes.Buffer that a logger may write to from any goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func length(n int64) *int64 { return &n }

// anyone is the identity of every caller in auth mode none.
var anyone = &auth.Identity{Subject: auth.AnonymousSubject, Profiles: []string{config.AllProfiles}}

// anonymous returns ctx carrying the identity the interceptor gives every
// caller in auth mode none.
func anonymous(ctx context.Context) context.Context {
	return ContextWithIdentity(ctx, anyone)
}

// TestAuditNamesOneClient: an audit line names the client as one address,
// whatever X-Forwarded-For the caller sent (a long forged one included).
func TestAuditNamesOneClient(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	trusted, err := config.ParsePrefixes([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(testProfiles(t), &fakeStore{}, slog.New(slog.NewJSONHandler(&logs, nil)),
		WithClientAddresses(NewClientAddresses(trusted)))
	forged := strings.Repeat("forged-hop, ", 2000)
	ctx := metadata.NewIncomingContext(anonymous(t.Context()), metadata.Pairs("x-forwarded-for", forged+"198.51.100.1, 10.1.2.3"))
	if _, err := svc.CreatePresignedPost(ctx, &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	log := logs.String()
	if !strings.Contains(log, `"client":"198.51.100.1"`) {
		t.Errorf("the audit line does not name the client 198.51.100.1:\n%s", log)
	}
	if strings.Contains(log, "forged-hop") || len(log) > 1024 {
		t.Errorf("the audit line (%d bytes) carries the caller's X-Forwarded-For", len(log))
	}
}
