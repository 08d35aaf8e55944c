package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
	"github.com/gatepost/gatepost/internal/uploadtoken"
)

// maxPartsPerCall bounds one PresignUploadParts call.
const maxPartsPerCall = 1000

// WithUploadTokens sets the sealer of multipart upload tokens. Without it
// the Service makes one with a random secret (tokens then only work on
// this replica).
func WithUploadTokens(s *uploadtoken.Sealer) ServiceOption {
	return func(svc *Service) { svc.tokens = s }
}

// caller returns the authenticated identity, or the error to answer with.
func (s *Service) caller(ctx context.Context) (*auth.Identity, error) {
	id, ok := IdentityFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, auth.ErrNoToken.Error())
	}
	return id, nil
}

// storeFailed turns a store error into the caller's answer: the caller's
// own cancellation as such, anything else Unavailable (and logged), saying
// when gatepost has no signing credentials, which retrying will not fix
// until an operator provides them.
// attrs say what the failed step was about (bucket, key) in the log line.
func (s *Service) storeFailed(ctx context.Context, what string, err error, attrs ...any) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	s.logger.ErrorContext(ctx, what+" failed", append(attrs, "error", err, "request_id", RequestIDFrom(ctx))...)
	switch {
	case errors.Is(err, objectstore.ErrNoCredentials):
		return status.Errorf(codes.Unavailable, "%s failed: gatepost has no signing credentials for the object store (its operator must provide them; /readyz says so too)", what)
	case errors.Is(err, objectstore.ErrCredentialsExpired):
		return status.Errorf(codes.Unavailable, "%s failed: gatepost's signing credentials have expired (its operator must renew them); try again later", what)
	}
	return status.Errorf(codes.Unavailable, "%s failed at the object store; try again later", what)
}

// CreatePresignedPut returns a presigned PUT with the exact size, type,
// metadata and checksum signed in.
func (s *Service) CreatePresignedPut(ctx context.Context, req *gatepostv1.CreatePresignedPutRequest) (*gatepostv1.CreatePresignedPutResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.decideObject(ctx, id, config.MethodPut, req.GetProfile(), req.GetKey(), req.GetContentType(), req.GetMetadata())
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
	started := time.Now()
	signed, err := s.store.SignPut(ctx, &uploadpolicy.Put{
		Bucket: o.profile.Bucket, Key: o.key, ContentType: o.contentType, ContentLength: req.GetContentLength(),
		Metadata: o.metadata, ChecksumSHA256: req.GetChecksumSha256(), Expires: o.profile.Expires,
		Headers: pinnedHeaders(&o.profile), IfAbsent: !o.profile.MayOverwrite(),
	})
	s.metrics.Signed("put", time.Since(started))
	if err != nil {
		return nil, s.storeFailed(ctx, "signing the PUT URL", err)
	}
	s.metrics.Issued(o.profileName, "put")
	s.auditLine(ctx, "put URL issued", id, o.profileName, o.profile.Bucket, o.key, req.GetContentLength(), signed.ExpiresAt)
	return &gatepostv1.CreatePresignedPutResponse{
		Url: signed.URL, Method: signed.Method, Headers: signed.Headers,
		Key: o.key, Bucket: o.profile.Bucket, ExpiresAt: timestamppb.New(signed.ExpiresAt),
	}, nil
}

// CreateMultipartUpload starts a multipart upload of a declared size that
// fits the profile, with a part size the server chooses.
func (s *Service) CreateMultipartUpload(ctx context.Context, req *gatepostv1.CreateMultipartUploadRequest) (*gatepostv1.CreateMultipartUploadResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.decideObject(ctx, id, config.MethodMultipart, req.GetProfile(), req.GetKey(), req.GetContentType(), req.GetMetadata())
	if err != nil {
		return nil, err
	}
	if req.TotalSize == nil {
		return nil, invalid("total_size", "required (the size of the whole object)")
	}
	total := req.GetTotalSize()
	if total == 0 {
		return nil, invalid("total_size", "must be at least 1 byte")
	}
	if err := checkSize("total_size", total, o, config.MaxObjectBytes, "S3 object"); err != nil {
		return nil, err
	}
	partSize, err := uploadpolicy.PartSize(total)
	if err != nil {
		return nil, invalid("total_size", "%v", err)
	}
	started := time.Now()
	uploadID, err := s.store.CreateMultipart(ctx, &uploadpolicy.Multipart{
		Bucket: o.profile.Bucket, Key: o.key, ContentType: o.contentType, Metadata: o.metadata,
		TotalSize: total, PartSize: partSize, Headers: pinnedHeaders(&o.profile),
	})
	s.metrics.Signed("multipart_create", time.Since(started))
	if err != nil {
		return nil, s.storeFailed(ctx, "starting the multipart upload", err)
	}
	s.metrics.Issued(o.profileName, "multipart")
	token, expiresAt, err := s.tokens.Seal(uploadtoken.Upload{
		Subject: id.Subject, Profile: o.profileName, Bucket: o.profile.Bucket, Key: o.key,
		UploadID: uploadID, TotalSize: total, PartSize: partSize,
	}, s.now())
	if err != nil {
		return nil, s.storeFailed(ctx, "sealing the upload token", err)
	}
	s.auditLine(ctx, "multipart upload started", id, o.profileName, o.profile.Bucket, o.key, total, expiresAt)
	return &gatepostv1.CreateMultipartUploadResponse{
		UploadToken: token, Key: o.key, Bucket: o.profile.Bucket, PartSize: partSize,
		PartCount: uploadpolicy.PartCount(total, partSize), TotalSize: total, ExpiresAt: timestamppb.New(expiresAt),
		PartsPerCall: s.partsPerCall(o.profileName),
	}, nil
}

