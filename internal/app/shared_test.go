package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/redistest"
)

// sharedLimits shares limits through the Redis at url, with a slow rate
// limit (3 at once, then one a quarter of an hour).
func sharedLimits(url, onUnavailable string) func(*config.Config) {
	return func(c *config.Config) {
		c.SharedState = config.SharedState{RedisURL: url, OnUnavailable: onUnavailable}
		c.RateLimit = config.RateLimit{RequestsPerSecond: 1.0 / 900, Burst: 3}
	}
}

// TestRateLimitAcrossReplicas: two replicas on one Redis give a subject
// its burst once, not once each, on gRPC and REST alike.
func TestRateLimitAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	replicas := []*started{start(t, sharedLimits(srv.URL, "")), start(t, sharedLimits(srv.URL, ""))}
	for i := range 3 {
		s := replicas[i%2]
		if _, err := s.client.CreatePresignedPost(s.authed(t.Context()), okRequest); err != nil {
			t.Fatalf("request %d within the burst, on replica %d: %v", i+1, i%2, err)
		}
	}
	_, err := replicas[1].client.CreatePresignedPost(replicas[1].authed(t.Context()), okRequest)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("past the burst on the other replica: %v; want ResourceExhausted", err)
	}
	resp, body := replicas[0].restWith(t, "Bearer "+aliceKey, okRequest)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("REST past the burst: %d %s (Retry-After %q); want 429 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	// Another subject has its own burst.
	if _, err := replicas[0].client.CreatePresignedPost(withToken(t.Context(), bobKey), okRequest); err != nil {
		t.Errorf("another subject: %v", err)
	}
}

// TestRedisOutage: with deny, calls that need a limit answer Unavailable
// with a message about the limit store, and /readyz (still ready) says so;
// with allow,
// they are served on each replica's own limits. Both recover once Redis
// is back, without a restart.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		policy string
		want   codes.Code
	}{
		{config.OnUnavailableDeny, codes.Unavailable},
		{config.OnUnavailableAllow, codes.OK},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			s := start(t, sharedLimits(srv.URL, tt.policy))
			if _, err := s.client.CreatePresignedPost(s.authed(t.Context()), okRequest); err != nil {
				t.Fatalf("with Redis up: %v", err)
			}
			srv.Stop()
			started := time.Now()
			_, err := s.client.CreatePresignedPost(s.authed(t.Context()), okRequest)
			if status.Code(err) != tt.want {
				t.Errorf("with Redis down: %v; want %s", err, tt.want)
			}
			if tt.want == codes.Unavailable && !strings.Contains(status.Convert(err).Message(), "limit store is unreachable") {
				t.Errorf("message %q does not say the limit store is unreachable", status.Convert(err).Message())
			}
			if took := time.Since(started); took > 5*time.Second {
				t.Errorf("the call waited %s for Redis", took)
			}
			resp, body := s.restWith(t, "Bearer "+aliceKey, okRequest)
			if tt.want == codes.Unavailable {
				var st struct{ Message string }
				_ = json.Unmarshal(body, &st)
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(st.Message, "limits: ") {
					t.Errorf("REST with Redis down: %d %s; want 503 starting with limits:", resp.StatusCode, body)
				}
			}
			// Ready (an unready fleet would answer nothing at all), and says why
			// limits suffer.
			code, ready := getRaw(t, s, "/readyz")
			if code != http.StatusOK || !strings.Contains(ready, "limit store (Redis) is unreachable") {
				t.Errorf("/readyz with Redis down: %d %s", code, ready)
			}

			srv.Restart()
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := s.client.CreatePresignedPost(s.authed(t.Context()), okRequest)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still failing after Redis came back: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if code, body := getRaw(t, s, "/readyz"); code != http.StatusOK || body != "ready\n" {
				t.Errorf("/readyz after Redis came back: %d %q", code, body)
			}
		})
	}
}
