package config_test

import (
	"testing"

	"github.com/gatepost/gatepost/internal/config"
)

func TestProfileOf(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Profiles: map[string]config.Profile{
		"avatars": {Bucket: "uploads", KeyPrefix: "avatars/{subject}/"},
		"docs":    {Bucket: "uploads", KeyPrefix: "docs/"},
		"root":    {Bucket: "other", KeyPrefix: ""},
	}}
	for _, tc := range []struct {
		bucket, key, wantName, wantSegment string
		wantOK                             bool
	}{
		{"uploads", "avatars/alice/me.png", "avatars", "alice", true},
		{"uploads", "avatars/~0123abcd/x/y.png", "avatars", "~0123abcd", true},
		{"uploads", "avatars//me.png", "", "", false},
		{"uploads", "avatars/alice", "", "", false}, // no key under the subject's prefix
		{"uploads", "docs/report.pdf", "docs", "", true},
		{"uploads", "documents/report.pdf", "", "", false},
		{"uploads", "elsewhere.txt", "", "", false},
		{"other", "anything/at/all", "root", "", true},
		{"third", "docs/report.pdf", "", "", false},
	} {
		name, seg, ok := cfg.ProfileOf(tc.bucket, tc.key)
		if name != tc.wantName || seg != tc.wantSegment || ok != tc.wantOK {
			t.Errorf("ProfileOf(%q, %q) = %q, %q, %t; want %q, %q, %t", tc.bucket, tc.key, name, seg, ok, tc.wantName, tc.wantSegment, tc.wantOK)
		}
	}
}
