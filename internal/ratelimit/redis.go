package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/ratelimit/gcra"
)

// Redis is Buckets in Redis, shared by every replica that uses the same
// Redis and prefix: GCRA in one script (go-redis/redis_rate), on Redis's
// clock. A bucket is a burst and a refill rate, as in Memory, so a
// subject's burst is the configured one across all replicas together.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
}

var _ Buckets = (*Redis)(nil)

// Scripter is what Redis needs of a Redis client: running scripts. A
// *redis.Client has it, and so has its autopipeliner.
type Scripter interface {
	Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd
	EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd
	EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd
	EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd
	ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd
	ScriptLoad(ctx context.Context, script string) *redis.StringCmd
	Del(ctx context.Context, keys ...string) *redis.IntCmd
}

// NewRedis returns buckets kept in client under keys that start with
// prefix.
func NewRedis(client Scripter, prefix string) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// AllowN implements Buckets. Any error reaching Redis is ErrUnavailable.
func (r *Redis) AllowN(ctx context.Context, key string, n int, perSecond float64, burst int) (bool, time.Duration, error) {
	if n > burst {
		return false, 0, nil
	}
	res, err := r.limiter.AllowN(ctx, r.prefix+key, gcra.Limit(perSecond, burst), n)
	if err != nil {
		return false, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if res.Allowed >= n {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// Call returns the GCRA call AllowN makes for these arguments (n at most
// burst), for a script that charges the bucket in the same step as its
// own work.
func (r *Redis) Call(key string, n int, perSecond float64, burst int) gcra.Call {
	return gcra.NewCall(r.prefix+key, gcra.Limit(perSecond, burst), n)
}
