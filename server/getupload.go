package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
	"github.com/gatepost/gatepost/internal/verify"
)

// GetUpload describes an object under the caller's prefix and whether it
// satisfies its profile: a HEAD, and a ranged GET of its first bytes
// (verify.HeadBytes) for the type they show.
func (s *Service) GetUpload(ctx context.Context, req *gatepostv1.GetUploadRequest) (*gatepostv1.GetUploadResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	name, profile, key, err := s.ownKey(ctx, id, req.GetProfile(), req.GetKey())
	if err != nil {
		return nil, err
	}
	obj, err := s.store.Head(ctx, profile.Bucket, key)
	if err != nil {
		return nil, s.storeFailed(ctx, "reading the object", err)
	}
	resp := &gatepostv1.GetUploadResponse{Key: key, Bucket: profile.Bucket}
	if err := s.uploadState(ctx, &profile, obj, resp); err != nil {
		return nil, err
	}
	if obj == nil {
		return resp, nil
	}
	resp.Exists = true
	obj.Metadata = staging.UserMetadata(obj.Metadata)
	// The real size is known now: the reservation of the credential that
	// put it there is corrected to it, once that credential has expired
	// (until then it could upload its full size again) and if it was made
	// before the object was stored.
	if !obj.LastModified.IsZero() {
		madeBy := obj.LastModified
		if expired := s.now().Add(-profile.Expires); expired.Before(madeBy) {
			madeBy = expired
		}
		s.correctExpired(ctx, id, name, profile.Bucket, key, obj.Size, madeBy)
	}
	resp.Size = obj.Size
	resp.ContentType = obj.ContentType
	resp.Etag = obj.ETag
	resp.ChecksumSha256 = obj.ChecksumSHA256
	resp.Metadata = obj.Metadata
	if !obj.LastModified.IsZero() {
		resp.LastModified = timestamppb.New(obj.LastModified)
	}
	verdict, err := verify.Inspect(ctx, s.store, &profile, verify.Declared{Size: -1}, profile.Bucket, key, obj)
	switch {
	case errors.Is(err, objectstore.ErrChanged):
		return nil, status.Errorf(codes.Aborted, "key: %s changed while gatepost read it; ask again", echo(key))
	case err != nil:
		return nil, s.storeFailed(ctx, "reading the object", err)
	}
	resp.Violations = verdict.Reasons
	resp.SniffedType = verdict.Sniffed
	resp.SatisfiesProfile = verdict.OK()
	return resp, nil
}

// uploadState fills in where the upload at the key (obj, nil when there
// is none) stands. On a staging profile an upload waiting in staging is
// PENDING whatever the key holds, and the key's object is VERIFIED only
// with gatepost's mark (anything else there was not put by gatepost: no
// state). Without staging the object is PENDING until a verdict on this
// very version is remembered.
func (s *Service) uploadState(ctx context.Context, profile *config.Profile, obj *uploadpolicy.Object, resp *gatepostv1.GetUploadResponse) error {
	out, known := s.known(ctx, resp.Bucket, resp.Key)
	if profile.Verify.Staging {
		staged, err := s.store.Head(ctx, resp.Bucket, staging.Key(resp.Key))
		if err != nil {
			return s.storeFailed(ctx, "reading the staged upload", err)
		}
		switch {
		case staged != nil && !(known && !out.Verified && out.Object.ETag == staged.ETag):
			resp.State = gatepostv1.UploadState_UPLOAD_STATE_PENDING
			return nil
		case obj != nil && staging.Verified(obj.Metadata):
			resp.State = gatepostv1.UploadState_UPLOAD_STATE_VERIFIED
			return nil
		case obj != nil:
			return nil // not gatepost's: no state
		}
	} else if obj != nil {
		resp.State = gatepostv1.UploadState_UPLOAD_STATE_PENDING
		if known && finalize.SameVersion(&out.Object, obj) {
			resp.State = stateOf(out)
		}
		return nil
	}
	resp.State = gatepostv1.UploadState_UPLOAD_STATE_ABSENT
	if known && !out.Verified {
		resp.State, resp.Reasons = gatepostv1.UploadState_UPLOAD_STATE_REJECTED, out.Reasons
	}
	return nil
}

// known returns the verifier's remembered verdict on the upload at key.
func (s *Service) known(ctx context.Context, bucket, key string) (*finalize.Outcome, bool) {
	if s.verifier == nil {
		return nil, false
	}
	return s.verifier.Known(ctx, bucket, key)
}
