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
// another size than the upload's part plan), for resuming. For an upload of
// undeclared size the missing parts are the gaps below the last that
// arrived.
func (s *Service) ListUploadedParts(ctx context.Context, req *gatepostv1.ListUploadedPartsRequest) (*gatepostv1.ListUploadedPartsResponse, error) {
	id, u, err := s.upload(ctx, req.GetUploadToken())
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, id, u.Profile); err != nil {
		return nil, err
	}
	parts, err := s.listParts(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	count, length := s.partPlan(u)
	resp := &gatepostv1.ListUploadedPartsResponse{
		PartSize: u.PartSize, Key: u.Key, TotalSize: u.TotalSize, Profile: u.Profile,
		PartsPerCall: s.partsPerCall(u.Profile), Bucket: u.Bucket,
	}
	if u.Unsized {
		resp.MaxPartCount = count
	} else {
		resp.PartCount = count
	}
	good := make(map[int32]bool, len(parts))
	last := int32(0)
	for _, p := range parts {
		resp.Parts = append(resp.Parts, &gatepostv1.UploadedPart{PartNumber: p.Number, Size: p.Size, Etag: p.ETag})
		if want := length(p.Number); p.Number >= 1 && p.Number <= count && (want == objectstore.AnyPartLength || p.Size == want) {
			good[p.Number] = true
		}
		last = max(last, p.Number)
	}
	if u.Unsized {
		count = min(last, count) // the client decides how many parts there are
	}
	for n := int32(1); n <= count; n++ {
		if !good[n] {
			resp.MissingPartNumbers = append(resp.MissingPartNumbers, n)
		}
	}
	return resp, nil
}

// listParts lists the parts the store holds for u (a part listed twice read
// as one where uploadpolicy.ResolveDuplicates can tell which, by the
// client's ETags given at completion or the planned size), or answers
// NotFound for an upload that is gone, Unavailable for a store that fails.
func (s *Service) listParts(ctx context.Context, u *uploadtoken.Upload, given map[int32]string) ([]uploadpolicy.Part, error) {
	parts, err := s.store.ListParts(ctx, u.Bucket, u.StoreKey(), u.UploadID)
	if errors.Is(err, objectstore.ErrNoSuchUpload) {
		return nil, status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "listing the parts", err)
	}
	_, length := s.partPlan(u)
	return uploadpolicy.ResolveDuplicates(parts, length, given), nil
}
