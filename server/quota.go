package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/quota"
)

// WithQuotas keeps byte quotas in store (shared by replicas, say) instead
// of this process's memory; def is the quota of profiles without their
// own (nil: none).
func WithQuotas(store quota.Store, def *config.Quota) ServiceOption {
	return func(s *Service) { s.quotas, s.defaultQuota = store, def }
}

// quotaOf returns the byte quota of a profile, or false when it has none.
func (s *Service) quotaOf(profile string) (quota.Limit, bool) {
	q := s.defaultQuota
	if own := s.profiles[profile].Quota; own != nil {
		q = own
	}
	if q == nil {
		return quota.Limit{}, false
	}
	per := q.Per
	if per == 0 {
		per = config.DefaultQuotaWindow
	}
	return quota.Limit{Bytes: q.Bytes, Per: per}, true
}

// quotaKey is where a subject's reservations in a profile are kept.
func quotaKey(id *auth.Identity, profile string) string { return id.Subject + "\x00" + profile }

// quotaObject names an object's reservations.
func quotaObject(bucket, key string) string { return bucket + "/" + key }

// reserve reserves n bytes of the caller's quota in profile for an
// upload of bucket/key, or answers ResourceExhausted naming the quota,
// what is used and what was asked (with retry-after when the window will
// free enough); field names the request field that n came from. It
// returns the reservation's id ("" without a quota) and a release that
// gives exactly these bytes back, for when the credential is not issued
// after all. A rate charge c deferred to the reservation is made with it
// (a call over its rate is refused as such).
func (s *Service) reserve(ctx context.Context, c *rateCharge, profile, bucket, key, field string, n int64) (reservation string, release func(), err error) {
	id := c.id
	lim, ok := s.quotaOf(profile)
	if !ok {
		return "", func() {}, nil
	}
	qkey := quotaKey(id, profile)
	r, err := c.reserve(ctx, s.quotas, qkey, quotaObject(bucket, key), n, lim)
	if err != nil {
		return "", nil, limitStoreDown(ctx)
	}
	if r.RateLimited {
		return "", nil, s.rateLimited(ctx, id, profile, r.RetryAfter)
	}
	if !r.OK {
		s.metrics.QuotaExceeded(profile)
		if n > lim.Bytes {
			if field == "" {
				return "", nil, invalid("profile", "profile %q allows %d bytes per upload, more than its whole quota of %d bytes per %s; declare the upload's size (content_length, or total_size for multipart)", profile, n, lim.Bytes, lim.Per)
			}
			return "", nil, invalid(field, "%d bytes is more than the whole quota of profile %q (%d bytes per %s)", n, profile, lim.Bytes, lim.Per)
		}
		seconds := max(1, int(math.Ceil(r.RetryAfter.Seconds())))
		_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.Itoa(seconds)))
		if r.Full {
			return "", nil, status.Errorf(codes.ResourceExhausted,
				"quota: subject %s holds %d credentials in the last %s of profile %q, the most gatepost keeps; retry after %ds",
				echo(id.Subject), quota.MaxReservations, lim.Per, profile, seconds)
		}
		return "", nil, status.Errorf(codes.ResourceExhausted,
			"quota: subject %s may be granted %d bytes per %s in profile %q; %d are used and this asks for %d; retry after %ds, when enough has left the window",
			echo(id.Subject), lim.Bytes, lim.Per, profile, r.Used, n, seconds)
	}
	s.metrics.QuotaReserved(profile, n)
	return r.ID, func() { s.setReservation(context.WithoutCancel(ctx), id, profile, r.ID, 0) }, nil
}

// setReservation sets reservation rid to n bytes (0 releases it). A
// failure only costs accuracy, never in the caller's favour: the
// reservation stays as it was, and is logged.
func (s *Service) setReservation(ctx context.Context, id *auth.Identity, profile, rid string, n int64) {
	lim, ok := s.quotaOf(profile)
	if !ok || rid == "" {
		return
	}
	if err := s.quotas.Set(ctx, quotaKey(id, profile), rid, n, lim); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "quota correction failed; the reservation stands", slog.String("subject", id.Subject),
			slog.String("profile", profile), slog.Int64("bytes", n), slog.String("error", err.Error()))
	}
}

// correctExpired sets the latest reservation for bucket/key to the real
// size n, if it was made no later than madeBy: before the object was
// stored, and long enough ago that its credential has expired (a live
// credential could still upload its full size).
func (s *Service) correctExpired(ctx context.Context, id *auth.Identity, profile, bucket, key string, n int64, madeBy time.Time) {
	lim, ok := s.quotaOf(profile)
	if !ok {
		return
	}
	if err := s.quotas.Correct(ctx, quotaKey(id, profile), quotaObject(bucket, key), n, madeBy, lim); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "quota correction failed; the reservation stands", slog.String("subject", id.Subject),
			slog.String("profile", profile), slog.String("key", key), slog.Int64("bytes", n), slog.String("error", err.Error()))
	}
}

// GetQuota reports the caller's byte quotas.
func (s *Service) GetQuota(ctx context.Context, req *gatepostv1.GetQuotaRequest) (*gatepostv1.GetQuotaResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, id, req.GetProfile()); err != nil {
		return nil, err
	}
	var names []string
	if req.GetProfile() != "" {
		name, _, _, err := s.profileFor(req.GetProfile(), id)
		if err != nil {
			return nil, err
		}
		names = []string{name}
	} else {
		for _, name := range sortedProfiles(s.profiles) {
			if id.MayUse(name) {
				names = append(names, name)
			}
		}
	}
	resp := &gatepostv1.GetQuotaResponse{}
	for _, name := range names {
		lim, ok := s.quotaOf(name)
		if !ok {
			continue
		}
		used, err := s.quotas.Usage(ctx, quotaKey(id, name), lim)
		if errors.Is(err, quota.ErrUnavailable) {
			return nil, limitStoreDown(ctx)
		}
		if err != nil {
			return nil, err
		}
		resp.Quotas = append(resp.Quotas, &gatepostv1.Quota{
			Profile: name, LimitBytes: lim.Bytes, UsedBytes: used, WindowSeconds: int64(lim.Per.Seconds()),
		})
	}
	return resp, nil
}

// sortedProfiles returns the profile names in order.
func sortedProfiles(profiles map[string]config.Profile) []string {
	return slices.Sorted(maps.Keys(profiles))
}
