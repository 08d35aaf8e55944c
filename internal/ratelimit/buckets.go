package ratelimit

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is returned by Buckets whose shared store cannot be
// reached: the caller must neither allow nor refuse on the bucket's word.
var ErrUnavailable = errors.New("the limit store is unreachable")

// Buckets keeps token buckets by key: in this process (Memory) or shared by
// every replica (Redis).
type Buckets interface {
	// AllowN takes n tokens from the bucket of key, which starts full with
	// burst tokens and refills at perSecond. When fewer than n are left it
	// takes none and returns false and how long until n are; a request for
	// more than burst tokens returns false and a zero wait.
	AllowN(ctx context.Context, key string, n int, perSecond float64, burst int) (ok bool, wait time.Duration, err error)
}

// Memory is Buckets in this process's memory, on a Limiter.
type Memory struct {
	limiter *Limiter
	now     func() time.Time
}

var _ Buckets = (*Memory)(nil)

// NewMemory returns empty in-memory buckets on the clock now (time.Now
// when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{limiter: New(), now: now}
}

// AllowN implements Buckets; it never fails.
func (m *Memory) AllowN(_ context.Context, key string, n int, perSecond float64, burst int) (bool, time.Duration, error) {
	ok, wait := m.limiter.AllowN(key, n, perSecond, burst, m.now())
	return ok, wait, nil
}

// Len returns the number of buckets held.
func (m *Memory) Len() int { return m.limiter.Len() }
