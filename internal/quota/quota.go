// Package quota keeps byte quotas: how many bytes each subject may be
// granted per window, per profile. Every credential reserves the bytes it
// allows; a reservation counts for one window (as configured now) from
// when it was made, and is set to the real size once that is known (a
// completed upload; GetUpload, once the credential has expired) or
// released (an aborted upload, a credential never issued).
//
// No library does this (rate limiters count requests, not amounts that are
// corrected later), so it is written here, the same in memory (Memory) and
// in Redis (Redis, one script per operation).
package quota

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is returned while the shared quota store is unreachable.
var ErrUnavailable = errors.New("the quota store is unreachable")

// Limit is a quota: Bytes per window Per.
type Limit struct {
	Bytes int64
	Per   time.Duration
}

// MaxReservations bounds the reservations one key holds in a window: each
// is a few hundred bytes of state (in Redis, shared by every replica), and
// expiring them is work, so a caller asking for millions of one-byte
// credentials is refused past it like one over its bytes.
const MaxReservations = 10000

// expireBatch bounds how many reservations one pass of a sweep drops. A
// sweep that needs the exact total (before a refusal, and for usage)
// takes pass after pass, at most MaxReservations/expireBatch; the others
// leave the rest to the next ones (until then the total still counts
// them, in the quota's favour).
const expireBatch = 1000

// Result is the answer to a reservation.
type Result struct {
	// OK is true when the bytes were reserved.
	OK bool
	// ID names the reservation (when OK), for Set.
	ID string
	// Full is true when the reservation was refused because the key holds
	// MaxReservations already.
	Full bool
	// Used is what the window holds: after the reservation when OK, else
	// without it. When OK it may be more (Redis counts reservations that
	// have left the window until it drops them, a sixteenth of a window at
	// a time); a refusal's is exact.
	Used int64
	// RetryAfter, when the reservation was refused, is when enough will
	// have left the window for it; zero when the request is larger than
	// the whole quota. When RateLimited, it is when the rate allows a call.
	RetryAfter time.Duration
	// RateLimited is true when a Charger's rate limit refused the call,
	// and nothing was reserved.
	RateLimited bool
}

// Rate is a rate limit to charge with a reservation: Tokens from the
// bucket Key, which holds Burst tokens and gains PerSecond, as in
// ratelimit.Buckets.
type Rate struct {
	Key       string
	Tokens    int
	PerSecond float64
	Burst     int
}

// Charger is a Store that can charge a rate limit and make a reservation
// in one step: in Redis, one script instead of two round trips.
type Charger interface {
	Store
	// ReserveCharged charges rate (Tokens at most Burst) and, when it
	// allows the call, reserves as Reserve does. When it does not, nothing
	// is reserved and the Result is RateLimited.
	ReserveCharged(ctx context.Context, rate Rate, key, object string, n int64, l Limit) (Result, error)
}

// Store keeps reservations by key (a subject and a profile). An object is
// a reservation's handle for corrections: the latest reservation for an
// object is the one corrected.
type Store interface {
	// Reserve adds n bytes for object under key, unless the window would
	// then hold more than l.Bytes.
	Reserve(ctx context.Context, key, object string, n int64, l Limit) (Result, error)
	// Set sets the reservation id under key to n bytes (0 releases it),
	// if it is still in the window: for the caller that made it.
	Set(ctx context.Context, key, id string, n int64, l Limit) error
	// Correct sets the latest reservation for object under key to n bytes
	// (0 releases it), if it was made no later than the second of
	// madeBy: a size read from an object stored at some time corrects only
	// a reservation that object can have used, never a newer credential's.
	// One that has left the window is not brought back.
	Correct(ctx context.Context, key, object string, n int64, madeBy time.Time, l Limit) error
	// Usage returns the bytes the window holds under key.
	Usage(ctx context.Context, key string, l Limit) (int64, error)
}
