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

// CreateMultipartUpload starts a multipart upload of a declared size that
// fits the profile, with a part size the server chooses, or, on a profile
// that allows it, one of undeclared size: the quota then reserves the
// profile's maximum until completion sets the real size, and the parts are
// checked at completion.
func (s *Service) CreateMultipartUpload(ctx context.Context, req *gatepostv1.CreateMultipartUploadRequest) (_ *gatepostv1.CreateMultipartUploadResponse, err error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	charge := s.newCharge(id)
	defer func() { err = charge.settle(ctx, err) }()
	o, err := s.decideObject(ctx, charge, config.MethodMultipart, req.GetProfile(), req.GetKey(), req.GetContentType(), req.GetMetadata())
	if err != nil {
		return nil, err
	}
	// total and partSize stay 0 for an upload of undeclared size.
	var total, partSize int64
	unsized := req.TotalSize == nil
	reserved, declared, field, audit := o.profile.MaxBytes, int64(-1), "", "multipart upload of undeclared size started"
	if unsized && !o.profile.AllowUnsizedMultipart {
		return nil, invalid("total_size", "required (the size of the whole object): profile %q does not take multipart uploads of unknown size", o.profileName)
	}
	if !unsized {
		total = req.GetTotalSize()
		if total == 0 {
			return nil, invalid("total_size", "must be at least 1 byte")
		}
		if err := checkSize("total_size", total, o, config.MaxObjectBytes, "S3 object"); err != nil {
			return nil, err
		}
		if partSize, err = uploadpolicy.PartSize(total); err != nil {
			return nil, invalid("total_size", "%v", err)
		}
		reserved, declared, field, audit = total, total, "total_size", "multipart upload started"
	}
	reservation, release, err := s.reserve(ctx, charge, o.profileName, o.profile.Bucket, o.key, field, reserved)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	uploadID, err := s.store.CreateMultipart(ctx, &uploadpolicy.Multipart{
		Bucket: o.profile.Bucket, Key: o.storeKey, ContentType: o.contentType, Metadata: o.credentialMetadata(id, declared, "", s.now()),
		TotalSize: total, PartSize: partSize, Headers: pinnedHeaders(&o.profile),
	})
	s.metrics.Signed("multipart_create", time.Since(started))
	if err != nil {
		release()
		return nil, s.storeFailed(ctx, "starting the multipart upload", err)
	}
	s.metrics.Issued(o.profileName, "multipart")
	token, expiresAt, err := s.tokens.Seal(uploadtoken.Upload{
		Subject: id.Subject, Profile: o.profileName, Bucket: o.profile.Bucket, Key: o.key,
		UploadID: uploadID, TotalSize: total, PartSize: partSize, Reservation: reservation, Staged: o.profile.Verify.Staging, Unsized: unsized,
	}, s.now())
	if err != nil {
		release()
		_ = s.store.AbortMultipart(context.WithoutCancel(ctx), o.profile.Bucket, o.storeKey, uploadID)
		return nil, s.storeFailed(ctx, "sealing the upload token", err)
	}
	s.auditLine(ctx, audit, id, o.profileName, o.profile.Bucket, o.key, reserved, expiresAt)
	resp := &gatepostv1.CreateMultipartUploadResponse{
		UploadToken: token, Key: o.key, Bucket: o.profile.Bucket, PartSize: partSize, TotalSize: total,
		ExpiresAt: timestamppb.New(expiresAt), PartsPerCall: s.partsPerCall(o.profileName),
	}
	if unsized {
		resp.MaxPartCount = uploadpolicy.UnsizedPartLimit(o.profile.MaxBytes)
	} else {
		resp.PartCount = uploadpolicy.PartCount(total, partSize)
	}
	return resp, nil
}

