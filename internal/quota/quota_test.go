package quota_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/ratelimit"
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
	r, client := startRedisStore(t)
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
	checkNoKeysLeft(t, client)
}

// TestRedisQuotaCorrections: in Redis, Set corrects a reservation by id,
// Correct the object's latest reservation made by then, and a window
// that passes for some reservations only leaves the others and their
// corrections working.
func TestRedisQuotaCorrections(t *testing.T) {
	t.Parallel()
	r, _ := startRedisStore(t)
	ctx := t.Context()
	lim := quota.Limit{Bytes: 1000, Per: 1500 * time.Millisecond}
	reserve := func(object string, n int64) string {
		t.Helper()
		res, err := r.Reserve(ctx, "k", object, n, lim)
		if err != nil || !res.OK {
			t.Fatalf("reserve %d for %s: %+v, %v", n, object, res, err)
		}
		return res.ID
	}
	usage := func(want int64, what string) {
		t.Helper()
		if u, err := r.Usage(ctx, "k", lim); err != nil || u != want {
			t.Errorf("%s: used %d, %v; want %d", what, u, err, want)
		}
	}
	first := reserve("b/x", 10)
	reserve("b/x", 20)
	reserve("b/y", 30)
	usage(60, "three reservations")
	for _, step := range []struct {
		name string
		do   func() error
		want int64
	}{
		{"Set the first to 5", func() error { return r.Set(ctx, "k", first, 5, lim) }, 55},
		{"Set an unknown id", func() error { return r.Set(ctx, "k", "b/x\x00unknown", 500, lim) }, 55},
		{"Correct b/x: its latest", func() error { return r.Correct(ctx, "k", "b/x", 7, time.Now(), lim) }, 42},
		{"Correct b/y by an hour ago: made later", func() error {
			return r.Correct(ctx, "k", "b/y", 1, time.Now().Add(-time.Hour), lim)
		}, 42},
		{"Correct an unknown object", func() error { return r.Correct(ctx, "k", "b/z", 1, time.Now(), lim) }, 42},
		{"Set the first to 0", func() error { return r.Set(ctx, "k", first, 0, lim) }, 37},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		usage(step.want, step.name)
	}
	time.Sleep(lim.Per / 2)
	later := reserve("b/x", 100)
	usage(137, "a later reservation")
	time.Sleep(lim.Per/2 + 300*time.Millisecond)
	usage(100, "once the first three have left the window")
	if err := r.Correct(ctx, "k", "b/x", 40, time.Now(), lim); err != nil {
		t.Fatal(err)
	}
	usage(40, "the later one corrected by object")
	if err := r.Set(ctx, "k", first, 900, lim); err != nil {
		t.Fatal(err)
	}
	usage(40, "a reservation that has left is not brought back")
	if err := r.Set(ctx, "k", later, 50, lim); err != nil {
		t.Fatal(err)
	}
	usage(50, "the later one set by id")
}

// TestRedisQuotaFull: a key holds at most MaxReservations in Redis; past
// it a reservation is refused as full, with a retry within the window; and
// a window's worth of reservations leaving at once goes in one call for
// usage, and takes the keys with it.
func TestRedisQuotaFull(t *testing.T) {
	t.Parallel()
	r, client := startRedisStore(t)
	ctx := t.Context()
	lim := quota.Limit{Bytes: 1 << 40, Per: 3 * time.Second}
	end := reserveOneByteEach(t, r, quota.MaxReservations, lim)
	res, err := r.Reserve(ctx, "k", "b/o", 1, lim)
	if err != nil || res.OK || !res.Full || res.RetryAfter <= 0 || res.RetryAfter > lim.Per || res.Used != quota.MaxReservations {
		t.Errorf("past MaxReservations: %+v, %v; want refused, full, used %d, a retry within the window", res, err, quota.MaxReservations)
	}
	time.Sleep(time.Until(end.Add(lim.Per + 200*time.Millisecond)))
	// Usage is exact at once: every reservation that left goes, in
	// batches, in the one call.
	if used, err := r.Usage(ctx, "k", lim); err != nil || used != 0 {
		t.Errorf("after the window: used %d, %v; want 0", used, err)
	}
	checkNoKeysLeft(t, client)
}

