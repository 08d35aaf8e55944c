package finalize

import (
	"context"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Claims is where verifiers agree on who verifies a version and remember
// verdicts: this process's memory, or Redis shared by every replica.
type Claims interface {
	// Claim takes version for this verifier for lease; ok is false while
	// another holds it. release gives it back early.
	Claim(ctx context.Context, version string, lease time.Duration) (release func(), ok bool, err error)
	// Remember keeps the verdict on the upload at bucket/key for a day.
	Remember(ctx context.Context, out *Outcome) error
	// Recall returns the remembered verdict on the upload at bucket/key.
	Recall(ctx context.Context, bucket, key string) (*Outcome, bool, error)
}

// Remembered verdicts: how many (in memory), and for how long.
const (
	recentVerdicts = 10_000
	RecentFor      = 24 * time.Hour
)

// memoryClaims are Claims in this process: every claim succeeds (the
// verifier's own singleflight already makes concurrent reports share one
// verification), verdicts are in a bounded LRU.
type memoryClaims struct {
	recent *expirable.LRU[string, *Outcome]
}

var _ Claims = (*memoryClaims)(nil)

// NewMemoryClaims returns Claims kept in this process.
func NewMemoryClaims() Claims {
	return &memoryClaims{recent: expirable.NewLRU[string, *Outcome](recentVerdicts, nil, RecentFor)}
}

func (m *memoryClaims) Claim(context.Context, string, time.Duration) (func(), bool, error) {
	return func() {}, true, nil
}

func (m *memoryClaims) Remember(_ context.Context, out *Outcome) error {
	m.recent.Add(RecentKey(out.Bucket, out.Key), out)
	return nil
}

func (m *memoryClaims) Recall(_ context.Context, bucket, key string) (*Outcome, bool, error) {
	out, ok := m.recent.Get(RecentKey(bucket, key))
	return out, ok, nil
}

// RecentKey names the verdict on the upload at bucket/key.
func RecentKey(bucket, key string) string { return bucket + "\x00" + key }