// partPlan is the number of the last part of u, and each part's
// length to sign (objectstore.AnyPartLength for an upload of undeclared
// size).
func (s *Service) partPlan(u *uploadtoken.Upload) (count int32, length func(int32) int64) {
	if u.Unsized {
		return uploadpolicy.UnsizedPartLimit(s.profiles[u.Profile].MaxBytes), func(int32) int64 { return objectstore.AnyPartLength }
	}
	return uploadpolicy.PartCount(u.TotalSize, u.PartSize), func(n int32) int64 { return uploadpolicy.PartLength(u.TotalSize, u.PartSize, n) }
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

// stillAllowed refuses to go on with an upload whose declared size the
// profile no longer allows (its limits were lowered after the upload
// started), or that is staged when the profile no longer stages, or the
// other way round. Aborting such an upload stays possible.
func (s *Service) stillAllowed(u *uploadtoken.Upload) error {
	p := s.profiles[u.Profile]
	if u.Staged != p.Verify.Staging {
		// An upload begun before verify.staging changed would land where
		// the profile no longer expects it (unverified bytes at the key).
		return status.Errorf(codes.FailedPrecondition, "upload_token: profile %q changed whether uploads are staged since this upload began; abort it and upload again", u.Profile)
	}
	if u.Unsized {
		if !p.AllowUnsizedMultipart {
			return status.Errorf(codes.FailedPrecondition, "upload_token: profile %q no longer takes multipart uploads of unknown size; abort this upload", u.Profile)
		}
		return nil // its parts are checked against the limits at completion
	}
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
	if err := s.stillAllowed(u); err != nil {
		return nil, err
	}
	numbers := req.GetPartNumbers()
	count, length := s.partPlan(u)
	switch {
	case len(numbers) == 0:
		return nil, invalid("part_numbers", "required")
	case len(numbers) > maxPartsPerCall:
		return nil, invalid("part_numbers", "at most %d per call", maxPartsPerCall)
	}
	if req.GetBare() && !u.Unsized {
		return nil, invalid("bare", "only for multipart uploads of undeclared size: the part URLs of a declared upload pin each part's length")
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
	profile := s.profiles[u.Profile]
	expires := profile.PartURLLifetime()
	for _, n := range numbers {
		size := length(n)
		started := time.Now()
		signed, err := s.store.SignUploadPart(ctx, u.Bucket, u.StoreKey(), u.UploadID, n, objectstore.PartURL{Size: size, Expires: expires, Bare: req.GetBare()})
		s.metrics.Signed("upload_part", time.Since(started))
		if errors.Is(err, objectstore.ErrBareUnsafe) {
			return nil, status.Errorf(codes.FailedPrecondition, "bare: %v; send the headers each part URL gives (with Uppy 6, use gatepost's Uppy plugin or a store that refuses unsigned x-amz-* headers, such as AWS S3)", err)
		}
		if err != nil {
			return nil, s.storeFailed(ctx, "signing part URLs", err)
		}
		resp.Parts = append(resp.Parts, &gatepostv1.PresignedPart{PartNumber: n, Url: signed.URL, ContentLength: max(size, 0), Headers: signed.Headers})
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
	if err := s.stillAllowed(u); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, id, u.Profile); err != nil {
		return nil, err
	}
	given := make(map[int32]string, len(req.GetParts()))
	for _, p := range req.GetParts() {
		given[p.GetPartNumber()] = p.GetEtag()
	}
	parts, err := s.listParts(ctx, u, given)
	if err != nil {
		return nil, err
	}
	if err := s.checkParts(ctx, id, u, parts); err != nil {
		return nil, err
	}
	if given := req.GetParts(); len(given) > 0 {
		if err := sameParts(given, parts); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "parts: %v", err)
		}
	}
	started := time.Now()
	profile := s.profiles[u.Profile]
	etag, err := s.store.CompleteMultipart(ctx, u.Bucket, u.StoreKey(), u.UploadID, parts, !profile.MayOverwrite())
	s.metrics.Signed("multipart_complete", time.Since(started))
	if errors.Is(err, objectstore.ErrPartChanged) {
		// A part uploaded again between the list above and the store's
		// completion: the caller may simply complete again.
		return nil, status.Error(codes.Aborted, "parts: a part was uploaded again while gatepost completed the upload; complete again")
	}
	if errors.Is(err, objectstore.ErrExists) {
		return nil, status.Errorf(codes.AlreadyExists, "key: an object already exists at %s and profile %q does not overwrite; abort this upload or start one under another key", echo(u.Key), u.Profile)
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "completing the upload", err)
	}
	size := uploadpolicy.TotalOf(parts)
	s.setReservation(ctx, id, u.Profile, u.Reservation, size)
	s.auditLine(ctx, "multipart upload completed", id, u.Profile, u.Bucket, u.Key, size, time.Time{})
	resp := &gatepostv1.CompleteMultipartUploadResponse{Key: u.Key, Bucket: u.Bucket, Etag: etag, Size: size}
	s.verifyCompleted(ctx, id, u, resp)
	return resp, nil
}

