package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/redistest"
)

// TestMemoryQuota walks the accounting on a fake clock: reservations up
// to the quota, a refusal that says when enough frees, corrections,
// release, and a window that forgets.
func TestMemoryQuota(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := quota.NewMemory(func() time.Time { return now })
	ctx := context.Background()
	lim := quota.Limit{Bytes: 100, Per: time.Hour}
	reserve := func(object string, n int64) quota.Result {
		t.Helper()
		r, err := m.Reserve(ctx, "alice", object, n, lim)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	usage := func() int64 {
		t.Helper()
		u, err := m.Usage(ctx, "alice", lim)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if r := reserve("a", 60); !r.OK || r.Used != 60 {
		t.Fatalf("first reservation: %+v", r)
	}
	now = now.Add(10 * time.Minute)
	if r := reserve("b", 30); !r.OK || r.Used != 90 {
		t.Fatalf("second: %+v", r)
	}
	// 20 more would make 110: refused until a's 60 leave, 50 minutes on.
	r := reserve("c", 20)
	if r.OK || r.Used != 90 || r.RetryAfter != 50*time.Minute {
		t.Errorf("over the quota: %+v; want refused, used 90, retry after 50m", r)
	}
	if r := reserve("huge", 101); r.OK || r.RetryAfter != 0 {
		t.Errorf("more than the whole quota: %+v; want refused with no retry", r)
	}
	if other, _ := m.Reserve(ctx, "bob", "x", 100, lim); !other.OK {
		t.Errorf("another key shares alice's quota: %+v", other)
	}
	// a turned out to be 5 bytes: room for c now.
	if err := m.Correct(ctx, "alice", "a", 5, now, lim); err != nil {
		t.Fatal(err)
	}
	if u := usage(); u != 35 {
		t.Errorf("after correcting a to 5: used %d, want 35", u)
	}
	if r := reserve("c", 20); !r.OK || r.Used != 55 {
		t.Errorf("after the correction: %+v", r)
	}
	// b was aborted.
	_ = m.Correct(ctx, "alice", "b", 0, now, lim)
	if u := usage(); u != 25 {
		t.Errorf("after releasing b: used %d, want 25", u)
	}
	// A second credential for the same object: the latest is corrected.
	reserve("c", 40)
	_ = m.Correct(ctx, "alice", "c", 1, now, lim)
	if u := usage(); u != 26 { // a 5 + b 0 + c (first) 20 + c (latest) 1
		t.Errorf("after correcting the latest reservation of c: used %d, want 26", u)
	}
	// An hour after a: a and b have left; the c reservations stay until theirs.
	now = now.Add(50*time.Minute + time.Second)
	if u := usage(); u != 21 {
		t.Errorf("after a and b left the window: used %d, want 21", u)
	}
	now = now.Add(2 * time.Hour)
	if u := usage(); u != 0 {
		t.Errorf("after the window: used %d, want 0", u)
	}
	_ = m.Correct(ctx, "alice", "a", 50, now, lim) // long gone: not brought back
	if u := usage(); u != 0 {
		t.Errorf("a correction of an expired reservation counted: %d", u)
	}
	// A size read from an object stored before the reservation was made
	// (a newer credential for the same key) does not correct it.
	reserve("d", 80)
	_ = m.Correct(ctx, "alice", "d", 1, now.Add(-2*time.Second), lim)
	if u := usage(); u != 80 {
		t.Errorf("an older object corrected a newer reservation: used %d, want 80", u)
	}
}

// TestRedisQuota: the same accounting in Redis, shared by two replicas,
// on a short window.
func TestRedisQuota(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := quota.NewRedis(srv.Client(), "test:"), quota.NewRedis(srv.Client(), "test:")
	ctx := t.Context()
	lim := quota.Limit{Bytes: 100, Per: 1500 * time.Millisecond}
	if r, err := a.Reserve(ctx, "alice", "x", 60, lim); err != nil || !r.OK || r.Used != 60 {
		t.Fatalf("first on replica a: %+v, %v", r, err)
	}
	r, err := b.Reserve(ctx, "alice", "y", 50, lim)
	if err != nil || r.OK || r.Used != 60 || r.RetryAfter <= 0 || r.RetryAfter > lim.Per {
		t.Errorf("past the quota on replica b: %+v, %v; want refused with a retry within the window", r, err)
	}
	if r, _ := b.Reserve(ctx, "alice", "huge", 101, lim); r.OK || r.RetryAfter != 0 {
		t.Errorf("more than the whole quota: %+v", r)
	}
	if err := b.Correct(ctx, "alice", "x", 10, time.Now(), lim); err != nil {
		t.Fatal(err)
	}
	if u, err := a.Usage(ctx, "alice", lim); err != nil || u != 10 {
		t.Errorf("after the correction on the other replica: %d, %v; want 10", u, err)
	}
	if r, _ := b.Reserve(ctx, "alice", "y", 50, lim); !r.OK || r.Used != 60 {
		t.Errorf("after the correction: %+v", r)
	}
	time.Sleep(lim.Per + 100*time.Millisecond)
	if u, err := a.Usage(ctx, "alice", lim); err != nil || u != 0 {
		t.Errorf("after the window: %d, %v; want 0", u, err)
	}
	_ = a.Correct(ctx, "alice", "x", 99, time.Now(), lim)
	if u, _ := a.Usage(ctx, "alice", lim); u != 0 {
		t.Errorf("a correction of an expired reservation counted: %d", u)
	}
}

// TestMemoryQuotaBounds: a key holds at most MaxReservations; a window
// configured shorter applies to reservations already made; and idle keys
// are forgotten.
func TestMemoryQuotaBounds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := quota.NewMemory(func() time.Time { return now })
	ctx := context.Background()
	lim := quota.Limit{Bytes: 1 << 40, Per: time.Hour}
	for i := range quota.MaxReservations {
		if r, _ := m.Reserve(ctx, "k", "o", 1, lim); !r.OK {
			t.Fatalf("reservation %d: %+v", i+1, r)
		}
	}
	if r, _ := m.Reserve(ctx, "k", "o", 1, lim); r.OK || !r.Full || r.RetryAfter != time.Hour {
		t.Errorf("past MaxReservations: %+v; want refused, full, retry in an hour", r)
	}
	now = now.Add(31 * time.Minute)
	if u, _ := m.Usage(ctx, "k", quota.Limit{Bytes: 1, Per: 30 * time.Minute}); u != 0 {
		t.Errorf("with a 30-minute window, 31 minutes on: used %d, want 0", u)
	}
	if _, err := m.Reserve(ctx, "other", "o", 1, lim); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	_, _ = m.Usage(ctx, "third", lim) // any call sweeps
	if u, _ := m.Usage(ctx, "other", lim); u != 0 {
		t.Errorf("an idle key still counts: %d", u)
	}
}

// TestRedisQuotaLeavesNoStrayKeys: asking for usage creates nothing, and a
// key whose reservations have all left is removed.
func TestRedisQuotaLeavesNoStrayKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client()
	r := quota.NewRedis(client, "test:")
	ctx := t.Context()
	lim := quota.Limit{Bytes: 100, Per: 300 * time.Millisecond}
	for range 10 {
		if _, err := r.Usage(ctx, "nobody", lim); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Reserve(ctx, "k", "o", 5, lim); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lim.Per + 50*time.Millisecond)
	if u, err := r.Usage(ctx, "k", lim); err != nil || u != 0 {
		t.Fatalf("after the window: %d, %v", u, err)
	}
	if keys, err := client.Keys(ctx, "test:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("keys left: %v, %v", keys, err)
	}
}
