package server

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// TestListUploadedParts: the parts the store holds are listed with their
// sizes and ETags, and the parts to upload are those missing or of the
// wrong size; another caller's token and a gone upload are refused.
func TestListUploadedParts(t *testing.T) {
	t.Parallel()
	store := &fakeStore{}
	svc := NewService(testProfiles(t), store, discardLogger())
	total := int64(10 << 20)
	up, err := svc.CreateMultipartUpload(anonymous(t.Context()), &gatepostv1.CreateMultipartUploadRequest{
		Key: "big.png", ContentType: "image/png", TotalSize: proto.Int64(total),
	})
	if err != nil {
		t.Fatal(err)
	}
	count := up.GetPartCount()
	if count < 2 {
		t.Fatalf("%d parts; the test needs two or more", count)
	}
	store.parts = []uploadpolicy.Part{
		{Number: 1, Size: up.GetPartSize(), ETag: `"one"`},
		{Number: 2, Size: 5, ETag: `"short"`}, // the wrong size: to upload again
	}
	resp, err := svc.ListUploadedParts(anonymous(t.Context()), &gatepostv1.ListUploadedPartsRequest{UploadToken: up.GetUploadToken()})
	if err != nil {
		t.Fatal(err)
	}
	var want []int32
	for n := int32(2); n <= count; n++ {
		want = append(want, n)
	}
	if len(resp.GetParts()) != 2 || resp.GetParts()[0].GetEtag() != `"one"` || !slices.Equal(resp.GetMissingPartNumbers(), want) ||
		resp.GetPartSize() != up.GetPartSize() || resp.GetKey() != "incoming/big.png" || resp.GetTotalSize() != total || resp.GetProfile() != "default" || resp.GetPartsPerCall() < 1 {
		t.Errorf("ListUploadedParts = %v; want parts 1 and 2 listed, %v missing", resp, want)
	}

	other := ContextWithIdentity(t.Context(), &auth.Identity{Subject: "bob", Profiles: []string{config.AllProfiles}})
	if _, err := svc.ListUploadedParts(other, &gatepostv1.ListUploadedPartsRequest{UploadToken: up.GetUploadToken()}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("another caller: %v; want PermissionDenied", err)
	}
	store.err = fmt.Errorf("list: %w", objectstore.ErrNoSuchUpload)
	if _, err := svc.ListUploadedParts(anonymous(t.Context()), &gatepostv1.ListUploadedPartsRequest{UploadToken: up.GetUploadToken()}); status.Code(err) != codes.NotFound {
		t.Errorf("a gone upload: %v; want NotFound", err)
	}
}

// TestCompleteWhileAPartChanges: a part uploaded again between gatepost's
// list and the store's completion is a 409 the client can retry, not a
// 503.
func TestCompleteWhileAPartChanges(t *testing.T) {
	t.Parallel()
	store := &fakeStore{}
	svc := NewService(testProfiles(t), store, discardLogger())
	total := int64(100)
	up, err := svc.CreateMultipartUpload(anonymous(t.Context()), &gatepostv1.CreateMultipartUploadRequest{
		Key: "small.png", ContentType: "image/png", TotalSize: proto.Int64(total),
	})
	if err != nil {
		t.Fatal(err)
	}
	store.parts = []uploadpolicy.Part{{Number: 1, Size: total, ETag: `"one"`}}
	store.completeErr = fmt.Errorf("complete: %w", objectstore.ErrPartChanged)
	_, err = svc.CompleteMultipartUpload(anonymous(t.Context()), &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
	if status.Code(err) != codes.Aborted || status.Convert(err).Message()[:7] != "parts: " {
		t.Errorf("complete = %v; want Aborted about the parts", err)
	}
}

// TestPartURLLifetime: part URLs live for the profile's part_url_expires
// when it has one, its expires otherwise.
func TestPartURLLifetime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"the profile's expires", 0, 10 * time.Minute},
		{"part_url_expires", 2 * time.Hour, 2 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			profiles := testProfiles(t)
			p := profiles["default"]
			p.PartURLExpires = tt.set
			profiles["default"] = p
			store := &fakeStore{}
			svc := NewService(profiles, store, discardLogger())
			up, err := svc.CreateMultipartUpload(anonymous(t.Context()), &gatepostv1.CreateMultipartUploadRequest{
				Key: "a.png", ContentType: "image/png", TotalSize: proto.Int64(100),
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.PresignUploadParts(anonymous(t.Context()), &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{1}}); err != nil {
				t.Fatal(err)
			}
			if len(store.partExpires) != 1 || store.partExpires[0] != tt.want {
				t.Errorf("part URL lifetimes %v, want [%s]", store.partExpires, tt.want)
			}
		})
	}
}
