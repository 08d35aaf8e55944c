package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/ratelimit"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// chargingLimits is a quota.Charger in memory that counts how each call
// was charged: the one-step path a Redis store offers, without Redis
// (which internal/quota and the e2e tests cover).
type chargingLimits struct {
	*quota.Memory
	buckets                        *countingBuckets
	chargedReserves, plainReserves int
}

var _ quota.Charger = (*chargingLimits)(nil)

func (c *chargingLimits) Reserve(ctx context.Context, key, object string, n int64, l quota.Limit) (quota.Result, error) {
	c.plainReserves++
	return c.Memory.Reserve(ctx, key, object, n, l)
}

func (c *chargingLimits) ReserveCharged(ctx context.Context, rate quota.Rate, key, object string, n int64, l quota.Limit) (quota.Result, error) {
	c.chargedReserves++
	ok, wait, err := c.buckets.Memory.AllowN(ctx, rate.Key, rate.Tokens, rate.PerSecond, rate.Burst)
	if err != nil || !ok {
		return quota.Result{RateLimited: true, RetryAfter: wait}, err
	}
	return c.Memory.Reserve(ctx, key, object, n, l)
}

// countingBuckets counts the rate charges made on their own.
type countingBuckets struct {
	*ratelimit.Memory
	allows int
}

func (b *countingBuckets) AllowN(ctx context.Context, key string, n int, perSecond float64, burst int) (bool, time.Duration, error) {
	b.allows++
	return b.Memory.AllowN(ctx, key, n, perSecond, burst)
}

// TestRateChargedWithReservation: with a store that charges the rate and
// reserves in one step, a credential call makes one such call; a call
// that fails validation once its profile is known is still charged (on
// its own), and a call over its rate is refused as such, valid or not,
// with nothing reserved. A profile without a quota charges as before.
func TestRateChargedWithReservation(t *testing.T) {
	t.Parallel()
	post := func(req *gatepostv1.CreatePresignedPostRequest) func(*Service, context.Context) error {
		return func(svc *Service, ctx context.Context) error {
			_, err := svc.CreatePresignedPost(ctx, req)
			return err
		}
	}
	valid := post(&gatepostv1.CreatePresignedPostRequest{Key: "a.txt", ContentType: "text/plain", ContentLength: length(10)})
	badType := post(&gatepostv1.CreatePresignedPostRequest{Key: "a.txt", ContentType: "video/mp4"})
	put := func(svc *Service, ctx context.Context) error {
		_, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Key: "a.txt", ContentType: "text/plain", ContentLength: length(10)})
		return err
	}
	putNoLength := func(svc *Service, ctx context.Context) error {
		_, err := svc.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{Key: "a.txt", ContentType: "text/plain"})
		return err
	}
	multipart := func(svc *Service, ctx context.Context) error {
		_, err := svc.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Key: "a.txt", ContentType: "text/plain", TotalSize: length(10)})
		return err
	}
	for _, tc := range []struct {
		name     string
		call     func(*Service, context.Context) error
		ownRate  bool  // the default profile has a rate limit of its own
		signErr  error // the store fails to sign
		spent    bool  // the burst is used up before the call
		want     codes.Code
		wantMsg  string
		charged  int // one-step charges
		alone    int // rate charges on their own
		reserved int64
	}{
		{name: "POST: one step", call: valid, want: codes.OK, charged: 1, reserved: 10},
		{name: "PUT: one step", call: put, want: codes.OK, charged: 1, reserved: 10},
		{name: "multipart: one step", call: multipart, want: codes.OK, charged: 1, reserved: 10},
		{name: "invalid after the profile: charged alone", call: badType, want: codes.InvalidArgument, wantMsg: "content_type: ", alone: 1},
		{name: "invalid PUT: charged alone", call: putNoLength, want: codes.InvalidArgument, wantMsg: "content_length: ", alone: 1},
		{name: "unknown profile: not charged", call: post(&gatepostv1.CreatePresignedPostRequest{Profile: "nope", Key: "a.txt", ContentType: "text/plain"}), want: codes.InvalidArgument, wantMsg: "profile: "},
		{name: "profile without a quota: charged alone", call: post(&gatepostv1.CreatePresignedPostRequest{Profile: "anything", Key: "a.bin", ContentType: "application/octet-stream"}), want: codes.OK, alone: 1},
		{name: "over the rate: refused by the rate", call: valid, spent: true, want: codes.ResourceExhausted, wantMsg: "rate limit exceeded", charged: 1},
		{name: "over the rate and invalid: refused by the rate", call: badType, spent: true, want: codes.ResourceExhausted, wantMsg: "rate limit exceeded", alone: 1},
		{name: "the profile's own rate: one step", call: valid, ownRate: true, want: codes.OK, charged: 1, reserved: 10},
		{name: "over the profile's own rate: refused by it", call: valid, ownRate: true, spent: true, want: codes.ResourceExhausted, wantMsg: "rate limit exceeded", charged: 1},
		{name: "signing failed after the reservation: charged once, released", call: valid, signErr: errors.New("store down"), want: codes.Unavailable, charged: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			profiles := testProfiles(t)
			def := profiles[config.DefaultProfile]
			def.Quota = &config.Quota{Bytes: 1 << 20, Per: time.Hour}
			global, bucket := config.RateLimit{RequestsPerSecond: 0.001, Burst: 2}, anyone.Subject
			if tc.ownRate {
				// The global limit allows everything: only the profile's
				// own bucket can refuse.
				def.RateLimit = &config.RateLimit{RequestsPerSecond: 0.001, Burst: 2}
				global, bucket = config.RateLimit{RequestsPerSecond: 1000, Burst: 1000}, anyone.Subject+"\x00"+config.DefaultProfile
			}
			profiles[config.DefaultProfile] = def
			buckets := &countingBuckets{Memory: ratelimit.NewMemory(time.Now)}
			limits := &chargingLimits{Memory: quota.NewMemory(time.Now), buckets: buckets}
			store := &fakeStore{objects: map[string]*uploadpolicy.Object{}}
			if tc.signErr != nil {
				store.fn = func(context.Context, *uploadpolicy.Post) (*uploadpolicy.Signed, error) { return nil, tc.signErr }
			}
			svc := NewService(profiles, store, discardLogger(), WithRateLimit(global), WithBuckets(buckets), WithQuotas(limits, nil))
			collected := &collectedMetadata{}
			ctx := grpc.NewContextWithServerTransportStream(anonymous(t.Context()), collected)
			if tc.spent {
				_, _, _ = buckets.Memory.AllowN(ctx, bucket, 2, 0.001, 2)
			}
			err := tc.call(svc, ctx)
			st := status.Convert(err)
			if st.Code() != tc.want || !strings.HasPrefix(st.Message(), tc.wantMsg) {
				t.Errorf("answer: %v; want %s %q", err, tc.want, tc.wantMsg)
			}
			if tc.want == codes.ResourceExhausted && len(collected.header.Get("retry-after")) != 1 {
				t.Errorf("retry-after: %v", collected.header)
			}
			if limits.chargedReserves != tc.charged || buckets.allows != tc.alone || limits.plainReserves != 0 {
				t.Errorf("one-step charges %d, charges alone %d, plain reservations %d; want %d, %d, 0",
					limits.chargedReserves, buckets.allows, limits.plainReserves, tc.charged, tc.alone)
			}
			if used, _ := limits.Usage(ctx, quotaKey(anyone, config.DefaultProfile), quota.Limit{Bytes: 1 << 20, Per: time.Hour}); used != tc.reserved {
				t.Errorf("reserved %d, want %d", used, tc.reserved)
			}
		})
	}
}
