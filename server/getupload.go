package server

import (
	"context"
	"errors"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/objectstore"
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
	name, profile, prefix, err := s.profileFor(req.GetProfile(), id)
	if err != nil {
		return nil, err
	}
	key := req.GetKey()
	if len(key) > objectkey.MaxKeyBytes {
		// Before anything else looks at it: such a key can name no object,
		// and must not reach the store or the log.
		return nil, invalid("key", "is %d bytes; S3 keys are at most %d", len(key), objectkey.MaxKeyBytes)
	}
	if err := objectkey.Check(key); err != nil {
		return nil, invalid("key", "%v", err)
	}
	if !strings.HasPrefix(key, prefix) {
		return nil, status.Errorf(codes.PermissionDenied, "key: %s is not under your prefix %q for profile %q", echo(key), prefix, name)
	}
	if err := s.allow(ctx, id, name); err != nil {
		return nil, err
	}
	obj, err := s.store.Head(ctx, profile.Bucket, key)
	if err != nil {
		return nil, s.storeFailed(ctx, "reading the object", err)
	}
	resp := &gatepostv1.GetUploadResponse{Key: key, Bucket: profile.Bucket}
	if obj == nil {
		return resp, nil
	}
	resp.Exists = true
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
	var head []byte
	var unreadable string
	if verify.NeedsHead(&profile, obj) {
		head, err = s.store.ReadHead(ctx, profile.Bucket, key, obj.ETag, verify.HeadBytes)
		switch {
		case errors.Is(err, objectstore.ErrChanged):
			return nil, status.Errorf(codes.Aborted, "key: %s changed while gatepost read it; ask again", echo(key))
		case errors.Is(err, objectstore.ErrUnreadable):
			unreadable = "content: its bytes could not be read to check their type (" + err.Error() + ")"
		case err != nil:
			return nil, s.storeFailed(ctx, "reading the object", err)
		}
	}
	verdict := verify.Check(&profile, verify.Declared{Size: -1}, obj, head)
	if unreadable != "" {
		verdict.Reasons = append(verdict.Reasons, unreadable)
		slices.Sort(verdict.Reasons)
	}
	resp.Violations = verdict.Reasons
	resp.SniffedType = verdict.Sniffed
	resp.SatisfiesProfile = verdict.OK()
	return resp, nil
}
