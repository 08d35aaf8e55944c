package config_test

import (
	"strings"
	"testing"

	"github.com/gatepost/gatepost/internal/config"
)

// TestValidateStore: on SeaweedFS, whose POST uploads apply request
// headers no policy covers, a profile offers post to callers other than
// the operator only when the operator accepts that, and never where an
// attachment pin must hold.
func TestValidateStore(t *testing.T) {
	t.Parallel()
	apiKeys := config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{{Subject: "a", SHA256: strings.Repeat("ab", 32), Profiles: []string{"*"}}}}
	plain := config.Profile{KeyPrefix: "plain/"}
	putOnly := config.Profile{KeyPrefix: "put/", Methods: []config.Method{config.MethodPut, config.MethodMultipart}}
	attachment := config.Profile{KeyPrefix: "html/", ContentTypes: []string{"text/html"}, ContentDisposition: "attachment"}
	byName := config.Profile{KeyPrefix: "svg/", ContentTypes: []string{"image/svg+xml"}, ActiveContentTypes: []string{"image/svg+xml"}}
	tests := []struct {
		name    string
		s3      config.S3
		auth    *config.Auth
		profile config.Profile
		wantErr []string
	}{
		{name: "aws, post", s3: config.S3{Store: config.StoreAWS}, auth: &apiKeys, profile: plain},
		{name: "unset store, post", auth: &apiKeys, profile: plain},
		{name: "minio, post with attachment", s3: config.S3{Store: config.StoreMinIO}, auth: &apiKeys, profile: attachment},
		{name: "unknown store", s3: config.S3{Store: "ceph"}, profile: plain, wantErr: []string{`s3.store: "ceph" is not one of`}},
		{name: "seaweedfs, post to callers", s3: config.S3{Store: config.StoreSeaweedFS}, auth: &apiKeys, profile: plain,
			wantErr: []string{"profiles.p.methods: post on SeaweedFS", "s3.accept_seaweedfs_post_headers"}},
		{name: "seaweedfs, put and multipart only", s3: config.S3{Store: config.StoreSeaweedFS}, auth: &apiKeys, profile: putOnly},
		{name: "seaweedfs, post accepted", s3: config.S3{Store: config.StoreSeaweedFS, AcceptSeaweedFSPostHeaders: true}, auth: &apiKeys, profile: plain},
		{name: "seaweedfs, post accepted, but an attachment pin must hold", s3: config.S3{Store: config.StoreSeaweedFS, AcceptSeaweedFSPostHeaders: true},
			auth: &apiKeys, profile: attachment, wantErr: []string{"profiles.p.methods: post on SeaweedFS cannot keep content_disposition: attachment"}},
		{name: "seaweedfs, post accepted, active type accepted by name", s3: config.S3{Store: config.StoreSeaweedFS, AcceptSeaweedFSPostHeaders: true},
			auth: &apiKeys, profile: byName},
		{name: "seaweedfs, mode none on loopback (make run)", s3: config.S3{Store: config.StoreSeaweedFS}, profile: attachment},
		{name: "seaweedfs, mode none behind a proxy", s3: config.S3{Store: config.StoreSeaweedFS},
			auth: &config.Auth{Mode: config.AuthNone, AllowNoneBeyondLoopback: true}, profile: plain, wantErr: []string{"post on SeaweedFS"}},
		{name: "acceptance without seaweedfs", s3: config.S3{Store: config.StoreMinIO, AcceptSeaweedFSPostHeaders: true}, profile: plain,
			wantErr: []string{"s3.accept_seaweedfs_post_headers: only meaningful with s3.store: seaweedfs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := safeConfig(map[string]config.Profile{"p": tt.profile})
			region := cfg.S3.Region
			cfg.S3 = tt.s3
			cfg.S3.Region = region
			if tt.auth != nil {
				cfg.Auth = *tt.auth
			}
			checkValidate(t, cfg, tt.wantErr)
		})
	}
}

// checkValidate validates cfg and checks that it passes when wantErr is
// empty, and otherwise fails with every text in wantErr; it returns the
// error.
func checkValidate(t *testing.T, cfg *config.Config, wantErr []string) error {
	t.Helper()
	err := cfg.Validate()
	if len(wantErr) == 0 {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return nil
	}
	if err == nil {
		t.Fatalf("Validate accepted it; want %q", wantErr)
	}
	for _, want := range wantErr {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	return err
}
