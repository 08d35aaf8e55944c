// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per key,
// for per-subject limits. State is per process: with several replicas each
// enforces its own limit.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepEvery is how often Allow looks for buckets it can forget.
const sweepEvery = time.Minute

// Limiter holds token buckets by key. x/time/rate provides the bucket but
// no keyed store, and the keyed-store libraries bring their own clocks and
// backends; this map, which forgets only buckets that are full again, is
// all that is needed here.
type Limiter struct {
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// New returns an empty Limiter.
func New() *Limiter {
	return &Limiter{buckets: make(map[string]*rate.Limiter)}
}

// Allow takes one token from the bucket of key; see AllowN.
func (l *Limiter) Allow(key string, perSecond float64, burst int, now time.Time) (bool, time.Duration) {
	return l.AllowN(key, 1, perSecond, burst, now)
}

// AllowN takes n tokens from the bucket of key, creating it full with the
// given rate and burst. When fewer than n are left it takes none and
// returns false and how long until n are. A request for more than burst
// tokens can never succeed: it returns false and a zero wait.
func (l *Limiter) AllowN(key string, n int, perSecond float64, burst int, now time.Time) (bool, time.Duration) {
	if n > burst {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok || b.Limit() != rate.Limit(perSecond) || b.Burst() != burst {
		b = rate.NewLimiter(rate.Limit(perSecond), burst)
		b.SetLimitAt(now, rate.Limit(perSecond)) // start the bucket's clock at now
		l.buckets[key] = b
	}
	r := b.ReserveN(now, n)
	if !r.OK() {
		return false, 0
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets buckets that are full again, at most once a minute: a full
// bucket is what a new one would be, so forgetting it changes nothing. A
// bucket still refilling is kept however long it has been idle, or a slow
// limit (one an hour) would be reset by waiting a few minutes.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= math.Floor(float64(b.Burst())) {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