// upload authenticates the caller of a multipart step and opens its upload
// token.
func (s *Service) upload(ctx context.Context, token string) (*auth.Identity, *uploadtoken.Upload, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.openUpload(id, token)
	if err != nil {
		return nil, nil, err
	}
	return id, u, nil
}

// openUpload checks an upload token and that it belongs to the caller, who
// must still be allowed the profile.
func (s *Service) openUpload(id *auth.Identity, token string) (*uploadtoken.Upload, error) {
	if token == "" {
		return nil, invalid("upload_token", "required")
	}
	u, err := s.tokens.Open(token, s.now())
	if err != nil {
		return nil, invalid("upload_token", "not a valid, unexpired upload token from this service")
	}
	if u.Subject != id.Subject {
		return nil, status.Error(codes.PermissionDenied, "upload_token: this upload belongs to another caller")
	}
	// The token's seal proves gatepost made it; the profile as configured
	// now must still cover it (a profile may have been changed or removed,
	// and the token secret must never be enough to aim at another key).
	_, profile, prefix, err := s.resolveProfile(u.Profile, id, config.MethodMultipart)
	if err != nil {
		return nil, err
	}
	if u.Bucket != profile.Bucket || !strings.HasPrefix(u.Key, prefix) {
		return nil, status.Errorf(codes.PermissionDenied, "upload_token: the upload is outside profile %q as configured now", u.Profile)
	}
	return u, nil
}

// sizeStillAllowed refuses to go on with an upload whose declared size the
// profile no longer allows (its limits were lowered after the upload
// started). Aborting such an upload stays possible.
func (s *Service) sizeStillAllowed(u *uploadtoken.Upload) error {
	p := s.profiles[u.Profile]
	if u.TotalSize > p.MaxBytes || u.TotalSize < p.MinBytes {
		return status.Errorf(codes.FailedPrecondition, "upload_token: the upload's %d bytes are outside profile %q's limits as configured now (%d to %d bytes); abort it", u.TotalSize, u.Profile, p.MinBytes, p.MaxBytes)
	}
	return nil
}

// PresignUploadParts presigns UploadPart URLs, each with its part's exact
// size.
func (s *Service) PresignUploadParts(ctx context.Context, req *gatepostv1.PresignUploadPartsRequest) (*gatepostv1.PresignUploadPartsResponse, error) {
	id, u, err := s.upload(ctx, req.GetUploadToken())
	if err != nil {
		return nil, err
	}
	if err := s.sizeStillAllowed(u); err != nil {
		return nil, err
	}
	numbers := req.GetPartNumbers()
	count := uploadpolicy.PartCount(u.TotalSize, u.PartSize)
	switch {
	case len(numbers) == 0:
		return nil, invalid("part_numbers", "required")
	case len(numbers) > maxPartsPerCall:
		return nil, invalid("part_numbers", "at most %d per call", maxPartsPerCall)
	}
	seen := make(map[int32]bool, len(numbers))
	for _, n := range numbers {
		if n < 1 || n > count {
			return nil, invalid("part_numbers", "%d is not a part of this upload (1 to %d)", n, count)
		}
		if seen[n] {
			return nil, invalid("part_numbers", "%d is listed twice (each part is presigned once per call)", n)
		}
		seen[n] = true
	}
	// Every URL costs the caller one request of its rate: signing is the
	// work, not the call.
	if err := s.allowN(ctx, id, u.Profile, len(numbers), "part_numbers"); err != nil {
		return nil, err
	}
	resp := &gatepostv1.PresignUploadPartsResponse{}
	expires := s.profiles[u.Profile].Expires
	for _, n := range numbers {
		size := uploadpolicy.PartLength(u.TotalSize, u.PartSize, n)
		started := time.Now()
		signed, err := s.store.SignUploadPart(ctx, u.Bucket, u.Key, u.UploadID, n, size, expires)
		s.metrics.Signed("upload_part", time.Since(started))
		if err != nil {
			return nil, s.storeFailed(ctx, "signing part URLs", err)
		}
		resp.Parts = append(resp.Parts, &gatepostv1.PresignedPart{PartNumber: n, Url: signed.URL, ContentLength: size, Headers: signed.Headers})
		resp.ExpiresAt = timestamppb.New(signed.ExpiresAt)
	}
	return resp, nil
}

