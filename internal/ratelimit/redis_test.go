package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/ratelimit"
	"github.com/gatepost/gatepost/internal/redistest"
)

// TestRedisBucketsAreShared: two replicas on one Redis share each bucket
// (a subject's burst is the burst across both), with the same answers as
// in memory: a refusal says when a token is back, more than the burst
// can never pass.
func TestRedisBucketsAreShared(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := t.Context()
	a := ratelimit.NewRedis(srv.Client(), "test:")
	b := ratelimit.NewRedis(srv.Client(), "test:")
	const perSecond, burst = 2, 6
	for i := range burst {
		replica := []*ratelimit.Redis{a, b}[i%2]
		if ok, _, err := replica.AllowN(ctx, "alice", 1, perSecond, burst); !ok || err != nil {
			t.Fatalf("request %d within the burst: %t, %v", i+1, ok, err)
		}
	}
	ok, wait, err := b.AllowN(ctx, "alice", 1, perSecond, burst)
	if ok || err != nil || wait <= 0 || wait > time.Second/perSecond {
		t.Errorf("past the burst across both replicas: %t, wait %s, %v; want refused within %s", ok, wait, err, time.Second/perSecond)
	}
	if ok, _, _ := a.AllowN(ctx, "bob", 1, perSecond, burst); !ok {
		t.Error("bob shares alice's bucket")
	}
	if ok, wait, err := a.AllowN(ctx, "carol", burst+1, perSecond, burst); ok || wait != 0 || err != nil {
		t.Errorf("more than the burst: %t, %s, %v; want refused with no wait", ok, wait, err)
	}
	time.Sleep(time.Second/perSecond + 50*time.Millisecond)
	if ok, _, err := a.AllowN(ctx, "alice", 1, perSecond, burst); !ok || err != nil {
		t.Errorf("after a refill interval: %t, %v", ok, err)
	}
}

// TestRedisSlowRate: a rate below one a second (one an hour) keeps its
// meaning in Redis's whole-number limits.
func TestRedisSlowRate(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := ratelimit.NewRedis(srv.Client(), "test:")
	ctx := t.Context()
	if ok, _, err := r.AllowN(ctx, "k", 1, 1.0/3600, 1); !ok || err != nil {
		t.Fatalf("first: %t, %v", ok, err)
	}
	ok, wait, err := r.AllowN(ctx, "k", 1, 1.0/3600, 1)
	if ok || err != nil || wait < 59*time.Minute || wait > time.Hour {
		t.Errorf("second within the hour: %t, wait %s, %v; want refused for about an hour", ok, wait, err)
	}
}

// TestRedisDown: with Redis unreachable every answer is ErrUnavailable,
// quickly, and the buckets work again once it is back.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	r := ratelimit.NewRedis(client, "test:")
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := r.AllowN(ctx, "k", 1, 1, 1); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("AllowN with Redis down: %v; want ErrUnavailable", err)
	}
	srv.Restart()
	if ok, _, err := r.AllowN(ctx, "k", 1, 1, 1); !ok || err != nil {
		t.Errorf("after Redis came back: %t, %v", ok, err)
	}
}
