package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// quotaService returns a Service whose default profile (up to 10 MiB) has
// a quota of 25 MiB a day, on a fixed clock, and its fake store.
func quotaService(t *testing.T, now *time.Time) (*Service, *fakeStore) {
	t.Helper()
	store := &fakeStore{objects: map[string]*uploadpolicy.Object{}}
	q := &config.Quota{Bytes: 25 << 20, Per: 24 * time.Hour}
	svc := NewService(testProfiles(t), store, discardLogger(), WithQuotas(nil, q), WithClock(func() time.Time { return *now }))
	return svc, store
}

func usedQuota(t *testing.T, svc *Service, ctx context.Context) int64 {
	t.Helper()
	resp, err := svc.GetQuota(ctx, &gatepostv1.GetQuotaRequest{Profile: config.DefaultProfile})
	if err != nil {
		t.Fatalf("GetQuota: %v", err)
	}
	if len(resp.GetQuotas()) != 1 || resp.GetQuotas()[0].GetLimitBytes() != 25<<20 || resp.GetQuotas()[0].GetWindowSeconds() != 86400 {
		t.Fatalf("GetQuota: %v", resp)
	}
	return resp.GetQuotas()[0].GetUsedBytes()
}

// TestQuota: every credential reserves what it allows (a POST without a
// declared size: the profile's maximum); over the quota is
// ResourceExhausted naming the quota, what is used and what was asked,
// with retry-after; GetUpload corrects a reservation to the real size; a
// window later it is all free again.
func TestQuota(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc, store := quotaService(t, &now)
	var header metadata.MD
	ctx := grpc.NewContextWithServerTransportStream(anonymous(t.Context()), &collectedMetadata{})
	post := func(key string, length *int64) error {
		_, err := svc.CreatePresignedPost(ctx, &gatepostv1.CreatePresignedPostRequest{Key: key, ContentType: "text/plain", ContentLength: length})
		return err
	}
	if err := post("a.txt", nil); err != nil { // reserves the profile's 10 MiB
		t.Fatal(err)
	}
	if err := post("b.txt", length(10<<20)); err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 20<<20 {
		t.Errorf("used %d, want 20 MiB", got)
	}
	now = now.Add(time.Hour)
	err := post("c.txt", length(6<<20))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "quota: ") ||
		!strings.Contains(st.Message(), "26214400 bytes per 24h0m0s") || !strings.Contains(st.Message(), "20971520 are used and this asks for 6291456") {
		t.Errorf("over the quota: %v", err)
	}
	header = grpc.ServerTransportStreamFromContext(ctx).(*collectedMetadata).header
	if got := header.Get("retry-after"); len(got) != 1 || got[0] != "82800" { // a.txt leaves 23 h from now
		t.Errorf("retry-after %v, want 82800", got)
	}
	// a.txt turned out to be 1 KiB: GetUpload corrects its reservation.
	store.objects["uploads/incoming/a.txt"] = &uploadpolicy.Object{Size: 1024, ContentType: "text/plain", LastModified: now}
	if _, err := svc.GetUpload(ctx, &gatepostv1.GetUploadRequest{Key: "incoming/a.txt"}); err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 10<<20+1024 {
		t.Errorf("after GetUpload: used %d, want 10 MiB + 1 KiB", got)
	}
	if err := post("c.txt", length(6<<20)); err != nil {
		t.Errorf("after the correction: %v", err)
	}
	// More than the whole quota can never pass: 400, not 429.
	if err := post("huge.txt", length(30<<20)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("more than the profile allows: %v", err)
	}
	now = now.Add(24 * time.Hour)
	if got := usedQuota(t, svc, ctx); got != 0 {
		t.Errorf("a window later: used %d, want 0", got)
	}
}

