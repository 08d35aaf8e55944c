package server

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// unsizedService returns a Service whose "uppy" profile takes multipart
// uploads of undeclared size up to 12 MiB (3 parts of 5 MiB at most).
func unsizedService(t *testing.T) (*Service, *fakeStore) {
	t.Helper()
	profiles := multipartProfiles(t)
	profiles["uppy"] = config.Profile{
		Bucket: "videos", KeyPrefix: "uppy/{subject}/", KeyMode: config.KeyModeClient, MinBytes: 1, MaxBytes: 12 * mib,
		ContentTypes: []string{"video/mp4"}, Expires: time.Minute, AllowUnsizedMultipart: true,
	}
	store := &fakeStore{}
	return NewService(profiles, store, discardLogger()), store
}

// TestUnsizedMultipart: without a declared size, a profile that allows it
// signs part URLs of any length for parts 1 to max_part_count, and Complete
// takes parts 1..n within the profile's limits; parts over its maximum
// make Complete abort the upload, while a gap or a short part is left for
// the client to mend.
func TestUnsizedMultipart(t *testing.T) {
	t.Parallel()
	all := []uploadpolicy.Part{{Number: 1, Size: 5 * mib, ETag: `"a"`}, {Number: 2, Size: 5 * mib, ETag: `"b"`}, {Number: 3, Size: 100, ETag: `"c"`}}
	for _, tt := range []struct {
		name        string
		listed      []uploadpolicy.Part
		want        codes.Code
		wantMsg     string
		wantAborted bool
	}{
		{"parts within the limits", all, codes.OK, "", false},
		{"one small part", []uploadpolicy.Part{{Number: 1, Size: 10, ETag: `"a"`}}, codes.OK, "", false},
		{"a gap", []uploadpolicy.Part{all[0], all[2]}, codes.FailedPrecondition, "parts: part 2 is missing; upload the missing parts, then complete again", false},
		{"a short part before the last", []uploadpolicy.Part{{Number: 1, Size: mib}, all[2]}, codes.FailedPrecondition, "parts: part 1 is 1048576 bytes", false},
		{"over the maximum", []uploadpolicy.Part{all[0], all[1], {Number: 3, Size: 3 * mib}}, codes.FailedPrecondition,
			"parts: the parts hold 13631488 bytes, over the profile's maximum of 12582912; gatepost aborted the upload and nothing was stored", true},
		{"one part of 5 GiB", []uploadpolicy.Part{{Number: 1, Size: 5 << 30}}, codes.FailedPrecondition, "gatepost aborted the upload", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, store := unsizedService(t)
			ctx := anonymous(t.Context())
			up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "uppy", Key: "clip.mp4", ContentType: "video/mp4"})
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			if up.GetMaxPartCount() != 3 || up.GetPartSize() != 0 || up.GetPartCount() != 0 || up.GetTotalSize() != 0 {
				t.Errorf("answer %v; want max_part_count 3 and no part plan", up)
			}
			parts, err := svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{1, 2, 3}})
			if err != nil {
				t.Fatalf("PresignUploadParts: %v", err)
			}
			if diff := cmp.Diff([]int64{objectstore.AnyPartLength, objectstore.AnyPartLength, objectstore.AnyPartLength}, store.partSizes); diff != "" {
				t.Errorf("lengths signed (-want +got):\n%s", diff)
			}
			if parts.GetParts()[0].GetContentLength() != 0 {
				t.Errorf("content_length %d, want 0 (not pinned)", parts.GetParts()[0].GetContentLength())
			}
			_, err = svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{4}})
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "part_numbers: 4 is not a part of this upload (1 to 3)") {
				t.Errorf("part 4: %v", err)
			}
			store.mu.Lock()
			store.parts = tt.listed
			store.mu.Unlock()
			done, err := svc.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
			if st := status.Convert(err); st.Code() != tt.want || !strings.Contains(st.Message(), tt.wantMsg) {
				t.Fatalf("CompleteMultipartUpload: %v; want %s with %q", err, tt.want, tt.wantMsg)
			}
			if err == nil && done.GetSize() != uploadpolicy.TotalOf(tt.listed) {
				t.Errorf("size %d, want the parts' %d", done.GetSize(), uploadpolicy.TotalOf(tt.listed))
			}
			if got := len(store.aborted) == 1; got != tt.wantAborted {
				t.Errorf("aborted %v, want %v", store.aborted, tt.wantAborted)
			}
			if tt.want != codes.OK && len(store.completed) != 0 {
				t.Errorf("completed %v despite the refusal", store.completed)
			}
		})
	}
}

