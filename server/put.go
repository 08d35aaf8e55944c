package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// CreatePresignedPut returns a presigned PUT with the exact size, type,
// metadata and checksum signed in.
func (s *Service) CreatePresignedPut(ctx context.Context, req *gatepostv1.CreatePresignedPutRequest) (_ *gatepostv1.CreatePresignedPutResponse, err error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	charge := s.newCharge(id)
	defer func() { err = charge.settle(ctx, err) }()
	o, err := s.decideObject(ctx, charge, config.MethodPut, req.GetProfile(), req.GetKey(), req.GetContentType(), req.GetMetadata())
	if err != nil {
		return nil, err
	}
	if req.ContentLength == nil {
		return nil, invalid("content_length", "required for a PUT upload (the exact size is signed in)")
	}
	if req.GetContentLength() < 1 {
		// SigV4 leaves Content-Length (and Content-Type) out of the signed
		// headers of an empty PUT, so its size could not be pinned.
		return nil, invalid("content_length", "must be at least 1 byte for a PUT upload (use POST for empty files)")
	}
	if err := checkSize("content_length", req.GetContentLength(), o, config.MaxPostBytes, "single-upload"); err != nil {
		return nil, err
	}
	if err := checkChecksum(req.GetChecksumSha256()); err != nil {
		return nil, err
	}
	_, release, err := s.reserve(ctx, charge, o.profileName, o.profile.Bucket, o.key, "content_length", req.GetContentLength())
	if err != nil {
		return nil, err
	}
	started := time.Now()
	signed, err := s.store.SignPut(ctx, &uploadpolicy.Put{
		Bucket: o.profile.Bucket, Key: o.storeKey, ContentType: o.contentType, ContentLength: req.GetContentLength(),
		Metadata: o.credentialMetadata(id, req.GetContentLength(), req.GetChecksumSha256(), s.now()), ChecksumSHA256: req.GetChecksumSha256(), Expires: o.profile.Expires,
		Headers: pinnedHeaders(&o.profile), IfAbsent: !o.profile.MayOverwrite(),
	})
	s.metrics.Signed("put", time.Since(started))
	if err != nil {
		release()
		return nil, s.storeFailed(ctx, "signing the PUT URL", err)
	}
	s.metrics.Issued(o.profileName, "put")
	s.auditLine(ctx, "put URL issued", id, o.profileName, o.profile.Bucket, o.key, req.GetContentLength(), signed.ExpiresAt)
	return &gatepostv1.CreatePresignedPutResponse{
		Url: signed.URL, Method: signed.Method, Headers: signed.Headers,
		Key: o.key, Bucket: o.profile.Bucket, ExpiresAt: timestamppb.New(signed.ExpiresAt),
	}, nil
}
