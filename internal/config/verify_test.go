package config_test

import (
	"testing"

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
