package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/config"
)

// TestValidateSharedStateAndQuotas: Redis URLs, the outage policy and
// quotas are checked at start-up, each error naming its setting (and
// never echoing a Redis password).
func TestValidateSharedStateAndQuotas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*config.Config)
		wantErr []string
		notIn   string
	}{
		{name: "redis and a quota", change: func(c *config.Config) {
			c.SharedState = config.SharedState{RedisURL: "redis://127.0.0.1:6379/0", OnUnavailable: "allow"}
			c.Quota = &config.Quota{Bytes: 1 << 30, Per: 24 * time.Hour}
		}},
		{name: "rediss with a password", change: func(c *config.Config) { c.SharedState.RedisURL = "rediss://user:pw@redis.internal:6380/1" }},
		{name: "not redis", change: func(c *config.Config) { c.SharedState.RedisURL = "http://user:hunter2@127.0.0.1:6379" },
			wantErr: []string{"shared_state.redis_url:", "is not a redis:// or rediss:// URL"}, notIn: "hunter2"},
		{name: "no host", change: func(c *config.Config) { c.SharedState.RedisURL = "redis:///0" }, wantErr: []string{"shared_state.redis_url:", "names no host"}},
		{name: "unknown policy", change: func(c *config.Config) { c.SharedState.OnUnavailable = "maybe" }, wantErr: []string{`shared_state.on_unavailable: "maybe" is not one of deny, allow`}},
		{name: "quota without bytes", change: func(c *config.Config) { c.Quota = &config.Quota{Per: time.Hour} }, wantErr: []string{"quota.bytes: required"}},
		{name: "quota window too short", change: func(c *config.Config) { c.Quota = &config.Quota{Bytes: 1, Per: time.Second} }, wantErr: []string{"quota.per: 1s is outside"}},
		{name: "profile quota", change: func(c *config.Config) {
			p := c.Profiles["p"]
			p.Quota = &config.Quota{Bytes: -1}
			c.Profiles["p"] = p
		}, wantErr: []string{"profiles.p.quota.bytes: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := safeConfig(map[string]config.Profile{"p": {KeyPrefix: "p/"}})
			tt.change(cfg)
			err := checkValidate(t, cfg, tt.wantErr)
			if tt.notIn != "" && err != nil && strings.Contains(err.Error(), tt.notIn) {
				t.Errorf("error %q shows %q", err, tt.notIn)
			}
		})
	}
}
