package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
	"github.com/gatepost/gatepost/internal/uploadtoken"
)

// ListUploadedParts lists the parts of the caller's multipart upload that
// the store holds, and the part numbers still to upload (missing, or of
// another size than the upload's part plan), for resuming.
func (s *Service) ListUploadedParts(ctx context.Context, req *gatepostv1.ListUploadedPartsRequest) (*gatepostv1.ListUploadedPartsResponse, error) {
	id, u, err := s.upload(ctx, req.GetUploadToken())
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, id, u.Profile); err != nil {
		return nil, err
	}
	parts, err := s.listParts(ctx, u)
	if err != nil {
		return nil, err
	}
	count := uploadpolicy.PartCount(u.TotalSize, u.PartSize)
	resp := &gatepostv1.ListUploadedPartsResponse{
		PartSize: u.PartSize, PartCount: count, Key: u.Key, TotalSize: u.TotalSize, Profile: u.Profile,
		PartsPerCall: s.partsPerCall(u.Profile), Bucket: u.Bucket,
	}
	good := make(map[int32]bool, len(parts))
	for _, p := range parts {
		resp.Parts = append(resp.Parts, &gatepostv1.UploadedPart{PartNumber: p.Number, Size: p.Size, Etag: p.ETag})
		if p.Number >= 1 && p.Number <= count && p.Size == uploadpolicy.PartLength(u.TotalSize, u.PartSize, p.Number) {
			good[p.Number] = true
		}
	}
	for n := int32(1); n <= count; n++ {
		if !good[n] {
			resp.MissingPartNumbers = append(resp.MissingPartNumbers, n)
		}
	}
	return resp, nil
}

// listParts lists the parts the store holds for u, or answers NotFound for
// an upload that is gone, Unavailable for a store that fails.
func (s *Service) listParts(ctx context.Context, u *uploadtoken.Upload) ([]uploadpolicy.Part, error) {
	parts, err := s.store.ListParts(ctx, u.Bucket, u.StoreKey(), u.UploadID)
	if errors.Is(err, objectstore.ErrNoSuchUpload) {
		return nil, status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "listing the parts", err)
	}
	return parts, nil
}
