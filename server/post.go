package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// CreatePresignedPost validates the request against its profile and the
// caller's rights and returns a presigned POST upload. Invalid requests get
// InvalidArgument naming the field, a profile the caller may not use gets
// PermissionDenied, a caller over its rate gets ResourceExhausted with a
// retry-after header; nothing is signed for any of them. A signing failure
// (for example no credentials) is Unavailable.
func (s *Service) CreatePresignedPost(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest) (_ *gatepostv1.CreatePresignedPostResponse, err error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	charge := s.newCharge(id)
	defer func() { err = charge.settle(ctx, err) }()
	post, final, profile, err := s.decide(ctx, req, charge)
	if err != nil {
		return nil, err
	}
	// The policy allows up to MaxBytes: that is what it costs the quota
	// until the real size is known.
	field := ""
	if req.ContentLength != nil {
		field = "content_length"
	}
	_, release, err := s.reserve(ctx, charge, profile, post.Bucket, final, field, post.MaxBytes)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	signed, err := s.store.SignPost(ctx, post)
	s.metrics.Signed("post", time.Since(started))
	if err != nil {
		release()
		return nil, s.storeFailed(ctx, "signing the upload policy", err, "bucket", post.Bucket, "key", final)
	}
	s.auditLine(ctx, "policy issued", id, profile, post.Bucket, final, post.MaxBytes, signed.ExpiresAt)
	s.metrics.Issued(profile, "post")
	return &gatepostv1.CreatePresignedPostResponse{
		Url:              signed.URL,
		Fields:           signed.Fields,
		Key:              final,
		Bucket:           post.Bucket,
		ExpiresAt:        timestamppb.New(signed.ExpiresAt),
		MaxContentLength: post.MaxBytes,
	}, nil
}

// decide validates every field of a POST request against its profile and
// the caller's rights, before anything is signed, and returns what the
// policy must pin, the final key and the profile's name.
func (s *Service) decide(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest, c *rateCharge) (*uploadpolicy.Post, string, string, error) {
	id := c.id
	o, err := s.decideObject(ctx, c, config.MethodPost, req.GetProfile(), req.GetKey(), req.GetContentType(), req.GetMetadata())
	if err != nil {
		return nil, "", "", err
	}
	minBytes, maxBytes := o.profile.MinBytes, min(o.profile.MaxBytes, config.MaxPostBytes)
	if req.ContentLength != nil {
		n := req.GetContentLength()
		if err := checkSize("content_length", n, o, config.MaxPostBytes, "single-upload"); err != nil {
			return nil, "", "", err
		}
		minBytes, maxBytes = n, n
	}
	if err := checkChecksum(req.GetChecksumSha256()); err != nil {
		return nil, "", "", err
	}
	declared := int64(-1)
	if req.ContentLength != nil {
		declared = req.GetContentLength()
	}
	return &uploadpolicy.Post{
		Bucket:         o.profile.Bucket,
		Key:            o.storeKey,
		ContentType:    o.contentType,
		MinBytes:       minBytes,
		MaxBytes:       maxBytes,
		Metadata:       o.credentialMetadata(id, declared, req.GetChecksumSha256(), s.now()),
		ChecksumSHA256: req.GetChecksumSha256(),
		Headers:        pinnedHeaders(&o.profile),
		Expires:        o.profile.Expires,
	}, o.key, o.profileName, nil
}
