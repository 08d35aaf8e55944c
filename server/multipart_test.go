package server

import (
	stdcmp "cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
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
			u.Subject, u.UploadID, u.TotalSize, u.PartSize = auth.AnonymousSubject, "upload-1", stdcmp.Or(tt.size, 8<<20), 8<<20
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
			if want := *stdcmp.Or(tt.wantAbort, &tt.want); status.Code(err) != want {
				t.Errorf("AbortMultipartUpload: %v; want %s", err, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// multipartProfiles adds to testProfiles a multipart profile that pins
// its headers and does not overwrite.
func multipartProfiles(t *testing.T) map[string]config.Profile {
	t.Helper()
	profiles := testProfiles(t)
	no := false
	profiles["videos"] = config.Profile{
		Bucket: "videos", KeyPrefix: "videos/{subject}/", KeyMode: config.KeyModeClient, MinBytes: 1, MaxBytes: 1 << 30,
		ContentTypes: []string{"video/mp4"}, Expires: time.Minute, MetadataKeys: []string{"title"},
		Methods:            []config.Method{config.MethodMultipart},
		ContentDisposition: "attachment", CacheControl: "private", Overwrite: &no,
	}
	profiles["putonly"] = config.Profile{
		Bucket: "misc", KeyPrefix: "putonly/", KeyMode: config.KeyModeClient, MaxBytes: 1 << 30,
		ContentTypes: []string{"video/mp4"}, Expires: time.Minute, Methods: []config.Method{config.MethodPut},
	}
	return profiles
}

const mib = 1 << 20

// TestMultipartUpload walks one upload through every step against the
// fake store: the decision the store is given, the part sizes signed, and
// Complete checking the store's parts before assembling them.
func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	ctx := anonymous(t.Context())
	store := &fakeStore{}
	svc := NewService(multipartProfiles(t), store, discardLogger())
	up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{
		Profile: "videos", Key: "talk.mp4", ContentType: "video/mp4", TotalSize: proto.Int64(20 * mib),
		Metadata: map[string]string{"title": "Q3"},
	})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	want := &uploadpolicy.Multipart{
		Bucket: "videos", Key: "videos/anonymous/talk.mp4", ContentType: "video/mp4", Metadata: map[string]string{"title": "Q3"},
		TotalSize: 20 * mib, PartSize: 8 * mib, Headers: uploadpolicy.Headers{CacheControl: "private", ContentDisposition: "attachment"},
	}
	if len(store.multiparts) != 1 {
		t.Fatalf("%d uploads created, want 1", len(store.multiparts))
	}
	if diff := cmp.Diff(want, store.multiparts[0]); diff != "" {
		t.Errorf("created upload (-want +got):\n%s", diff)
	}
	if up.GetKey() != want.Key || up.GetPartSize() != 8*mib || up.GetPartCount() != 3 || up.GetTotalSize() != 20*mib || up.GetUploadToken() == "" {
		t.Errorf("answer %v", up)
	}

	parts, err := svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{3, 1, 2}})
	if err != nil {
		t.Fatalf("PresignUploadParts: %v", err)
	}
	if len(parts.GetParts()) != 3 {
		t.Fatalf("%d part URLs, want 3", len(parts.GetParts()))
	}
	if diff := cmp.Diff([]int64{4 * mib, 8 * mib, 8 * mib}, store.partSizes); diff != "" {
		t.Errorf("part sizes signed (-want +got):\n%s", diff)
	}

	complete := func(listed []uploadpolicy.Part, existing bool) error {
		store.mu.Lock()
		store.parts, store.existing = listed, existing
		store.mu.Unlock()
		_, err := svc.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
		return err
	}
	all := []uploadpolicy.Part{{Number: 1, Size: 8 * mib, ETag: `"a"`}, {Number: 2, Size: 8 * mib, ETag: `"b"`}, {Number: 3, Size: 4 * mib, ETag: `"c"`}}
	for _, tt := range []struct {
		name     string
		listed   []uploadpolicy.Part
		existing bool
		want     codes.Code
	}{
		{"a part missing", all[:2], false, codes.FailedPrecondition},
		{"a part of another size", []uploadpolicy.Part{all[0], all[1], {Number: 3, Size: 5 * mib}}, false, codes.FailedPrecondition},
		{"a part beyond the declared count", append(slices.Clone(all), uploadpolicy.Part{Number: 4, Size: 1}), false, codes.FailedPrecondition},
		{"over an existing object", all, true, codes.AlreadyExists},
		{"every part as declared", all, false, codes.OK},
	} {
		if got := status.Code(complete(tt.listed, tt.existing)); got != tt.want {
			t.Errorf("complete with %s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if diff := cmp.Diff([]string{"videos/videos/anonymous/talk.mp4"}, store.completed); diff != "" {
		t.Errorf("completed uploads (-want +got):\n%s", diff)
	}

	if _, err := svc.AbortMultipartUpload(ctx, &gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}); err != nil {
		t.Errorf("AbortMultipartUpload: %v", err)
	}
	if len(store.aborted) != 1 {
		t.Errorf("%d uploads aborted, want 1", len(store.aborted))
	}
}

