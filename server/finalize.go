package server

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/staging"
)

// WithVerifier sets what verifies finished uploads. Without it the Service
// makes one from its store when the store can also move objects
// (objectstore.Mover), and otherwise answers FinalizeUpload Unavailable.
func WithVerifier(v *finalize.Verifier) ServiceOption {
	return func(s *Service) { s.verifier = v }
}

// FinalizeUpload verifies a finished POST or PUT upload and returns the
// verdict (a rejection is an answer, not an error).
func (s *Service) FinalizeUpload(ctx context.Context, req *gatepostv1.FinalizeUploadRequest) (*gatepostv1.FinalizeUploadResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	name, profile, key, err := s.ownKey(ctx, id, req.GetProfile(), req.GetKey())
	if err != nil {
		return nil, err
	}
	if s.verifier == nil {
		return nil, status.Error(codes.Unavailable, "gatepost cannot verify uploads with this object store")
	}
	out, err := s.verifier.Finalize(ctx, name, key)
	if err != nil {
		return nil, s.finalizeFailed(ctx, key, err)
	}
	s.correctVerified(ctx, id, name, &profile, out)
	resp := &gatepostv1.FinalizeUploadResponse{
		Key: out.Key, Bucket: out.Bucket, State: stateOf(out), Reasons: out.Reasons, Size: out.Object.Size,
		ContentType: out.Object.ContentType, SniffedType: out.Sniffed, Etag: out.Object.ETag,
		ChecksumSha256: out.Object.ChecksumSHA256, Metadata: out.Object.Metadata, QuarantineKey: out.QuarantineKey,
	}
	return resp, nil
}

// ownKey checks a key the caller names (not one it asks to upload to): a
// profile it may use, a key under its prefix and outside the reserved
// space; and charges its rate.
func (s *Service) ownKey(ctx context.Context, id *auth.Identity, profileName, key string) (string, config.Profile, string, error) {
	name, profile, prefix, err := s.profileFor(profileName, id)
	if err != nil {
		return "", config.Profile{}, "", err
	}
	if len(key) > objectkey.MaxKeyBytes {
		// Before anything else looks at it: such a key can name no object,
		// and must not reach the store or the log.
		return "", config.Profile{}, "", invalid("key", "is %d bytes; S3 keys are at most %d", len(key), objectkey.MaxKeyBytes)
	}
	if err := objectkey.Check(key); err != nil {
		return "", config.Profile{}, "", invalid("key", "%v", err)
	}
	if staging.IsReserved(key) {
		return "", config.Profile{}, "", invalid("key", "%s is inside %s, which gatepost reserves: name the key the upload was presigned for", echo(key), staging.Reserved)
	}
	if !strings.HasPrefix(key, prefix) {
		return "", config.Profile{}, "", status.Errorf(codes.PermissionDenied, "key: %s is not under your prefix %q for profile %q", echo(key), prefix, name)
	}
	if profile.Verify.Staging && len(staging.Key(key)) > objectkey.MaxKeyBytes {
		return "", config.Profile{}, "", invalid("key", "is too long for profile %q: with the staging prefix it is over S3's %d bytes, so no upload can be there", name, objectkey.MaxKeyBytes)
	}
	if err := s.allow(ctx, id, name); err != nil {
		return "", config.Profile{}, "", err
	}
	return name, profile, key, nil
}

// finalizeFailed turns a verification failure into the caller's answer.
func (s *Service) finalizeFailed(ctx context.Context, key string, err error) error {
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, finalize.ErrNoUpload):
		return status.Errorf(codes.NotFound, "key: no upload waits at %s to be verified (upload it with the presigned credential first)", echo(key))
	case errors.Is(err, objectstore.ErrChanged):
		return status.Errorf(codes.Aborted, "key: the upload at %s changed while gatepost verified it; finalize again", echo(key))
	}
	s.logger.ErrorContext(ctx, "verifying an upload failed", "key", key, "error", err, "request_id", RequestIDFrom(ctx))
	return status.Errorf(codes.Unavailable, "key: the upload at %s could not be verified now (the object store or the malware scanner is unreachable); it stays unverified, finalize again later", echo(key))
}

// correctVerified sets the caller's quota reservation for the upload to
// its verified size (nothing, when it was deleted).
func (s *Service) correctVerified(ctx context.Context, id *auth.Identity, name string, profile *config.Profile, out *finalize.Outcome) {
	if out.Subject != "" && out.Subject != id.Subject {
		return // another caller's upload under a shared prefix
	}
	// Without staging the object stays whatever the verdict, so it costs
	// its size either way.
	size := out.Object.Size
	if profile.Verify.Staging && !out.Verified && out.QuarantineKey == "" {
		size = 0
	}
	madeBy := out.At
	if expired := s.now().Add(-profile.Expires); expired.Before(madeBy) {
		madeBy = expired
	}
	s.correctExpired(ctx, id, name, out.Bucket, out.Key, size, madeBy)
}

// VerdictReached corrects the quota reservation of the subject a staging
// credential declared, whoever reported the upload (the store's event
// too); the verifier calls it once per verdict.
func (s *Service) VerdictReached(ctx context.Context, out *finalize.Outcome) {
	profile, ok := s.profiles[out.Profile]
	if !ok || !profile.Verify.Staging || out.Subject == "" {
		return
	}
	s.correctVerified(ctx, &auth.Identity{Subject: out.Subject}, out.Profile, &profile, out)
}

// stateOf is an outcome's UploadState.
func stateOf(out *finalize.Outcome) gatepostv1.UploadState {
	if out.Verified {
		return gatepostv1.UploadState_UPLOAD_STATE_VERIFIED
	}
	return gatepostv1.UploadState_UPLOAD_STATE_REJECTED
}
