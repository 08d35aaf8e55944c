package server

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/uploadtoken"
)

// TestReservedKeysRefused: no call may name a key in .gatepost/, not even
// on a profile whose prefix is empty (which would otherwise let a caller
// write a "staged" upload of its own, or finalize one).
func TestReservedKeysRefused(t *testing.T) {
	t.Parallel()
	svc := NewService(testProfiles(t), &fakeStore{}, discardLogger())
	ctx := anonymous(t.Context())
	for _, key := range []string{".gatepost/staging/incoming/a.png", ".gatepost/quarantine/x", ".gatepost/x"} {
		calls := map[string]func() error{
			"post": func() error {
				_, err := svc.CreatePresignedPost(ctx, &gatepostv1.CreatePresignedPostRequest{Profile: "anything", Key: key, ContentType: "text/plain"})
				return err
			},
			"put": func() error {
				_, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Profile: "anything", Key: key, ContentType: "text/plain", ContentLength: proto.Int64(3)})
				return err
			},
			"multipart": func() error {
				_, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "anything", Key: key, ContentType: "text/plain", TotalSize: proto.Int64(3)})
				return err
			},
			"get": func() error {
				_, err := svc.GetUpload(ctx, &gatepostv1.GetUploadRequest{Profile: "anything", Key: key})
				return err
			},
			"finalize": func() error {
				_, err := svc.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "anything", Key: key})
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "key: ") ||
				!strings.Contains(err.Error(), "reserve") {
				t.Errorf("%s of %q: %v; want InvalidArgument about the reserved space", name, key, err)
			}
		}
	}
}

// TestStagingCredentials: on a staging profile every credential writes to
// the staging key and pins the declaration, while the caller is told the
// final key.
func TestStagingCredentials(t *testing.T) {
	t.Parallel()
	profiles := testProfiles(t)
	p := profiles["default"]
	p.Verify.Staging = true
	profiles["default"] = p
	store := &fakeStore{}
	svc := NewService(profiles, store, discardLogger())
	resp, err := svc.CreatePresignedPost(anonymous(t.Context()), &gatepostv1.CreatePresignedPostRequest{
		Key: "a.png", ContentType: "image/png", ContentLength: proto.Int64(5), Metadata: map[string]string{"origin": "web"},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed := store.calls()[0]
	if resp.GetKey() != "incoming/a.png" || signed.Key != staging.Key("incoming/a.png") {
		t.Errorf("answered key %q, signed key %q; want the final key answered and the staging key signed", resp.GetKey(), signed.Key)
	}
	d, err := staging.Parse(signed.Metadata)
	if err != nil || d.Subject != anyone.Subject || d.Profile != "default" || d.Size != 5 || signed.Metadata["origin"] != "web" {
		t.Errorf("signed metadata %v: declaration %+v, %v", signed.Metadata, d, err)
	}
}

// TestStagingChangedMidUpload: a multipart upload begun before a profile
// started staging cannot be completed (it would put unverified bytes at
// the key), only aborted.
func TestStagingChangedMidUpload(t *testing.T) {
	t.Parallel()
	profiles := testProfiles(t)
	store := &fakeStore{}
	tokens := uploadtoken.NewRandom(time.Hour)
	before := NewService(profiles, store, discardLogger(), WithUploadTokens(tokens))
	up, err := before.CreateMultipartUpload(anonymous(t.Context()), &gatepostv1.CreateMultipartUploadRequest{
		Key: "big.png", ContentType: "image/png", TotalSize: proto.Int64(6 << 20),
	})
	if err != nil {
		t.Fatal(err)
	}
	staged := testProfiles(t)
	p := staged["default"]
	p.Verify.Staging = true
	staged["default"] = p
	after := NewService(staged, store, discardLogger(), WithUploadTokens(tokens))
	_, err = after.CompleteMultipartUpload(anonymous(t.Context()), &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "staged") {
		t.Errorf("complete after staging was switched on: %v; want FailedPrecondition", err)
	}
	if _, err := after.AbortMultipartUpload(anonymous(t.Context()), &gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}); err != nil {
		t.Errorf("abort: %v", err)
	}
}

// TestDeclarationCountsAgainstMetadata: on a staging profile the
// declaration gatepost pins counts towards S3's 2 KB of metadata, so a
// credential S3 would refuse is never issued.
func TestDeclarationCountsAgainstMetadata(t *testing.T) {
	t.Parallel()
	profiles := testProfiles(t)
	p := profiles["default"]
	p.Verify.Staging = true
	profiles["default"] = p
	svc := NewService(profiles, &fakeStore{}, discardLogger())
	id := &auth.Identity{Subject: strings.Repeat("é", 100), Profiles: []string{config.AllProfiles}}
	ctx := ContextWithIdentity(t.Context(), id)
	_, err := svc.CreatePresignedPost(ctx, &gatepostv1.CreatePresignedPostRequest{
		Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"origin": strings.Repeat("o", 1400)},
	})
	if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "metadata: ") {
		t.Errorf("CreatePresignedPost = %v; want InvalidArgument on metadata", err)
	}
}