// TestQuotaOnEveryMethod: PUT and multipart reserve too; a credential
// that is not issued (the store failed) gives its bytes back; abort
// releases a multipart reservation.
func TestQuotaOnEveryMethod(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc, store := quotaService(t, &now)
	profiles := testProfiles(t)
	big := profiles[config.DefaultProfile]
	big.MaxBytes = 1 << 30
	profiles[config.DefaultProfile] = big
	svc.profiles = profiles
	ctx := anonymous(t.Context())
	if _, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Key: "p.txt", ContentType: "text/plain", ContentLength: length(5 << 20)}); err != nil {
		t.Fatal(err)
	}
	up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Key: "m.txt", ContentType: "text/plain", TotalSize: proto.Int64(20 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 25<<20 {
		t.Errorf("after a PUT and a multipart upload: used %d, want 25 MiB", got)
	}
	if _, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Key: "q.txt", ContentType: "text/plain", ContentLength: length(1)}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a PUT past the quota: %v", err)
	}
	if _, err := svc.AbortMultipartUpload(ctx, &gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}); err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 5<<20 {
		t.Errorf("after the abort: used %d, want 5 MiB", got)
	}
	store.err = context.DeadlineExceeded
	if _, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Key: "r.txt", ContentType: "text/plain", ContentLength: length(1 << 20)}); status.Code(err) != codes.Unavailable {
		t.Fatalf("with the store failing: %v", err)
	}
	store.err = nil
	if got := usedQuota(t, svc, ctx); got != 5<<20 {
		t.Errorf("a credential never issued kept its reservation: used %d, want 5 MiB", got)
	}
}

// TestGetQuotaLists: without a profile, GetQuota lists every profile the
// caller may use that has a quota, and none it may not.
func TestGetQuotaLists(t *testing.T) {
	t.Parallel()
	profiles := testProfiles(t)
	avatars := profiles["avatars"]
	avatars.Quota = &config.Quota{Bytes: 1 << 20, Per: time.Hour}
	profiles["avatars"] = avatars
	svc := NewService(profiles, &fakeStore{}, discardLogger(), WithQuotas(nil, &config.Quota{Bytes: 5 << 20}))
	resp, err := svc.GetQuota(anonymous(t.Context()), &gatepostv1.GetQuotaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, q := range resp.GetQuotas() {
		got[q.GetProfile()] = q.GetLimitBytes()
	}
	if got["avatars"] != 1<<20 || got[config.DefaultProfile] != 5<<20 || len(got) != len(profiles) {
		t.Errorf("quotas %v", got)
	}
}

// TestQuotaReservationsAreTheirOwn: aborting a multipart upload releases
// its own reservation, not a newer credential's for the same key; and
// GetUpload does not shrink the reservation of a credential that could
// still upload its full size, only once it has expired.
func TestQuotaReservationsAreTheirOwn(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc, store := quotaService(t, &now)
	ctx := anonymous(t.Context())
	up, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Key: "k.txt", ContentType: "text/plain", TotalSize: proto.Int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Key: "k.txt", ContentType: "text/plain", ContentLength: length(10 << 20)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AbortMultipartUpload(ctx, &gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}); err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 10<<20 {
		t.Errorf("after aborting the 1-byte upload: used %d, want the PUT URL's 10 MiB", got)
	}

	// A POST policy of no declared size, one byte uploaded, GetUpload at
	// once: the policy could still upload 10 MiB, so it keeps counting.
	if _, err := svc.CreatePresignedPost(ctx, &gatepostv1.CreatePresignedPostRequest{Key: "p.txt", ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	store.objects["uploads/incoming/p.txt"] = &uploadpolicy.Object{Size: 1, ContentType: "text/plain", LastModified: now}
	if _, err := svc.GetUpload(ctx, &gatepostv1.GetUploadRequest{Key: "incoming/p.txt"}); err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 20<<20 {
		t.Errorf("GetUpload while the policy is live: used %d, want 20 MiB", got)
	}
	now = now.Add(11 * time.Minute) // past the profile's 10-minute expiry
	if _, err := svc.GetUpload(ctx, &gatepostv1.GetUploadRequest{Key: "incoming/p.txt"}); err != nil {
		t.Fatal(err)
	}
	if got := usedQuota(t, svc, ctx); got != 10<<20+1 {
		t.Errorf("GetUpload once the policy expired: used %d, want 10 MiB + 1", got)
	}
}
