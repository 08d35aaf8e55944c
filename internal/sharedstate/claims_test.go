package sharedstate

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/redistest"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// TestClaimsInRedis: on Debian's redis-server, one of two replicas gets a
// version's claim; the other gets it once the first releases it, never
// while it is held; a release after the lease passed leaves the next
// owner's claim alone; verdicts are shared.
func TestClaimsInRedis(t *testing.T) {
	srv := redistest.Start(t)
	open := func() finalize.Claims {
		s, err := Open(config.SharedState{RedisURL: srv.URL}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Claims()
	}
	a, b := open(), open()
	ctx := t.Context()
	releaseA, ok, err := a.Claim(ctx, "v1", time.Minute)
	if err != nil || !ok {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if _, ok, err := b.Claim(ctx, "v1", time.Minute); err != nil || ok {
		t.Fatalf("second claim while held: %v, %v; want refused", ok, err)
	}
	releaseA()
	releaseB, ok, err := b.Claim(ctx, "v1", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim after release: %v, %v", ok, err)
	}
	releaseA() // late: B holds it now
	if _, ok, _ := a.Claim(ctx, "v1", time.Minute); ok {
		t.Error("a late release deleted another owner's claim")
	}
	releaseB()

	out := &finalize.Outcome{Verified: true, Profile: "p", Bucket: "b", Key: "k", Object: uploadpolicy.Object{ETag: `"e"`, LastModified: time.Unix(5, 7)}}
	if err := a.Remember(ctx, out); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.Recall(ctx, "b", "k")
	if err != nil || !ok || !finalize.SameVersion(&got.Object, &out.Object) || !got.Verified {
		t.Errorf("Recall = %+v, %v, %v", got, ok, err)
	}
}