// reserveOneByteEach makes n one-byte reservations under key "k" and
// returns when it finished; it skips the test when that took longer than
// the window (the reservations must all be in it at once).
func reserveOneByteEach(t *testing.T, r *quota.Redis, n int, lim quota.Limit) time.Time {
	t.Helper()
	start := time.Now()
	for i := range n {
		if res, err := r.Reserve(t.Context(), "k", "b/o", 1, lim); err != nil || !res.OK {
			t.Fatalf("reservation %d: %+v, %v", i+1, res, err)
		}
	}
	end := time.Now()
	if end.Sub(start) >= lim.Per {
		t.Skip("reserving took longer than the window on this machine")
	}
	return end
}

// startRedisStore starts redis-server and returns a Store in it, with
// the client, under the prefix "test:".
func startRedisStore(t *testing.T) (*quota.Redis, *redis.Client) {
	t.Helper()
	client := redistest.Start(t).Client()
	return quota.NewRedis(client, "test:"), client
}

// checkNoKeysLeft fails the test if the store left any key in Redis.
func checkNoKeysLeft(t *testing.T, client *redis.Client) {
	t.Helper()
	if keys, err := client.Keys(t.Context(), "test:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("keys left: %v, %v", keys, err)
	}
}

// TestRedisQuotaKeysOutliveTheirWindow: the keys' expiry is set again only
// now and then, but never so rarely that a reservation's keys could
// expire before its window ends, and never left unset: not by the charged
// reservation either, nor when the sorted set went (evicted) while the
// hash stayed.
func TestRedisQuotaKeysOutliveTheirWindow(t *testing.T) {
	t.Parallel()
	r, client := startRedisStore(t)
	ctx := t.Context()
	lim := quota.Limit{Bytes: 1 << 40, Per: 400 * time.Millisecond}
	rate := ratelimit.NewRedis(client, "test:rate:").Call("k", 1, 1e6, 1e6)
	check := func(what, k string) {
		t.Helper()
		for _, key := range []string{"test:" + k + ":made", "test:" + k + ":state"} {
			ttl, err := client.PTTL(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl < lim.Per || ttl > 2*lim.Per {
				t.Errorf("%s: %s expires in %s; want between the window (%s) and twice it", what, key, ttl, lim.Per)
			}
		}
	}
	for i := range 12 {
		reserve := r.Reserve
		if i%2 == 1 {
			reserve = func(ctx context.Context, key, object string, n int64, l quota.Limit) (quota.Result, error) {
				return r.ReserveCharged(ctx, rate, key, object, n, l)
			}
		}
		if res, err := reserve(ctx, "k", "o", 1, lim); err != nil || !res.OK {
			t.Fatalf("reservation %d: %+v, %v", i, res, err)
		}
		check(fmt.Sprintf("reservation %d", i), "k")
		time.Sleep(lim.Per / 4)
	}
	// A fresh key's expiry was just set; its sorted set goes, and the next
	// reservation makes a new one.
	for _, step := range []func() error{
		func() error { _, err := r.Reserve(ctx, "e", "o", 1, lim); return err },
		func() error { return client.Del(ctx, "test:e:made").Err() },
		func() error { _, err := r.Reserve(ctx, "e", "o", 1, lim); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	check("after the sorted set was evicted", "e")
}

// TestRedisReserveCharged: a reservation that charges a rate limit in the
// same script takes the token from the bucket ratelimit.Redis uses, and
// reserves nothing once the rate refuses.
func TestRedisReserveCharged(t *testing.T) {
	t.Parallel()
	r, client := startRedisStore(t)
	buckets := ratelimit.NewRedis(client, "test:rate:")
	ctx := t.Context()
	lim := quota.Limit{Bytes: 100, Per: time.Minute}
	const perSecond, burst = 0.5, 3 // a token every 2 s: none comes back during the test
	if ok, _, err := buckets.AllowN(ctx, "alice", 1, perSecond, burst); !ok || err != nil {
		t.Fatalf("first token, through ratelimit.Redis: %t, %v", ok, err)
	}
	call := buckets.Call("alice", 1, perSecond, burst)
	for i, want := range []int64{20, 30} {
		res, err := r.ReserveCharged(ctx, call, "alice", "o", 20, lim)
		if err != nil || !res.OK || res.RateLimited || res.Used != want || res.ID == "" {
			t.Fatalf("charged reservation %d within the burst: %+v, %v; want reserved, used %d", i+1, res, err, want)
		}
		if i == 0 {
			// The id corrects the reservation as Reserve's does.
			if err := r.Set(ctx, "alice", res.ID, 10, lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := r.ReserveCharged(ctx, call, "alice", "o", 20, lim)
	if err != nil || res.OK || !res.RateLimited || res.RetryAfter <= 0 || res.RetryAfter > 2*time.Second {
		t.Errorf("past the burst: %+v, %v; want rate limited, retry within 2s", res, err)
	}
	if used, err := r.Usage(ctx, "alice", lim); err != nil || used != 30 {
		t.Errorf("a refused charge reserved something: used %d, %v; want 30", used, err)
	}
	if ok, _, _ := buckets.AllowN(ctx, "alice", 1, perSecond, burst); ok {
		t.Error("ratelimit.Redis sees tokens the charged reservations took")
	}
	// Over the quota but within the rate: the token is spent, as when the
	// rate is charged before a separate reservation.
	other := buckets.Call("bob", 1, perSecond, burst)
	if res, _ := r.ReserveCharged(ctx, other, "bob", "o", 101, lim); res.OK || res.RateLimited {
		t.Errorf("more than the quota: %+v; want refused by the quota", res)
	}
	if ok, _, _ := buckets.AllowN(ctx, "bob", burst, perSecond, burst); ok {
		t.Error("a reservation refused by the quota gave its token back")
	}
}

// TestRedisQuotaSweepsLazily: reservations that have left the window are
// dropped now and then, not on every call. One that fits under the total
// still counting them is made without dropping them; one that would be
// refused drops them all first (batch after batch), so no reservation is
// ever refused for bytes that have left the window; and once the sweep is
// due (or set further off than the window allows) the next reservation
// drops them and sets the next sweep a sixteenth of the window later.
func TestRedisQuotaSweepsLazily(t *testing.T) {
	t.Parallel()
	r, client := startRedisStore(t)
	ctx := t.Context()
	lim := quota.Limit{Bytes: 100, Per: 3200 * time.Millisecond}
	const made, state = "test:k:made", "test:k:state"
	held := func() int64 {
		t.Helper()
		n, err := client.ZCard(ctx, made).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	redisNow := func() int64 {
		t.Helper()
		now, err := client.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return now.UnixMilli()
	}
	// sweepIn makes the next sweep due in d (0: now).
	sweepIn := func(d time.Duration) {
		t.Helper()
		if err := client.HSet(ctx, state, "\x00sweep", redisNow()+d.Milliseconds()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	reserve := func(n, wantUsed int64) {
		t.Helper()
		if res, err := r.Reserve(ctx, "k", "b/o", n, lim); err != nil || !res.OK || res.Used != wantUsed {
			t.Fatalf("reserve %d: %+v, %v; want reserved, used %d", n, res, err, wantUsed)
		}
	}

	reserve(60, 60)
	time.Sleep(lim.Per + 50*time.Millisecond)
	sweepIn(lim.Per/16 - 10*time.Millisecond) // not due
	// Fits under 100 with the 60 that left still counted: made as is.
	reserve(30, 90)
	if n := held(); n != 2 {
		t.Errorf("before a sweep is due, %d reservations held; want 2 (the one that left is still there)", n)
	}
	// 90 + 50 is over the quota, but 60 of the 90 have left: the exact
	// total is taken, and the reservation made.
	reserve(50, 80)
	if n := held(); n != 2 {
		t.Errorf("after the exact total, %d reservations held; want 2", n)
	}
	if u, err := r.Usage(ctx, "k", lim); err != nil || u != 80 {
		t.Errorf("usage: %d, %v; want 80", u, err)
	}

	// Due: the next reservation sweeps, and sets the next sweep.
	time.Sleep(lim.Per + 50*time.Millisecond)
	sweepIn(0)
	reserve(1, 1)
	if n := held(); n != 1 {
		t.Errorf("after a due sweep, %d reservations held; want 1", n)
	}
	next, err := client.HGet(ctx, state, "\x00sweep").Int64()
	if err != nil {
		t.Fatal(err)
	}
	if ahead := time.Duration(next-redisNow()) * time.Millisecond; ahead <= 0 || ahead > lim.Per/16 {
		t.Errorf("next sweep %s from now; want within a sixteenth of the window (%s)", ahead, lim.Per/16)
	}

	// A sweep set further off than a sixteenth of the window (by a longer
	// window configured before) is due at once.
	time.Sleep(lim.Per + 50*time.Millisecond)
	sweepIn(time.Hour)
	reserve(1, 1)
	if n := held(); n != 1 {
		t.Errorf("with the sweep set an hour off, %d reservations held; want 1", n)
	}
}

// TestRedisQuotaRefusesOnlyOnTheExactTotal: more reservations than one
// sweep drops (1000) have left the window, uncounted yet; a reservation
// that fits once they are all dropped is made, not refused after the
// first batch.
func TestRedisQuotaRefusesOnlyOnTheExactTotal(t *testing.T) {
	t.Parallel()
	r, _ := startRedisStore(t)
	ctx := t.Context()
	lim := quota.Limit{Bytes: 2000, Per: 3 * time.Second}
	end := reserveOneByteEach(t, r, 1500, lim)
	time.Sleep(time.Until(end.Add(lim.Per + 100*time.Millisecond)))
	if res, err := r.Reserve(ctx, "k", "b/o", 2000, lim); err != nil || !res.OK || res.Used != 2000 {
		t.Errorf("the whole quota once 1500 reservations have left: %+v, %v; want reserved, used 2000", res, err)
	}
}

// TestRedisReserveChargedConcurrent: charged reservations made at the
// same time are each charged and decided on their own, in some order: of
// 100 at once on one bucket of 50 tokens and a quota of 40 bytes, 50 are
// refused by the rate, 10 by the quota and 40 reserved, each with its own
// id.
func TestRedisReserveChargedConcurrent(t *testing.T) {
	t.Parallel()
	r, client := startRedisStore(t)
	buckets := ratelimit.NewRedis(client, "test:rate:")
	ctx := t.Context()
	lim := quota.Limit{Bytes: 40, Per: time.Minute}
	call := buckets.Call("alice", 1, 0.001, 50) // no token comes back during the test
	const calls = 100
	results := make([]quota.Result, calls)
	errs := make([]error, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			results[i], errs[i] = r.ReserveCharged(ctx, call, "alice", "b/o", 1, lim)
		})
	}
	close(start)
	wg.Wait()
	var reserved, rateLimited, overQuota int
	ids := map[string]bool{}
	for i, res := range results {
		switch {
		case errs[i] != nil:
			t.Fatalf("call %d: %v", i, errs[i])
		case res.OK:
			reserved++
			if ids[res.ID] {
				t.Errorf("id %q given twice", res.ID)
			}
			ids[res.ID] = true
		case res.RateLimited:
			rateLimited++
		default:
			overQuota++
		}
	}
	if reserved != 40 || rateLimited != 50 || overQuota != 10 {
		t.Errorf("reserved %d, rate limited %d, over the quota %d; want 40, 50, 10", reserved, rateLimited, overQuota)
	}
	if used, err := r.Usage(ctx, "alice", lim); err != nil || used != 40 {
		t.Errorf("usage %d, %v; want 40", used, err)
	}
}
