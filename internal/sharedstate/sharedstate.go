// Package sharedstate is what gatepost's replicas share through Redis:
// the token buckets of rate limits and failure throttling, byte quotas,
// and the secret of multipart upload tokens. It applies shared_state.on_unavailable while
// Redis is unreachable: deny (the limit answers ErrUnavailable) or allow
// (each replica counts in its own memory), and notices within a second
// when Redis is back.
package sharedstate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/ratelimit"
)

// Timeouts that bound every wait on Redis: a limit must answer quickly
// even when Redis does not.
const (
	dialTimeout = 250 * time.Millisecond
	ioTimeout   = 250 * time.Millisecond
	// retryAfter is how long an unreachable Redis is not asked again:
	// calls meanwhile get the outage answer at once, and the first call
	// after it finds out whether Redis is back.
	retryAfter = time.Second
)

// keyPrefix starts every key gatepost writes, so that a Redis shared with
// other applications stays tidy.
const keyPrefix = "gatepost:"

// State is the shared state of a deployment, or of one process when no
// Redis is configured.
type State struct {
	client *redis.Client // nil without Redis
	opts   *redis.Options
	// scripts runs the limit scripts: the client's autopipeliner, which
	// sends the scripts of concurrent calls in one write (a round trip per
	// call cost a third of gatepost's CPU in syscalls).
	scripts *redis.AutoPipeliner
	deny    bool
	logger  *slog.Logger
	now     func() time.Time

	mu        sync.Mutex
	downUntil time.Time // Redis is not asked before then
	down      bool      // the last answer from Redis was a failure
}