// checkParts checks the store's parts against the upload before they are
// assembled. A declared upload needs exactly its planned parts. One of
// undeclared size needs parts 1..n within the profile's limits; when the
// store already holds more than the profile allows, the upload is aborted
// (its parts freed), since no completion could ever take it.
func (s *Service) checkParts(ctx context.Context, id *auth.Identity, u *uploadtoken.Upload, parts []uploadpolicy.Part) error {
	if !u.Unsized {
		if err := uploadpolicy.CheckParts(parts, u.TotalSize, u.PartSize); err != nil {
			return status.Errorf(codes.FailedPrecondition, "parts: %v; upload every part with its presigned URL, then complete", err)
		}
		return nil
	}
	p := s.profiles[u.Profile]
	err := uploadpolicy.CheckUnsizedParts(parts, p.MinBytes, p.MaxBytes, uploadpolicy.UnsizedPartLimit(p.MaxBytes))
	if err == nil {
		return nil
	}
	if !errors.Is(err, uploadpolicy.ErrOverLimit) {
		return status.Errorf(codes.FailedPrecondition, "parts: %v; upload the missing parts, then complete again", err)
	}
	abortErr := s.store.AbortMultipart(context.WithoutCancel(ctx), u.Bucket, u.StoreKey(), u.UploadID)
	if errors.Is(abortErr, objectstore.ErrNoSuchUpload) {
		// Completed (or aborted) by another call since the list: that call
		// owns the reservation and what was stored.
		return status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	if abortErr != nil {
		s.logger.WarnContext(ctx, "an upload over its profile's limit could not be aborted", "bucket", u.Bucket, "key", u.Key, "error", abortErr, "request_id", RequestIDFrom(ctx))
		return status.Errorf(codes.FailedPrecondition, "parts: %s; abort the upload", strings.TrimPrefix(err.Error(), uploadpolicy.ErrOverLimit.Error()+": "))
	}
	s.setReservation(ctx, id, u.Profile, u.Reservation, 0)
	s.auditLine(ctx, "multipart upload over the profile's limit aborted", id, u.Profile, u.Bucket, u.Key, uploadpolicy.TotalOf(parts), time.Time{})
	return status.Errorf(codes.FailedPrecondition, "parts: %s; gatepost aborted the upload and nothing was stored", strings.TrimPrefix(err.Error(), uploadpolicy.ErrOverLimit.Error()+": "))
}

// verifyCompleted finalizes a completed upload: completing is finalizing.
// The upload is complete whatever happens here, so a verification that
// cannot run now leaves the answer PENDING (FinalizeUpload decides it
// later) instead of failing a call that cannot be repeated.
func (s *Service) verifyCompleted(ctx context.Context, id *auth.Identity, u *uploadtoken.Upload, resp *gatepostv1.CompleteMultipartUploadResponse) {
	if s.verifier == nil {
		return
	}
	resp.State = gatepostv1.UploadState_UPLOAD_STATE_PENDING
	out, err := s.verifier.Finalize(ctx, u.Profile, u.Key)
	if err != nil {
		s.logger.WarnContext(ctx, "a completed upload could not be verified yet", "bucket", u.Bucket, "key", u.Key, "error", err, "request_id", RequestIDFrom(ctx))
		return
	}
	resp.State, resp.Reasons, resp.SniffedType, resp.QuarantineKey = stateOf(out), out.Reasons, out.Sniffed, out.QuarantineKey
	if u.Staged && !out.Verified && out.QuarantineKey == "" {
		s.setReservation(ctx, id, u.Profile, u.Reservation, 0) // deleted
	}
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
	err = s.store.AbortMultipart(ctx, u.Bucket, u.StoreKey(), u.UploadID)
	if errors.Is(err, objectstore.ErrNoSuchUpload) {
		return nil, status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	if err != nil {
		return nil, s.storeFailed(ctx, "aborting the upload", err)
	}
	s.setReservation(ctx, id, u.Profile, u.Reservation, 0)
	s.auditLine(ctx, "multipart upload aborted", id, u.Profile, u.Bucket, u.Key, u.TotalSize, time.Time{})
	return &gatepostv1.AbortMultipartUploadResponse{}, nil
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
