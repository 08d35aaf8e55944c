package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/staging"
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
