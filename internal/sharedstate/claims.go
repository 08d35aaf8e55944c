package sharedstate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/finalize"
)

// Claims returns where verifiers agree on who verifies an upload version
// and remember verdicts: in Redis, shared by every replica, or in this
// process without Redis.
func (s *State) Claims() finalize.Claims {
	if s.client == nil {
		return finalize.NewMemoryClaims()
	}
	owner := make([]byte, 8)
	_, _ = rand.Read(owner)
	return &redisClaims{client: s.client, owner: hex.EncodeToString(owner)}
}

// releaseClaim deletes a claim only if this owner still holds it, in one
// step (a GET then a DEL could delete the claim of another owner that took
// it in between). Redis has no compare-and-delete command, and go-redis
// none of its own: this three-line script is the usual form.
var releaseClaim = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// redisClaims keep claims as SET NX keys with the lease as their expiry,
// and verdicts as JSON for a day. Keys are hashes: object keys can be a
// kilobyte long.
type redisClaims struct {
	client *redis.Client
	owner  string
}

var _ finalize.Claims = (*redisClaims)(nil)

func hashed(kind, s string) string {
	sum := sha256.Sum256([]byte(s))
	return keyPrefix + kind + ":" + hex.EncodeToString(sum[:16])
}

func (c *redisClaims) Claim(ctx context.Context, version string, lease time.Duration) (func(), bool, error) {
	key := hashed("verify-claim", version)
	ok, err := c.client.SetNX(ctx, key, c.owner, lease).Result()
	if err != nil {
		return nil, false, fmt.Errorf("claim a verification in Redis: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ioTimeout)
		defer cancel()
		// Another owner's claim (after this one's lease ran out) is left
		// alone: deleting it would let a third verifier in.
		_ = releaseClaim.Run(ctx, c.client, []string{key}, c.owner).Err()
	}
	return release, true, nil
}

func (c *redisClaims) Remember(ctx context.Context, out *finalize.Outcome) error {
	raw, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return c.client.Set(ctx, hashed("verdict", finalize.RecentKey(out.Bucket, out.Key)), raw, finalize.RecentFor).Err()
}

func (c *redisClaims) Recall(ctx context.Context, bucket, key string) (*finalize.Outcome, bool, error) {
	raw, err := c.client.Get(ctx, hashed("verdict", finalize.RecentKey(bucket, key))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := &finalize.Outcome{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, false, err
	}
	return out, true, nil
}