// Open connects to the configured Redis, if any. It does not wait for
// Redis: an unreachable one is an outage like any other.
func Open(cfg config.SharedState, logger *slog.Logger) (*State, error) {
	s := &State{deny: cfg.Deny(), logger: logger, now: time.Now}
	if !cfg.Enabled() {
		return s, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("shared_state.redis_url: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = dialTimeout, ioTimeout, ioTimeout, ioTimeout
	opts.MaxRetries = -1 // one try: an outage is handled above, not by waiting longer
	opts.DialerRetries = 1
	opts.DialerRetryTimeout = dialTimeout
	opts.ContextTimeoutEnabled = true
	s.opts = opts
	s.client = redis.NewClient(opts)
	if s.scripts, err = s.client.AutoPipeline(); err != nil {
		return nil, fmt.Errorf("shared_state: %w", err)
	}
	// go-redis writes its own plain-text lines to stderr (every failed
	// dial); gatepost reports outages itself, once, in its JSON log.
	redis.SetLogger(debugLogger{logger})
	return s, nil
}

// debugLogger passes go-redis's own messages to the log at debug level.
type debugLogger struct{ logger *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.logger.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Dedicated returns a Redis client of its own, with poolSize connections
// and reads that may block (a queue's blocking reads must not take the
// connections limits need), and the prefix of gatepost's keys; nil
// without Redis. The caller closes it.
func (s *State) Dedicated(poolSize int) (*redis.Client, string) {
	if s.client == nil {
		return nil, keyPrefix
	}
	opts := *s.opts
	opts.PoolSize = poolSize
	opts.ReadTimeout = 2 * time.Second // a blocking read adds its own wait to this
	opts.PoolTimeout = 2 * time.Second
	return redis.NewClient(&opts), keyPrefix
}

// Shared reports whether there is a Redis to share through.
func (s *State) Shared() bool { return s.client != nil }

// Close closes the connection to Redis.
func (s *State) Close() error {
	if s.client == nil {
		return nil
	}
	return s.client.Close()
}

// Limits is where a deployment keeps its limits: token buckets (rate
// limits and failure throttling) and byte quotas.
type Limits struct {
	Buckets ratelimit.Buckets
	// Quotas is a quota.Charger when Redis is configured: a reservation
	// then charges its rate limit in the same script.
	Quotas quota.Store
}

// Limits returns the limits in Redis with the outage policy applied, or
// in memory (on the clock now) without Redis. Their memory fallback is
// one, so that a call charged in one step while Redis is down is counted
// in the same buckets as the others.
func (s *State) Limits(now func() time.Time) Limits {
	buckets, quotas := ratelimit.NewMemory(now), quota.NewMemory(now)
	if s.client == nil {
		return Limits{Buckets: buckets, Quotas: quotas}
	}
	b := &policyBuckets{state: s, redis: ratelimit.NewRedis(s.scripts, keyPrefix+"rate:"), memory: buckets}
	q := &policyQuotas{state: s, redis: quota.NewRedis(s.scripts, keyPrefix+"quota:"), memory: quotas, buckets: b}
	return Limits{Buckets: b, Quotas: q}
}

// Ready says whether Redis answers, or nil without Redis.
func (s *State) Ready(ctx context.Context) error {
	if s.client == nil {
		return nil
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w (Redis: %v)", ratelimit.ErrUnavailable, err)
	}
	return nil
}

// Deny reports whether limits refuse while Redis is unreachable.
func (s *State) Deny() bool { return s.deny }

// available reports whether Redis may be asked now.
func (s *State) available() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.now().Before(s.downUntil)
}

// observe records the outcome of a call to Redis and logs each change
// between reachable and not, once.
func (s *State) observe(err error) {
	failed := errors.Is(err, ratelimit.ErrUnavailable) || errors.Is(err, quota.ErrUnavailable)
	s.mu.Lock()
	changed := failed != s.down
	s.down = failed
	if failed {
		s.downUntil = s.now().Add(retryAfter)
	}
	s.mu.Unlock()
	switch {
	case changed && failed && s.deny:
		s.logger.Error("the limit store (Redis) is unreachable: calls that need a limit answer 503 until it is back (shared_state.on_unavailable: deny)", "error", err)
	case changed && failed:
		s.logger.Error("the limit store (Redis) is unreachable: limits are counted in each replica's memory until it is back (shared_state.on_unavailable: allow)", "error", err)
	case changed:
		s.logger.Info("the limit store (Redis) is reachable again: limits are shared")
	}
}

// viaRedis answers with inRedis while Redis may be asked and answers; else,
// as the policy says, with unavailable (deny) or inMemory (allow). Every
// outcome of Redis is observed, for the outage window and its log lines,
// except a failure of a call whose own context ended (its client went
// away, say): that says nothing about Redis, and counting it would let
// any client that hangs up early take the limits down for everyone.
func viaRedis[T any](ctx context.Context, s *State, unavailable error, inRedis, inMemory func() (T, error)) (T, error) {
	if s.available() {
		v, err := inRedis()
		if err != nil && ctx.Err() != nil {
			var zero T
			return zero, unavailable
		}
		s.observe(err)
		if err == nil {
			return v, nil
		}
	}
	if s.deny {
		var zero T
		return zero, unavailable
	}
	return inMemory()
}

// policyBuckets asks Redis, and while Redis is unreachable answers as the
// policy says.
type policyBuckets struct {
	state  *State
	redis  *ratelimit.Redis
	memory *ratelimit.Memory
}

var _ ratelimit.Buckets = (*policyBuckets)(nil)

func (p *policyBuckets) AllowN(ctx context.Context, key string, n int, perSecond float64, burst int) (bool, time.Duration, error) {
	type answer struct {
		ok   bool
		wait time.Duration
	}
	a, err := viaRedis(ctx, p.state, ratelimit.ErrUnavailable,
		func() (answer, error) {
			ok, wait, err := p.redis.AllowN(ctx, key, n, perSecond, burst)
			return answer{ok, wait}, err
		},
		func() (answer, error) {
			ok, wait, err := p.memory.AllowN(ctx, key, n, perSecond, burst)
			return answer{ok, wait}, err
		})
	return a.ok, a.wait, err
}

// policyQuotas is policyBuckets for quotas; it charges rate limits in
// buckets.
type policyQuotas struct {
	state   *State
	redis   *quota.Redis
	memory  *quota.Memory
	buckets *policyBuckets
}

var _ quota.Charger = (*policyQuotas)(nil)

// ReserveCharged implements quota.Charger: in Redis, one script; while
// Redis is unreachable and the policy allows, the memory buckets and then
// the memory quotas.
func (p *policyQuotas) ReserveCharged(ctx context.Context, rate quota.Rate, key, object string, n int64, l quota.Limit) (quota.Result, error) {
	return viaRedis(ctx, p.state, quota.ErrUnavailable,
		func() (quota.Result, error) {
			call := p.buckets.redis.Call(rate.Key, rate.Tokens, rate.PerSecond, rate.Burst)
			return p.redis.ReserveCharged(ctx, call, key, object, n, l)
		},
		func() (quota.Result, error) {
			ok, wait, err := p.buckets.memory.AllowN(ctx, rate.Key, rate.Tokens, rate.PerSecond, rate.Burst)
			if err != nil {
				return quota.Result{}, err
			}
			if !ok {
				return quota.Result{RateLimited: true, RetryAfter: wait}, nil
			}
			return p.memory.Reserve(ctx, key, object, n, l)
		})
}

func (p *policyQuotas) Reserve(ctx context.Context, key, object string, n int64, l quota.Limit) (quota.Result, error) {
	return viaRedis(ctx, p.state, quota.ErrUnavailable,
		func() (quota.Result, error) { return p.redis.Reserve(ctx, key, object, n, l) },
		func() (quota.Result, error) { return p.memory.Reserve(ctx, key, object, n, l) })
}

func (p *policyQuotas) Set(ctx context.Context, key, id string, n int64, l quota.Limit) error {
	_, err := viaRedis(ctx, p.state, quota.ErrUnavailable,
		func() (struct{}, error) { return struct{}{}, p.redis.Set(ctx, key, id, n, l) },
		func() (struct{}, error) { return struct{}{}, p.memory.Set(ctx, key, id, n, l) })
	return err
}

func (p *policyQuotas) Correct(ctx context.Context, key, object string, n int64, madeBy time.Time, l quota.Limit) error {
	_, err := viaRedis(ctx, p.state, quota.ErrUnavailable,
		func() (struct{}, error) { return struct{}{}, p.redis.Correct(ctx, key, object, n, madeBy, l) },
		func() (struct{}, error) { return struct{}{}, p.memory.Correct(ctx, key, object, n, madeBy, l) })
	return err
}

func (p *policyQuotas) Usage(ctx context.Context, key string, l quota.Limit) (int64, error) {
	return viaRedis(ctx, p.state, quota.ErrUnavailable,
		func() (int64, error) { return p.redis.Usage(ctx, key, l) },
		func() (int64, error) { return p.memory.Usage(ctx, key, l) })
}

// UploadTokenSecret returns the secret every replica signs multipart
// upload tokens with: made by the first replica to ask, kept in Redis
// (without expiry), read by the others.
func (s *State) UploadTokenSecret(ctx context.Context) ([]byte, error) {
	if s.client == nil {
		return nil, errors.New("no shared state")
	}
	key := keyPrefix + "upload-token-secret"
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := s.client.SetNX(ctx, key, secret, 0).Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ratelimit.ErrUnavailable, err)
	}
	shared, err := s.client.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ratelimit.ErrUnavailable, err)
	}
	return shared, nil
}
