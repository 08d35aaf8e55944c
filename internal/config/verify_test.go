package config_test

import (
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/config"
)

func TestValidateVerify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		sniff   config.Sniff
		wantErr []string
	}{
		{name: "defaults"},
		{name: "skip and equivalences", sniff: config.Sniff{Skip: []string{"application/x-custom"}, Equivalent: map[string][]string{"text/csv": {"text/plain"}}}},
		{name: "a wildcard skipped", sniff: config.Sniff{Skip: []string{"image/*"}}, wantErr: []string{`profiles.p.verify.sniff.skip: "image/*" is not a lowercase media type`}},
		{name: "parameters", sniff: config.Sniff{Skip: []string{"text/plain; charset=utf-8"}}, wantErr: []string{`verify.sniff.skip: "text/plain; charset=utf-8"`}},
		{name: "an uppercase equivalence", sniff: config.Sniff{Equivalent: map[string][]string{"text/csv": {"Text/Plain"}}},
			wantErr: []string{`profiles.p.verify.sniff.equivalent.text/csv: "Text/Plain" is not a lowercase media type`}},
		{name: "a declared type that is no type", sniff: config.Sniff{Equivalent: map[string][]string{"csv": {"text/plain"}}},
			wantErr: []string{`profiles.p.verify.sniff.equivalent: "csv" is not a lowercase media type`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := safeConfig(map[string]config.Profile{"p": {KeyPrefix: "p/", Verify: config.Verification{Sniff: tt.sniff}}})
			checkValidate(t, cfg, tt.wantErr)
		})
	}
}

func TestValidateVerifyLifecycle(t *testing.T) {
	t.Parallel()
	no := false
	for _, tt := range []struct {
		name    string
		profile config.Profile
		wantErr []string
	}{
		{name: "staging, quarantine, scan and webhook", profile: config.Profile{KeyPrefix: "p/", Verify: config.Verification{
			Staging: true, OnReject: config.RejectQuarantine, MalwareScan: &config.MalwareScan{Clamd: "127.0.0.1:3310"}},
			Webhook: &config.Webhook{URL: "https://app.example/hooks", SecretEnv: "HOOK_SECRET"}}},
		{name: "an unknown reject action", profile: config.Profile{KeyPrefix: "p/", Verify: config.Verification{OnReject: "tag"}},
			wantErr: []string{`profiles.p.verify.on_reject: "tag" is not one of delete, quarantine`}},
		{name: "a clamd address without a port", profile: config.Profile{KeyPrefix: "p/", Verify: config.Verification{MalwareScan: &config.MalwareScan{Clamd: "localhost"}}},
			wantErr: []string{`profiles.p.verify.malware_scan.clamd: "localhost" is not a host:port address`}},
		{name: "a webhook without a secret", profile: config.Profile{KeyPrefix: "p/", Webhook: &config.Webhook{URL: "ftp://app"}},
			wantErr: []string{`profiles.p.webhook.url: "ftp://app" is not an http or https URL`, `profiles.p.webhook.secret_env: required`}},
		{name: "a prefix in the reserved space", profile: config.Profile{KeyPrefix: ".gatepost/staging/p/"},
			wantErr: []string{`profiles.p.key_prefix: ".gatepost/staging/p/" is inside .gatepost/, which gatepost reserves`}},
		{name: "staging without overwrite", profile: config.Profile{KeyPrefix: "p/", Methods: []config.Method{config.MethodPut}, Overwrite: &no, Verify: config.Verification{Staging: true}},
			wantErr: []string{`profiles.p.verify.staging: cannot be combined with overwrite: false yet`}},
		{name: "gatepost's own metadata name", profile: config.Profile{KeyPrefix: "p/", MetadataKeys: []string{"gatepost-declared"}},
			wantErr: []string{`profiles.p.metadata_keys: "gatepost-declared": names starting gatepost- are gatepost's own`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkValidate(t, safeConfig(map[string]config.Profile{"p": tt.profile}), tt.wantErr)
		})
	}
}

func TestValidateUppy(t *testing.T) {
	t.Parallel()
	cfg := safeConfig(map[string]config.Profile{"p": {KeyPrefix: "p/"}})
	cfg.Uppy = &config.Uppy{Profile: "p"}
	checkValidate(t, cfg, nil)
	cfg.Uppy = &config.Uppy{Profile: "nope"}
	checkValidate(t, cfg, []string{`uppy.profile: "nope" is not a profile`})
	cfg.Uppy = &config.Uppy{Profile: "p", SessionExpires: time.Second}
	checkValidate(t, cfg, []string{`uppy.session_expires: 1s is outside 1m to 24h`})
}

func TestValidateUnsizedMultipart(t *testing.T) {
	t.Parallel()
	cfg := safeConfig(map[string]config.Profile{"p": {KeyPrefix: "p/", AllowUnsizedMultipart: true}})
	checkValidate(t, cfg, nil)
	cfg = safeConfig(map[string]config.Profile{"p": {KeyPrefix: "p/", AllowUnsizedMultipart: true, Methods: []config.Method{config.MethodPost}}})
	checkValidate(t, cfg, []string{`profiles.p.allow_unsized_multipart: the profile does not allow multipart (methods)`})
}
