package ratelimit_test

import (
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/ratelimit"
)

func TestAllow(t *testing.T) {
	t.Parallel()
	l := ratelimit.New()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.Allow("alice", 1, 3, now); !ok {
			t.Fatalf("request %d within the burst was refused", i+1)
		}
	}
	ok, wait := l.Allow("alice", 1, 3, now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth request: allowed=%t wait=%s, want refused with a wait of at most 1s", ok, wait)
	}
	if ok, _ := l.Allow("bob", 1, 3, now); !ok {
		t.Error("another key shares alice's bucket")
	}
	// A refused request takes nothing: after the wait one token is back.
	if ok, _ := l.Allow("alice", 1, 3, now.Add(wait)); !ok {
		t.Error("refused after the refill")
	}
	if ok, _ := l.Allow("alice", 1, 3, now.Add(wait)); ok {
		t.Error("allowed twice after refilling one token")
	}
}

func TestIdleBucketsAreDropped(t *testing.T) {
	t.Parallel()
	l := ratelimit.New()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k, 1, 1, now)
	}
	l.Allow("d", 1, 1, now.Add(11*time.Minute))
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets after the others went idle, want 1", n)
	}
}
