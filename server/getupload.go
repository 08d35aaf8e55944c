package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// GetUpload describes an object under the caller's prefix and whether it
// satisfies its profile.
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
	resp.Violations = violations(obj, &profile)
	resp.SatisfiesProfile = len(resp.Violations) == 0
	return resp, nil
}

// violations lists how a stored object breaks its profile's rules.
func violations(obj *uploadpolicy.Object, p *config.Profile) []string {
	var out []string
	if obj.Size < p.MinBytes {
		out = append(out, fmt.Sprintf("size %d is under the minimum of %d bytes", obj.Size, p.MinBytes))
	}
	if obj.Size > p.MaxBytes {
		out = append(out, fmt.Sprintf("size %d is over the maximum of %d bytes", obj.Size, p.MaxBytes))
	}
	if _, mt, err := uploadpolicy.ParseContentType(obj.ContentType); err != nil || !uploadpolicy.ContentTypeAllowed(mt, p.ContentTypes) {
		out = append(out, fmt.Sprintf("Content-Type %q is not allowed", obj.ContentType))
	}
	if want := p.ContentDisposition; want != "" && obj.ContentDisposition != want {
		out = append(out, fmt.Sprintf("Content-Disposition %q is not the profile's %q", obj.ContentDisposition, want))
	}
	if want := p.CacheControl; want != "" && obj.CacheControl != want {
		out = append(out, fmt.Sprintf("Cache-Control %q is not the profile's %q", obj.CacheControl, want))
	}
	for name := range obj.Metadata {
		if !slices.Contains(p.MetadataKeys, strings.ToLower(name)) {
			out = append(out, fmt.Sprintf("metadata %q is not allowed", name))
		}
	}
	slices.Sort(out)
	return out
}