// TestUnsizedMultipartRefused: a profile that does not allow it still
// requires the size, and ListUploadedParts of an unsized upload reports
// the gaps below the last part that arrived.
func TestUnsizedMultipartRefused(t *testing.T) {
	t.Parallel()
	svc, store := unsizedService(t)
	ctx := anonymous(t.Context())
	_, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "videos", Key: "a.mp4", ContentType: "video/mp4"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), `total_size: required (the size of the whole object): profile "videos" does not take multipart uploads of unknown size`) {
		t.Errorf("no size on a sized profile: %v", err)
	}
	up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "uppy", Key: "clip.mp4", ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	store.parts = []uploadpolicy.Part{{Number: 1, Size: 5 * mib, ETag: `"a"`}, {Number: 3, Size: 10, ETag: `"c"`}}
	store.mu.Unlock()
	listed, err := svc.ListUploadedParts(ctx, &gatepostv1.ListUploadedPartsRequest{UploadToken: up.GetUploadToken()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int32{2}, listed.GetMissingPartNumbers()); diff != "" || listed.GetMaxPartCount() != 3 || listed.GetPartCount() != 0 || len(listed.GetParts()) != 2 {
		t.Errorf("listed %v (missing -want +got:\n%s)", listed, diff)
	}
}

// TestBarePartURLs: bare part URLs are only for uploads of undeclared size,
// and a store that cannot take them safely refuses with FailedPrecondition.
func TestBarePartURLs(t *testing.T) {
	t.Parallel()
	svc, store := unsizedService(t)
	ctx := anonymous(t.Context())
	unsized, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "uppy", Key: "clip.mp4", ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	sized, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "uppy", Key: "b.mp4", ContentType: "video/mp4", TotalSize: proto.Int64(mib)})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(token string) error {
		_, err := svc.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: token, PartNumbers: []int32{1}, Bare: true})
		return err
	}
	if err := sign(unsized.GetUploadToken()); err != nil {
		t.Errorf("bare URL of an unsized upload: %v", err)
	}
	if st := status.Convert(sign(sized.GetUploadToken())); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "bare: only for multipart uploads of undeclared size") {
		t.Errorf("bare URL of a sized upload: %v", st)
	}
	store.bareUnsafe = true
	if st := status.Convert(sign(unsized.GetUploadToken())); st.Code() != codes.FailedPrecondition || !strings.HasPrefix(st.Message(), "bare: this store would let a part URL that pins no headers copy other objects") {
		t.Errorf("bare URL on a store that cannot take it: %v", st)
	}
}

// TestUnsizedQuota: an upload of undeclared size reserves the profile's
// maximum; completion sets the reservation to the real size, an abort for
// being over the maximum releases it, and an upload completed by another
// call in between (the abort finds no upload) keeps it, since that call
// stored the object.
func TestUnsizedQuota(t *testing.T) {
	t.Parallel()
	profiles := multipartProfiles(t)
	profiles["uppy"] = config.Profile{
		Bucket: "videos", KeyPrefix: "uppy/", KeyMode: config.KeyModeClient, MinBytes: 1, MaxBytes: 12 * mib,
		ContentTypes: []string{"video/mp4"}, Expires: time.Minute, AllowUnsizedMultipart: true,
		Quota: &config.Quota{Bytes: 1 << 30, Per: 24 * time.Hour},
	}
	ctx := anonymous(t.Context())
	used := func(svc *Service) int64 {
		t.Helper()
		q, err := svc.GetQuota(ctx, &gatepostv1.GetQuotaRequest{Profile: "uppy"})
		if err != nil || len(q.GetQuotas()) != 1 {
			t.Fatalf("GetQuota: %v, %v", q, err)
		}
		return q.GetQuotas()[0].GetUsedBytes()
	}
	over := []uploadpolicy.Part{{Number: 1, Size: 5 * mib}, {Number: 2, Size: 5 * mib}, {Number: 3, Size: 3 * mib}}
	for _, tt := range []struct {
		name     string
		parts    []uploadpolicy.Part
		abortErr error
		want     codes.Code
		wantUsed int64
	}{
		{"completed", []uploadpolicy.Part{{Number: 1, Size: 100}}, nil, codes.OK, 100},
		{"over the maximum, aborted", over, nil, codes.FailedPrecondition, 0},
		{"over the maximum, completed by another call meanwhile", over, objectstore.ErrNoSuchUpload, codes.NotFound, 12 * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakeStore{abortErr: tt.abortErr}
			svc := NewService(profiles, store, discardLogger(), WithQuotas(nil, nil))
			up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Profile: "uppy", Key: "clip.mp4", ContentType: "video/mp4"})
			if err != nil {
				t.Fatal(err)
			}
			if got := used(svc); got != 12*mib {
				t.Errorf("reserved %d, want the profile's maximum", got)
			}
			store.mu.Lock()
			store.parts = tt.parts
			store.mu.Unlock()
			_, err = svc.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
			if status.Code(err) != tt.want {
				t.Fatalf("CompleteMultipartUpload: %v, want %s", err, tt.want)
			}
			if got := used(svc); got != tt.wantUsed {
				t.Errorf("quota holds %d, want %d", got, tt.wantUsed)
			}
		})
	}
}
