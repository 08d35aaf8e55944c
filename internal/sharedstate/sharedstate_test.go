package sharedstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/ratelimit"
)

// deadRedis returns the URL of a loopback port where nothing listens.
func deadRedis(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "redis://" + addr + "/0"
}

// TestOutagePolicy: with Redis unreachable, deny answers ErrUnavailable
// and allow answers from memory, for buckets and quotas alike.
func TestOutagePolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{config.OnUnavailableDeny, config.OnUnavailableAllow} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			s, err := Open(config.SharedState{RedisURL: deadRedis(t), OnUnavailable: policy}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			limits := s.Limits(time.Now)
			buckets, quotas := limits.Buckets, limits.Quotas
			ctx := t.Context()
			ok, _, err := buckets.AllowN(ctx, "k", 1, 1, 5)
			if policy == config.OnUnavailableDeny && !errors.Is(err, ratelimit.ErrUnavailable) {
				t.Errorf("deny, buckets: %t, %v; want ErrUnavailable", ok, err)
			}
			if policy == config.OnUnavailableAllow && (!ok || err != nil) {
				t.Errorf("allow, buckets: %t, %v; want allowed from memory", ok, err)
			}
			r, err := quotas.Reserve(ctx, "k", "o", 10, quota.Limit{Bytes: 100, Per: time.Hour})
			if policy == config.OnUnavailableDeny && !errors.Is(err, quota.ErrUnavailable) {
				t.Errorf("deny, quotas: %+v, %v; want ErrUnavailable", r, err)
			}
			if policy == config.OnUnavailableAllow && (!r.OK || err != nil) {
				t.Errorf("allow, quotas: %+v, %v; want reserved in memory", r, err)
			}
			// A reservation that charges its rate in one step falls back to
			// the same memory buckets, and takes one token from them.
			rate := quota.Rate{Key: "c", Tokens: 1, PerSecond: 0.001, Burst: 2}
			charged, err := quotas.(quota.Charger).ReserveCharged(ctx, rate, "c", "o", 10, quota.Limit{Bytes: 100, Per: time.Hour})
			if policy == config.OnUnavailableDeny && !errors.Is(err, quota.ErrUnavailable) {
				t.Errorf("deny, charged reservation: %+v, %v; want ErrUnavailable", charged, err)
			}
			if policy == config.OnUnavailableAllow {
				if !charged.OK || err != nil {
					t.Errorf("allow, charged reservation: %+v, %v; want reserved in memory", charged, err)
				}
				if ok, _, _ := buckets.AllowN(ctx, "c", 1, 0.001, 2); !ok {
					t.Error("allow: the charged reservation took more than one token from the memory bucket")
				}
				if again, _ := quotas.(quota.Charger).ReserveCharged(ctx, rate, "c", "o", 10, quota.Limit{Bytes: 100, Per: time.Hour}); !again.RateLimited || again.OK {
					t.Errorf("allow, past the memory bucket's burst: %+v; want rate limited", again)
				}
			}
			if s.Ready(ctx) == nil {
				t.Error("Ready with Redis down")
			}
		})
	}
}

// TestWithoutRedis: no redis_url keeps everything in memory, ready.
func TestWithoutRedis(t *testing.T) {
	t.Parallel()
	s, err := Open(config.SharedState{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if s.Shared() || s.Ready(t.Context()) != nil {
		t.Errorf("shared %t, ready %v", s.Shared(), s.Ready(t.Context()))
	}
	limits := s.Limits(time.Now)
	if _, ok := limits.Buckets.(*ratelimit.Memory); !ok {
		t.Error("buckets are not in memory")
	}
	if _, ok := limits.Quotas.(*quota.Memory); !ok {
		t.Error("quotas are not in memory")
	}
}

// TestCanceledCallIsNoOutage: a call that fails because its own context
// ended does not make the replica treat Redis as down; a real failure
// does.
func TestCanceledCallIsNoOutage(t *testing.T) {
	t.Parallel()
	s, err := Open(config.SharedState{RedisURL: deadRedis(t), OnUnavailable: config.OnUnavailableDeny}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	failing := func() (int, error) { return 0, fmt.Errorf("%w: %w", ratelimit.ErrUnavailable, context.Canceled) }
	memory := func() (int, error) { return 1, nil }
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := viaRedis(canceled, s, ratelimit.ErrUnavailable, failing, memory); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("a canceled call: %v; want ErrUnavailable", err)
	}
	if !s.available() {
		t.Error("a canceled call opened the outage window")
	}
	if _, err := viaRedis(t.Context(), s, ratelimit.ErrUnavailable, failing, memory); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("a failing call: %v; want ErrUnavailable", err)
	}
	if s.available() {
		t.Error("a failing call with a live context did not open the outage window")
	}
}
