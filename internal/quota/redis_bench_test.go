package quota_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/quota"
	"github.com/gatepost/gatepost/internal/redistest"
)

// BenchmarkRedisReserve measures a reservation in Redis in the steady
// state of a busy deployment: keys whose windows are full of reservations
// that keep leaving as new ones come. Besides the time per call it reports
// redis-µs/op, what Redis itself spent per script (from INFO
// commandstats): the cost every replica's calls add to the one Redis.
func BenchmarkRedisReserve(b *testing.B) {
	srv := redistest.Start(b)
	client := srv.Client()
	store := quota.NewRedis(client, "bench:")
	ctx := b.Context()
	lim := quota.Limit{Bytes: 1 << 60, Per: 300 * time.Millisecond}
	var n atomic.Int64
	// Fill the windows first, then count only the steady state.
	fill := time.Now().Add(lim.Per + 100*time.Millisecond)
	for i := 0; time.Now().Before(fill); i++ {
		if _, err := store.Reserve(ctx, fmt.Sprintf("k%d", i%16), "user-uploads/subject/object.bin", 1024, lim); err != nil {
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
			if _, err := store.Reserve(ctx, fmt.Sprintf("k%d", i%16), "user-uploads/subject/object.bin", 1024, lim); err != nil {
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
