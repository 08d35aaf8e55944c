package gcra_test

import (
	"crypto/sha1"
	"encoding/hex"
	"testing"

	"github.com/go-redis/redis_rate/v10"

	"github.com/gatepost/gatepost/internal/ratelimit/gcra"
	"github.com/gatepost/gatepost/internal/redistest"
)

// TestScriptIsRedisRates: the vendored script is byte for byte the one
// redis_rate runs (Redis knows a script by its SHA-1, so after a
// Limiter.AllowN it holds exactly that text), and a Call charges the
// same bucket as Limiter.AllowN with the same key and limit.
func TestScriptIsRedisRates(t *testing.T) {
	t.Parallel()
	client := redistest.Start(t).Client()
	ctx := t.Context()
	limiter := redis_rate.NewLimiter(client)
	l := gcra.Limit(0.5, 3) // a token every 2 s: none comes back during the test
	if res, err := limiter.AllowN(ctx, "test:alice", l, 2); err != nil || res.Allowed != 2 {
		t.Fatalf("redis_rate: %+v, %v", res, err)
	}
	sum := sha1.Sum([]byte(gcra.Script))
	exists, err := client.ScriptExists(ctx, hex.EncodeToString(sum[:])).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !exists[0] {
		t.Fatal("allow_n.lua is not the script redis_rate ran: the library changed it; copy its allowN script again (README.md)")
	}
	call := gcra.NewCall("test:alice", l, 1)
	for i, want := range []int64{1, 0} {
		v, err := client.Eval(ctx, gcra.Script, []string{call.Key}, call.Args...).Slice()
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != want {
			t.Errorf("charge %d after redis_rate took 2 of 3: allowed %d, want %d", i+1, v[0], want)
		}
	}
}

// TestLimit: rates are whole tokens per period, to a millisecond per token.
func TestLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		perSecond float64
		burst     int
		want      string
	}{
		{50, 100, "50 req/s (burst 100)"},
		{0.5, 1, "1 req/2s (burst 1)"},
		{1500.5, 10, "1 req/1ms (burst 10)"},
	} {
		if got := gcra.Limit(tc.perSecond, tc.burst).String(); got != tc.want {
			t.Errorf("Limit(%v, %d) = %s, want %s", tc.perSecond, tc.burst, got, tc.want)
		}
	}
	if l := gcra.Limit(0, 5); l.Rate != 1 || l.Period < 365*24*3600e9 {
		t.Errorf("no refill: %+v, want one token a century", l)
	}
}
