package server

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// PostSigner signs upload policies. The S3 adapter (package s3post)
// implements it; tests use fakes.
type PostSigner interface {
	SignPost(ctx context.Context, p *uploadpolicy.Post) (*uploadpolicy.Signed, error)
}

// Service implements gatepostv1.UploadServiceServer.
type Service struct {
	gatepostv1.UnimplementedUploadServiceServer

	profiles map[string]config.Profile
	signer   PostSigner
	logger   *slog.Logger
}

// NewService returns a Service that signs with signer according to
// profiles. The profiles must have been validated.
func NewService(profiles map[string]config.Profile, signer PostSigner, logger *slog.Logger) *Service {
	return &Service{profiles: profiles, signer: signer, logger: logger}
}

// CreatePresignedPost validates the request against its profile and returns
// a presigned POST upload. Invalid requests get InvalidArgument with a
// message naming the field; nothing is signed for them. A signing failure
// (for example no credentials) is Unavailable.
func (s *Service) CreatePresignedPost(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest) (*gatepostv1.CreatePresignedPostResponse, error) {
	post, err := s.decide(req)
	if err != nil {
		return nil, err
	}
	signed, err := s.signer.SignPost(ctx, post)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		s.logger.ErrorContext(ctx, "signing failed", "bucket", post.Bucket, "key", post.Key, "error", err)
		return nil, status.Error(codes.Unavailable, "the upload policy could not be signed; try again later")
	}
	return &gatepostv1.CreatePresignedPostResponse{
		Url:              signed.URL,
		Fields:           signed.Fields,
		Key:              post.Key,
		Bucket:           post.Bucket,
		ExpiresAt:        timestamppb.New(signed.ExpiresAt),
		MaxContentLength: post.MaxBytes,
	}, nil
}