// CompleteMultipartUpload completes the upload only when the store lists
// exactly the declared parts, each of its exact size.
func (s *Service) CompleteMultipartUpload(ctx context.Context, req *gatepostv1.CompleteMultipartUploadRequest) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	id, u, err := s.upload(ctx, req.GetUploadToken())
	if err != nil {
		return nil, err
	}
	if err := s.sizeStillAllowed(u); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, id, u.Profile); err != nil {
		return nil, err
	}
	parts, err := s.store.ListParts(ctx, u.Bucket, u.Key, u.UploadID)
	if errors.Is(err, objectstore.ErrNoSuchUpload) {
		return nil, status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "listing the parts", err)
	}
	if err := uploadpolicy.CheckParts(parts, u.TotalSize, u.PartSize); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "parts: %v; upload every part with its presigned URL, then complete", err)
	}
	if given := req.GetParts(); len(given) > 0 {
		if err := sameParts(given, parts); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "parts: %v", err)
		}
	}
	started := time.Now()
	profile := s.profiles[u.Profile]
	etag, err := s.store.CompleteMultipart(ctx, u.Bucket, u.Key, u.UploadID, parts, !profile.MayOverwrite())
	s.metrics.Signed("multipart_complete", time.Since(started))
	if errors.Is(err, objectstore.ErrExists) {
		return nil, status.Errorf(codes.AlreadyExists, "key: an object already exists at %s and profile %q does not overwrite; abort this upload or start one under another key", echo(u.Key), u.Profile)
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "completing the upload", err)
	}
	s.auditLine(ctx, "multipart upload completed", id, u.Profile, u.Bucket, u.Key, u.TotalSize, time.Time{})
	return &gatepostv1.CompleteMultipartUploadResponse{Key: u.Key, Bucket: u.Bucket, Etag: etag, Size: u.TotalSize}, nil
}

// sameParts checks the client's view of the parts against the store's.
func sameParts(given []*gatepostv1.CompletedPart, listed []uploadpolicy.Part) error {
	if len(given) != len(listed) {
		return fmt.Errorf("%d parts given, the store has %d", len(given), len(listed))
	}
	for _, g := range given {
		i := slices.IndexFunc(listed, func(p uploadpolicy.Part) bool { return p.Number == g.GetPartNumber() })
		if i < 0 {
			return fmt.Errorf("part %d is not in the store", g.GetPartNumber())
		}
		if strings.Trim(g.GetEtag(), `"`) != strings.Trim(listed[i].ETag, `"`) {
			return fmt.Errorf("part %d has ETag %s in the store, not %q", g.GetPartNumber(), listed[i].ETag, g.GetEtag())
		}
	}
	return nil
}

// AbortMultipartUpload aborts the upload.
func (s *Service) AbortMultipartUpload(ctx context.Context, req *gatepostv1.AbortMultipartUploadRequest) (*gatepostv1.AbortMultipartUploadResponse, error) {
	id, u, err := s.upload(ctx, req.GetUploadToken())
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, id, u.Profile); err != nil {
		return nil, err
	}
	err = s.store.AbortMultipart(ctx, u.Bucket, u.Key, u.UploadID)
	if errors.Is(err, objectstore.ErrNoSuchUpload) {
		return nil, status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "aborting the upload", err)
	}
	s.auditLine(ctx, "multipart upload aborted", id, u.Profile, u.Bucket, u.Key, u.TotalSize, time.Time{})
	return &gatepostv1.AbortMultipartUploadResponse{}, nil
}

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

// partsPerCall is the most part URLs one PresignUploadParts call of the
// profile may ask for: the burst of the rate limit that applies to it.
func (s *Service) partsPerCall(profile string) int32 {
	limit, _ := s.limitFor(profile)
	if limit.Disabled || limit.Burst >= maxPartsPerCall {
		return maxPartsPerCall
	}
	return int32(limit.Burst)
}
