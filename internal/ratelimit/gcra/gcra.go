// Package gcra holds the GCRA script of go-redis/redis_rate (vendored
// unchanged, see README.md) and the arguments redis_rate passes it, so
// that another script can charge a rate limit in the same step as its own
// work, on the same buckets as redis_rate.Limiter.AllowN.
package gcra

import (
	_ "embed"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Script is redis_rate's AllowN script. It reads KEYS[1] (the bucket)
// and ARGV[1..4] (burst, rate, period in seconds, cost) and returns
// {allowed, remaining, retry_after, reset_after}, the last two as strings
// of seconds (retry_after -1 when allowed).
//
//go:embed allow_n.lua
var Script string

// KeyPrefix is what redis_rate puts before every bucket's key.
const KeyPrefix = "rate:"

// Limit writes a rate in tokens per second as redis_rate's whole number
// of tokens per period, to a millisecond per token.
func Limit(perSecond float64, burst int) redis_rate.Limit {
	if perSecond <= 0 {
		// No refill: one token a century, in effect.
		return redis_rate.Limit{Rate: 1, Period: 100 * 365 * 24 * time.Hour, Burst: burst}
	}
	if perSecond >= 1 && perSecond == math.Trunc(perSecond) {
		return redis_rate.Limit{Rate: int(perSecond), Period: time.Second, Burst: burst}
	}
	// One token per interval.
	interval := time.Duration(float64(time.Second) / perSecond).Round(time.Millisecond)
	return redis_rate.Limit{Rate: 1, Period: max(interval, time.Millisecond), Burst: burst}
}

// Call is one run of Script: the bucket's Redis key and the arguments.
type Call struct {
	Key  string
	Args []any
}

// NewCall returns the Call that redis_rate.Limiter.AllowN(ctx, key, l, n)
// makes.
func NewCall(key string, l redis_rate.Limit, n int) Call {
	return Call{Key: KeyPrefix + key, Args: []any{l.Burst, l.Rate, l.Period.Seconds(), n}}
}
