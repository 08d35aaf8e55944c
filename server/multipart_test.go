package server

import (
	"cmp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadtoken"
)

// multipartService returns a Service over a fake store whose "big"
// profile allows bursts of 10 requests, and an upload token of a 100-part
// upload in it.
func multipartService(t *testing.T) (*Service, *fakeStore, string) {
	t.Helper()
	profiles := testProfiles(t)
	profiles["big"] = config.Profile{
		Bucket: "big", KeyPrefix: "big/", KeyMode: config.KeyModeClient, MaxBytes: 1 << 40,
		ContentTypes: []string{"application/octet-stream"}, Expires: time.Minute,
		RateLimit: &config.RateLimit{RequestsPerSecond: 0.001, Burst: 10},
	}
	store := &fakeStore{}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	svc := NewService(profiles, store, discardLogger(), WithClock(func() time.Time { return now }))
	up, err := svc.CreateMultipartUpload(anonymous(t.Context()), &gatepostv1.CreateMultipartUploadRequest{
		Key: "x.bin", ContentType: "application/octet-stream", TotalSize: proto.Int64(100 * 8 << 20), Profile: "big",
	})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	if up.GetPartsPerCall() != 10 {
		t.Errorf("parts_per_call = %d, want the burst of 10", up.GetPartsPerCall())
	}
	return svc, store, up.GetUploadToken()
}

// TestPresignUploadPartsCost: duplicates are refused, and every URL costs
// one request of the caller's rate (a thousand copies of part 1 used to
// cost one).
func TestPresignUploadPartsCost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		batches [][]int32
		// want is the code of the last call; wantMsg part of its message.
		want    codes.Code
		wantMsg string
		// wantSigned is how many URLs the store signed in all.
		wantSigned int
	}{
		{name: "duplicates", batches: [][]int32{{1, 2, 1}}, want: codes.InvalidArgument, wantMsg: "part_numbers: 1 is listed twice"},
		{name: "a thousand copies of one part", batches: [][]int32{repeat(1, 1000)}, want: codes.InvalidArgument, wantMsg: "listed twice"},
		// Starting the upload took one of the ten.
		{name: "within the burst", batches: [][]int32{{1, 2, 3, 4, 5}, {6, 7, 8, 9}}, want: codes.OK, wantSigned: 9},
		{name: "each URL counts", batches: [][]int32{{1, 2, 3, 4, 5, 6, 7, 8}, {9, 10}}, want: codes.ResourceExhausted, wantMsg: "rate limit exceeded", wantSigned: 8},
		{name: "more than the burst at once", batches: [][]int32{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, want: codes.InvalidArgument,
			wantMsg: "part_numbers: 11 in one call is more than your rate limit allows at once (10)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, store, token := multipartService(t)
			var err error
			for _, numbers := range tt.batches {
				_, err = svc.PresignUploadParts(anonymous(t.Context()), &gatepostv1.PresignUploadPartsRequest{UploadToken: token, PartNumbers: numbers})
			}
			if got := status.Code(err); got != tt.want || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Errorf("last call: %v; want %s with %q", err, tt.want, tt.wantMsg)
			}
			if got := store.signedParts(); got != tt.wantSigned {
				t.Errorf("the store signed %d URLs, want %d", got, tt.wantSigned)
			}
		})
	}
}

func repeat(n int32, times int) []int32 {
	out := make([]int32, times)
	for i := range out {
		out[i] = n
	}
	return out
}

// TestUploadTokenMustFitItsProfile: a token sealed by gatepost's own
// secret (say, leaked) still cannot aim part URLs, complete or abort at a
// bucket or key outside its profile and the caller's prefix as configured
// now; one whose size the profile no longer allows can be aborted, but
// not continued.
func TestUploadTokenMustFitItsProfile(t *testing.T) {
	t.Parallel()
	profiles := testProfiles(t)
	profiles["big"] = config.Profile{
		Bucket: "big", KeyPrefix: "big/{subject}/", KeyMode: config.KeyModeClient, MaxBytes: 1 << 40,
		ContentTypes: []string{"application/octet-stream"}, Expires: time.Minute,
	}
	sealer, err := uploadtoken.New([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(profiles, &fakeStore{}, discardLogger(), WithUploadTokens(sealer))
	own := uploadtoken.Upload{Profile: "big", Bucket: "big", Key: "big/anonymous/x.bin"}
	for _, tt := range []struct {
		name string
		up   uploadtoken.Upload
		size int64 // default 8 MiB
		want codes.Code
		// wantAbort, when set, differs from want.
		wantAbort *codes.Code
	}{
		{name: "its own space", up: own, want: codes.OK},
		{name: "another bucket", up: uploadtoken.Upload{Profile: "big", Bucket: "misc", Key: "big/anonymous/x.bin"}, want: codes.PermissionDenied},
		{name: "another subject's prefix", up: uploadtoken.Upload{Profile: "big", Bucket: "big", Key: "big/bob/x.bin"}, want: codes.PermissionDenied},
		{name: "outside the prefix", up: uploadtoken.Upload{Profile: "big", Bucket: "big", Key: "elsewhere/x.bin"}, want: codes.PermissionDenied},
		{name: "a profile that is gone", up: uploadtoken.Upload{Profile: "gone", Bucket: "big", Key: "big/anonymous/x.bin"}, want: codes.InvalidArgument},
		{name: "larger than the profile allows now", up: own, size: 2 << 40, want: codes.FailedPrecondition, wantAbort: ptr(codes.OK)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := tt.up
			u.Subject, u.UploadID, u.TotalSize, u.PartSize = auth.AnonymousSubject, "upload-1", cmp.Or(tt.size, 8<<20), 8<<20
			token, _, err := sealer.Seal(u, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.PresignUploadParts(anonymous(t.Context()), &gatepostv1.PresignUploadPartsRequest{UploadToken: token, PartNumbers: []int32{1}})
			if got := status.Code(err); got != tt.want {
				t.Errorf("PresignUploadParts: %v; want %s", err, tt.want)
			}
			if tt.want != codes.OK {
				_, err = svc.CompleteMultipartUpload(anonymous(t.Context()), &gatepostv1.CompleteMultipartUploadRequest{UploadToken: token})
				if got := status.Code(err); got != tt.want {
					t.Errorf("CompleteMultipartUpload: %v; want %s", err, tt.want)
				}
			}
			_, err = svc.AbortMultipartUpload(anonymous(t.Context()), &gatepostv1.AbortMultipartUploadRequest{UploadToken: token})
			if want := *cmp.Or(tt.wantAbort, &tt.want); status.Code(err) != want {
				t.Errorf("AbortMultipartUpload: %v; want %s", err, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
