// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per key,
// for per-subject limits. State is per process: with several replicas each
// enforces its own limit.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// idleAfter is how long an untouched bucket is kept; by then it is full
// again for any sensible rate, so dropping it changes nothing.
const idleAfter = 10 * time.Minute

// Limiter holds token buckets by key. x/time/rate provides the bucket but
// no keyed store, and the keyed-store libraries bring their own clocks and
// backends; this map with idle eviction is all that is needed here.
type Limiter struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastUsed time.Time
}

// New returns an empty Limiter.
func New() *Limiter {
	return &Limiter{buckets: make(map[string]*bucket)}
}

// Allow takes one token from the bucket of key, creating it full with the
// given rate and burst. When none is left it returns false and how long
// until one is.
func (l *Limiter) Allow(key string, perSecond float64, burst int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok || b.lim.Limit() != rate.Limit(perSecond) || b.lim.Burst() != burst {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
		b.lim.SetLimitAt(now, rate.Limit(perSecond)) // start the bucket's clock at now
		l.buckets[key] = b
	}
	b.lastUsed = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops idle buckets, at most once a minute.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.lastUsed) > idleAfter {
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
