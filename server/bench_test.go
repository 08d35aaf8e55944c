package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/s3store"
	"github.com/gatepost/gatepost/server"
)

// BenchmarkCreatePresignedPost measures the whole presign path of the
// service (validation, policy building, signing with the real SDK signer)
// without any transport. Compare with BenchmarkBarePresignPostObject in
// internal/s3store, the SDK call alone.
func BenchmarkCreatePresignedPost(b *testing.B) {
	svc, ctx, req := benchService(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.CreatePresignedPost(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreatePresignedPostInProcess is the same call as the REST
// gateway makes it: through server.InProcess, which copies the request and
// the response as a transport would.
func BenchmarkCreatePresignedPostInProcess(b *testing.B) {
	svc, ctx, req := benchService(b)
	client := gatepostv1.NewUploadServiceClient(server.InProcess(svc, nil))
	ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("x-forwarded-for", "127.0.0.1"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.CreatePresignedPost(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchService(b *testing.B) (*server.Service, context.Context, *gatepostv1.CreatePresignedPostRequest) {
	b.Helper()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	signer, err := s3store.New(b.Context(), config.S3{Region: "us-east-1", Endpoint: "http://127.0.0.1:9", PathStyle: true},
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")))
	if err != nil {
		b.Fatal(err)
	}
	profiles := map[string]config.Profile{"default": {
		Bucket: "uploads", KeyPrefix: "user-uploads/", KeyMode: config.KeyModeClient,
		MinBytes: 1, MaxBytes: 10 << 20, ContentTypes: []string{"image/png", "text/plain"},
		Expires: 15 * time.Minute, MetadataKeys: []string{"owner"},
	}}
	svc := server.NewService(profiles, signer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := &gatepostv1.CreatePresignedPostRequest{
		Key: "photos/cat.png", ContentType: "image/png", ContentLength: proto.Int64(12345),
		Metadata: map[string]string{"owner": "alice"},
	}
	ctx := server.ContextWithIdentity(b.Context(), &auth.Identity{Subject: "bench", Profiles: []string{"default"}})
	return svc, ctx, req
}
