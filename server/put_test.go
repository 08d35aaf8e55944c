package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// putProfiles adds to testProfiles a profile that pins its headers and
// does not overwrite, and one that offers POST only.
func putProfiles(t *testing.T) map[string]config.Profile {
	t.Helper()
	profiles := testProfiles(t)
	no := false
	profiles["docs"] = config.Profile{
		Bucket: "docs", KeyPrefix: "docs/{subject}/", KeyMode: config.KeyModeClient, MinBytes: 10, MaxBytes: 1000,
		ContentTypes: []string{"application/pdf"}, Expires: 2 * time.Minute, Methods: []config.Method{config.MethodPut},
		ContentDisposition: "attachment", CacheControl: "private", Overwrite: &no, MetadataKeys: []string{"owner"},
	}
	profiles["postonly"] = config.Profile{
		Bucket: "misc", KeyPrefix: "postonly/", KeyMode: config.KeyModeClient, MaxBytes: 1000,
		ContentTypes: []string{"text/plain"}, Expires: time.Minute, Methods: []config.Method{config.MethodPost},
	}
	return profiles
}

// TestCreatePresignedPut: the store is asked to sign exactly the profile's
// decision (bucket, key under the caller's prefix, type, exact length,
// metadata, checksum, pinned headers, no overwriting, expiry), and the
// answer carries what it signed.
func TestCreatePresignedPut(t *testing.T) {
	t.Parallel()
	store := &fakeStore{}
	svc := NewService(putProfiles(t), store, discardLogger())
	const sum = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	resp, err := svc.CreatePresignedPut(anonymous(t.Context()), &gatepostv1.CreatePresignedPutRequest{
		Profile: "docs", Key: "q3/report.pdf", ContentType: "Application/PDF", ContentLength: length(500),
		Metadata: map[string]string{"Owner": "alice"}, ChecksumSha256: sum,
	})
	if err != nil {
		t.Fatalf("CreatePresignedPut: %v", err)
	}
	want := &uploadpolicy.Put{
		Bucket: "docs", Key: "docs/anonymous/q3/report.pdf", ContentType: "application/pdf", ContentLength: 500,
		Metadata: map[string]string{"owner": "alice"}, ChecksumSHA256: sum, Expires: 2 * time.Minute,
		Headers:  uploadpolicy.Headers{CacheControl: "private", ContentDisposition: "attachment"},
		IfAbsent: true,
	}
	if len(store.puts) != 1 {
		t.Fatalf("%d PUTs signed, want 1", len(store.puts))
	}
	if diff := cmp.Diff(want, store.puts[0]); diff != "" {
		t.Errorf("signed PUT (-want +got):\n%s", diff)
	}
	if resp.GetKey() != want.Key || resp.GetBucket() != "docs" || resp.GetMethod() != "PUT" ||
		resp.GetHeaders()["Content-Type"] != "application/pdf" || !resp.GetExpiresAt().AsTime().Equal(fixedSigned.ExpiresAt) {
		t.Errorf("answer %v does not carry what was signed", resp)
	}
}

// TestCreatePresignedPutInvalid: each bad request is refused with the
// field it is about, before anything is signed.
func TestCreatePresignedPutInvalid(t *testing.T) {
	t.Parallel()
	ok := func() *gatepostv1.CreatePresignedPutRequest {
		return &gatepostv1.CreatePresignedPutRequest{Profile: "docs", Key: "a.pdf", ContentType: "application/pdf", ContentLength: length(500)}
	}
	tests := []struct {
		name   string
		change func(*gatepostv1.CreatePresignedPutRequest)
		code   codes.Code
		field  string
	}{
		{"no length", func(r *gatepostv1.CreatePresignedPutRequest) { r.ContentLength = nil }, codes.InvalidArgument, "content_length"},
		{"empty body", func(r *gatepostv1.CreatePresignedPutRequest) { r.ContentLength = length(0) }, codes.InvalidArgument, "content_length"},
		{"negative length", func(r *gatepostv1.CreatePresignedPutRequest) { r.ContentLength = length(-1) }, codes.InvalidArgument, "content_length"},
		{"under the profile's minimum", func(r *gatepostv1.CreatePresignedPutRequest) { r.ContentLength = length(9) }, codes.InvalidArgument, "content_length"},
		{"over the profile's maximum", func(r *gatepostv1.CreatePresignedPutRequest) { r.ContentLength = length(1001) }, codes.InvalidArgument, "content_length"},
		{"checksum not base64", func(r *gatepostv1.CreatePresignedPutRequest) { r.ChecksumSha256 = "not base64!" }, codes.InvalidArgument, "checksum_sha256"},
		{"checksum of another length", func(r *gatepostv1.CreatePresignedPutRequest) { r.ChecksumSha256 = "AAAA" }, codes.InvalidArgument, "checksum_sha256"},
		{"type off the list", func(r *gatepostv1.CreatePresignedPutRequest) { r.ContentType = "text/plain" }, codes.InvalidArgument, "content_type"},
		{"metadata not listed", func(r *gatepostv1.CreatePresignedPutRequest) { r.Metadata = map[string]string{"team": "x"} }, codes.InvalidArgument, "metadata"},
		{"key escaping the prefix", func(r *gatepostv1.CreatePresignedPutRequest) { r.Key = "../bob/a.pdf" }, codes.InvalidArgument, "key"},
		{"a POST-only profile", func(r *gatepostv1.CreatePresignedPutRequest) { r.Profile, r.ContentType = "postonly", "text/plain" }, codes.InvalidArgument, "profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakeStore{}
			svc := NewService(putProfiles(t), store, discardLogger())
			req := ok()
			tt.change(req)
			_, err := svc.CreatePresignedPut(anonymous(t.Context()), req)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.HasPrefix(st.Message(), tt.field+": ") {
				t.Errorf("%v; want %s starting with %q", err, tt.code, tt.field+": ")
			}
			if len(store.puts) != 0 {
				t.Errorf("a PUT was signed for a refused request")
			}
		})
	}
}

// TestCreatePresignedPutStoreFailure: a signing failure is Unavailable and
// says what failed, without the store's own words.
func TestCreatePresignedPutStoreFailure(t *testing.T) {
	t.Parallel()
	svc := NewService(putProfiles(t), &fakeStore{err: errors.New("dial tcp 10.0.0.1:443: secret detail")}, discardLogger())
	_, err := svc.CreatePresignedPut(anonymous(t.Context()), &gatepostv1.CreatePresignedPutRequest{
		Profile: "docs", Key: "a.pdf", ContentType: "application/pdf", ContentLength: length(500),
	})
	if st := status.Convert(err); st.Code() != codes.Unavailable || strings.Contains(st.Message(), "secret detail") {
		t.Errorf("%v; want Unavailable without the cause", err)
	}
}