// TestMultipartInvalid: bad requests and tokens are refused with the field
// they are about, and the store is never asked.
func TestMultipartInvalid(t *testing.T) {
	t.Parallel()
	store := &fakeStore{}
	svc := NewService(multipartProfiles(t), store, discardLogger())
	ctx := anonymous(t.Context())
	create := func(change func(*gatepostv1.CreateMultipartUploadRequest)) error {
		req := &gatepostv1.CreateMultipartUploadRequest{Profile: "videos", Key: "a.mp4", ContentType: "video/mp4", TotalSize: proto.Int64(mib)}
		change(req)
		_, err := svc.CreateMultipartUpload(ctx, req)
		return err
	}
	up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "videos", Key: "b.mp4", ContentType: "video/mp4", TotalSize: proto.Int64(mib)})
	if err != nil {
		t.Fatal(err)
	}
	store.multiparts = nil
	bob := ContextWithIdentity(t.Context(), &auth.Identity{Subject: "bob", Profiles: []string{config.AllProfiles}})
	for _, tt := range []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"no total size", func() error { return create(func(r *gatepostv1.CreateMultipartUploadRequest) { r.TotalSize = nil }) }, codes.InvalidArgument, "total_size"},
		{"zero total size", func() error {
			return create(func(r *gatepostv1.CreateMultipartUploadRequest) { r.TotalSize = proto.Int64(0) })
		}, codes.InvalidArgument, "total_size"},
		{"over the profile's maximum", func() error {
			return create(func(r *gatepostv1.CreateMultipartUploadRequest) { r.TotalSize = proto.Int64(1<<30 + 1) })
		}, codes.InvalidArgument, "total_size"},
		{"a profile without multipart", func() error {
			return create(func(r *gatepostv1.CreateMultipartUploadRequest) { r.Profile = "putonly" })
		}, codes.InvalidArgument, "profile"},
		{"no token", func() error {
			_, err := svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{PartNumbers: []int32{1}})
			return err
		}, codes.InvalidArgument, "upload_token"},
		{"a forged token", func() error {
			_, err := svc.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken() + "x"})
			return err
		}, codes.InvalidArgument, "upload_token"},
		{"another caller's token", func() error {
			_, err := svc.AbortMultipartUpload(bob, &gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()})
			return err
		}, codes.PermissionDenied, "upload_token"},
		{"no part numbers", func() error {
			_, err := svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken()})
			return err
		}, codes.InvalidArgument, "part_numbers"},
		{"a part beyond the upload", func() error {
			_, err := svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{2}})
			return err
		}, codes.InvalidArgument, "part_numbers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.HasPrefix(st.Message(), tt.field) {
				t.Errorf("%v; want %s starting with %q", err, tt.code, tt.field)
			}
		})
	}
	if n := len(store.multiparts); n != 0 {
		t.Errorf("%d uploads created for refused requests", n)
	}
	if len(store.aborted)+len(store.completed) != 0 || store.signedParts() != 0 {
		t.Errorf("the store was asked to act on a refused request")
	}
}
