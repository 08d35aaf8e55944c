package quota_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/ratelimit"
	"github.com/gatepost/gatepost/internal/redistest"
)

// BenchmarkRedisReserve measures a reservation in Redis in the steady
// state of a busy deployment: keys whose windows are full of reservations
// that keep leaving as new ones come. Besides the time per call it reports
// redis-µs/op, what Redis itself spent per script (from INFO
// commandstats): the cost every replica's calls add to the one Redis.
//
// Its sub-benchmark charged is the reservation a credential makes: with
// its rate limit's charge in the same script.
func BenchmarkRedisReserve(b *testing.B) {
	srv := redistest.Start(b)
	client := srv.Client()
	store := quota.NewRedis(client, "bench:")
	buckets := ratelimit.NewRedis(client, "bench:rate:")
	for _, charged := range []bool{false, true} {
		reserve := store.Reserve
		name := "plain"
		if charged {
			name = "charged"
			reserve = func(ctx context.Context, key, object string, n int64, l quota.Limit) (quota.Result, error) {
				return store.ReserveCharged(ctx, buckets.Call(key, 1, 1e9, 1e9), key, object, n, l)
			}
		}
		b.Run(name, func(b *testing.B) { benchmarkReserve(b, client, reserve) })
	}
}

func benchmarkReserve(b *testing.B, client *redis.Client, reserve func(context.Context, string, string, int64, quota.Limit) (quota.Result, error)) {
	ctx := b.Context()
	lim := quota.Limit{Bytes: 1 << 60, Per: 300 * time.Millisecond}
	var n atomic.Int64
	// Fill the windows first, then count only the steady state.
	fill := time.Now().Add(lim.Per + 100*time.Millisecond)
	for i := 0; time.Now().Before(fill); i++ {
		if _, err := reserve(ctx, fmt.Sprintf("k%d", i%16), "user-uploads/subject/object.bin", 1024, lim); err != nil {
			b.Fatal(err)
		}
	}
	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := reserve(ctx, fmt.Sprintf("k%d", i%16), "user-uploads/subject/object.bin", 1024, lim); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	stats, err := client.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(stats, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for field := range strings.SplitSeq(strings.TrimSpace(rest), ",") {
				if v, ok := strings.CutPrefix(field, "usec_per_call="); ok {
					us, _ := strconv.ParseFloat(v, 64)
					b.ReportMetric(us, "redis-µs/op")
				}
			}
		}
	}
}
