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

func TestAllowN(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		n, burst int
		taken    int // tokens taken before
		wantOK   bool
		wantWait time.Duration
	}{
		{name: "within the burst", n: 5, burst: 10, wantOK: true},
		{name: "exactly the burst", n: 10, burst: 10, wantOK: true},
		{name: "more than the burst can never pass", n: 11, burst: 10, wantOK: false, wantWait: 0},
		{name: "not enough left", n: 5, burst: 10, taken: 8, wantOK: false, wantWait: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := ratelimit.New()
			if tt.taken > 0 {
				if ok, _ := l.AllowN("k", tt.taken, 1, tt.burst, now); !ok {
					t.Fatal("setup: could not take tokens")
				}
			}
			ok, wait := l.AllowN("k", tt.n, 1, tt.burst, now)
			if ok != tt.wantOK || wait != tt.wantWait {
				t.Errorf("AllowN(%d) = %t, %s; want %t, %s", tt.n, ok, wait, tt.wantOK, tt.wantWait)
			}
		})
	}
}

// TestFullBucketsAreDropped: a bucket is forgotten only once it is full
// again; forgetting one still refilling would reset a slow limit.
func TestFullBucketsAreDropped(t *testing.T) {
	t.Parallel()
	l := ratelimit.New()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k, 1, 1, now)
	}
	l.Allow("d", 1, 1, now.Add(11*time.Minute))
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets after the others refilled, want 1", n)
	}
}

// TestSlowLimitIsNotForgotten: one request an hour stays one an hour
// however long the caller waits in between (it used to be forgotten after
// ten idle minutes).
func TestSlowLimitIsNotForgotten(t *testing.T) {
	t.Parallel()
	l := ratelimit.New()
	perHour := 1.0 / 3600
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	if ok, _ := l.Allow("alice", perHour, 1, now); !ok {
		t.Fatal("first request refused")
	}
	for _, after := range []time.Duration{11 * time.Minute, 30 * time.Minute, 59 * time.Minute} {
		if ok, _ := l.Allow("alice", perHour, 1, now.Add(after)); ok {
			t.Errorf("allowed again after %s with a limit of one an hour", after)
		}
	}
	if ok, _ := l.Allow("alice", perHour, 1, now.Add(time.Hour+time.Second)); !ok {
		t.Error("refused after an hour")
	}
}
