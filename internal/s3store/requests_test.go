package s3store_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/s3store"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// signedHeaderNames returns the X-Amz-SignedHeaders of a presigned URL.
func signedHeaderNames(t *testing.T, rawURL string) []string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";")
}

// TestSignPutPinsHeaders: a PUT URL signs the copy guard, an empty tag
// set, an empty Content-Encoding, the standard storage class and the profile's pinned headers, and
// returns each for the client to send; none is hoisted into the query,
// where a store would not hold the client to it.
func TestSignPutPinsHeaders(t *testing.T) {
	t.Parallel()
	s := newSigner(t, staticProvider(""))
	tests := []struct {
		name string
		put  uploadpolicy.Put
		want map[string]string
	}{
		{
			name: "plain",
			put:  uploadpolicy.Put{Bucket: testBucket, Key: "a.txt", ContentType: "text/plain", ContentLength: 5, Expires: time.Minute},
			want: map[string]string{
				"Content-Length": "5", "Content-Type": "text/plain", "X-Amz-Copy-Source-If-Match": s3store.NoCopyETag,
				"X-Amz-Storage-Class": "STANDARD", "X-Amz-Tagging": "", "Content-Encoding": "", "X-Seaweedfs-Extract": "", "Response-Content-Disposition": "", "X-Minio-Source-Etag": "", "X-Minio-Source-Mtime": "",
			},
		},
		{
			name: "pinned headers, no overwriting",
			put: uploadpolicy.Put{
				Bucket: testBucket, Key: "a.txt", ContentType: "text/plain", ContentLength: 5, Expires: time.Minute,
				Headers:  uploadpolicy.Headers{CacheControl: "no-cache", ContentDisposition: "attachment"},
				IfAbsent: true, Metadata: map[string]string{"owner": "alice"},
				ChecksumSHA256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
			},
			want: map[string]string{
				"Content-Length": "5", "Content-Type": "text/plain", "X-Amz-Copy-Source-If-Match": s3store.NoCopyETag,
				"X-Amz-Storage-Class": "STANDARD", "X-Amz-Tagging": "", "Content-Encoding": "", "X-Seaweedfs-Extract": "", "Response-Content-Disposition": "", "X-Minio-Source-Etag": "", "X-Minio-Source-Mtime": "",
				"Cache-Control": "no-cache", "Content-Disposition": "attachment", "If-None-Match": "*",
				"X-Amz-Meta-Owner": "alice", "X-Amz-Checksum-Sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.SignPut(t.Context(), &tt.put)
			if err != nil {
				t.Fatalf("SignPut: %v", err)
			}
			if diff := cmp.Diff(tt.want, got.Headers); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			signed := signedHeaderNames(t, got.URL)
			for name := range tt.want {
				if !containsFold(signed, name) {
					t.Errorf("%s is not among the signed headers %v", name, signed)
				}
			}
			if q, _ := url.Parse(got.URL); q.Query().Has("x-amz-tagging") || q.Query().Has("x-amz-copy-source-if-match") {
				t.Errorf("a pinned header was hoisted into the query: %s", got.URL)
			}
		})
	}
}

// TestSignUploadPartPinsCopyGuard: every part URL signs the copy guard and
// an empty Content-Encoding.
func TestSignUploadPartPinsCopyGuard(t *testing.T) {
	t.Parallel()
	s := newSigner(t, staticProvider(""))
	got, err := s.SignUploadPart(t.Context(), testBucket, "big.bin", "upload-1", 3, objectstore.PartURL{Size: 5 << 20, Expires: time.Minute})
	if err != nil {
		t.Fatalf("SignUploadPart: %v", err)
	}
	want := map[string]string{
		"Content-Length": "5242880", "Content-Encoding": "", "X-Amz-Copy-Source-If-Match": s3store.NoCopyETag,
		"X-Seaweedfs-Extract": "", "Response-Content-Disposition": "", "X-Minio-Source-Etag": "", "X-Minio-Source-Mtime": "",
	}
	if diff := cmp.Diff(want, got.Headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	for name := range want {
		if !containsFold(signedHeaderNames(t, got.URL), name) {
			t.Errorf("%s is not signed: %s", name, got.URL)
		}
	}
}

// TestSignUploadPartAnyLength: a part URL of an upload without a declared
// size signs no Content-Length, and still the copy guard and empty pins.
func TestSignUploadPartAnyLength(t *testing.T) {
	t.Parallel()
	s := newSigner(t, staticProvider(""))
	got, err := s.SignUploadPart(t.Context(), testBucket, "big.bin", "upload-1", 3, objectstore.PartURL{Size: objectstore.AnyPartLength, Expires: time.Minute})
	if err != nil {
		t.Fatalf("SignUploadPart: %v", err)
	}
	signed := signedHeaderNames(t, got.URL)
	if _, ok := got.Headers["Content-Length"]; ok || containsFold(signed, "Content-Length") {
		t.Errorf("Content-Length is pinned: %v, %s", got.Headers, got.URL)
	}
	for _, name := range []string{"X-Amz-Copy-Source-If-Match", "Content-Encoding", "X-Seaweedfs-Extract"} {
		if !containsFold(signed, name) {
			t.Errorf("%s is not signed: %s", name, got.URL)
		}
	}
}

// TestSignUploadPartBare: a bare part URL signs no header but Host, and only
// for a store that refuses unsigned x-amz-* headers on presigned requests.
func TestSignUploadPartBare(t *testing.T) {
	t.Parallel()
	bare := objectstore.PartURL{Size: objectstore.AnyPartLength, Expires: time.Minute, Bare: true}
	for _, kind := range []config.Store{"", config.StoreMinIO, config.StoreOther} {
		cfg := testS3 // with an endpoint: not AWS itself
		cfg.Store = kind
		s, err := s3store.New(t.Context(), cfg, awsconfig.WithCredentialsProvider(staticProvider("")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignUploadPart(t.Context(), testBucket, "big.bin", "upload-1", 1, bare); !errors.Is(err, objectstore.ErrBareUnsafe) {
			t.Errorf("store %q with an endpoint signed a bare URL: %v", kind, err)
		}
	}
	for _, cfg := range []config.S3{
		{Region: testRegion, Endpoint: testEndpoint, PathStyle: true, Store: config.StoreSeaweedFS},
		{Region: testRegion, Endpoint: testEndpoint, PathStyle: true, Store: config.StoreAWS},
		{Region: testRegion}, // AWS S3 itself
	} {
		kind := cfg.Store
		s, err := s3store.New(t.Context(), cfg, awsconfig.WithCredentialsProvider(staticProvider("")))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.SignUploadPart(t.Context(), testBucket, "big.bin", "upload-1", 1, bare)
		if err != nil {
			t.Fatalf("%s: SignUploadPart: %v", kind, err)
		}
		if signed := signedHeaderNames(t, got.URL); len(signed) != 1 || !strings.EqualFold(signed[0], "host") || len(got.Headers) != 0 {
			t.Errorf("%s: signed %v, headers %v; want host alone", kind, signed, got.Headers)
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
