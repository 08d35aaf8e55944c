package config_test

import (
	"strings"
	"testing"

	"github.com/gatepost/gatepost/internal/config"
)

// safeConfig returns a valid configuration with the given profiles, each
// completed with a bucket, a size and a harmless content type unless set.
func safeConfig(profiles map[string]config.Profile) *config.Config {
	for name, p := range profiles {
		if p.Bucket == "" {
			p.Bucket = "uploads"
		}
		if p.MaxBytes == 0 {
			p.MaxBytes = 1024
		}
		if p.ContentTypes == nil {
			p.ContentTypes = []string{"image/png"}
		}
		if p.Expires == 0 {
			p.Expires = config.DefaultExpires
		}
		profiles[name] = p
	}
	return &config.Config{
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		S3:       config.S3{Region: "us-east-1"},
		Auth:     config.Auth{Mode: config.AuthNone},
		Profiles: profiles,
	}
}

func no() *bool { f := false; return &f }

// TestValidateSafety: the configuration mistakes that would let one
// credential do more than put its bytes at its key are start-up errors
// naming the setting.
func TestValidateSafety(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		profiles map[string]config.Profile
		// wantErr lists what must appear in the error; none means valid.
		wantErr []string
	}{
		{name: "separate prefixes", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "users/{subject}/"}, "b": {KeyPrefix: "avatars/{subject}/"}, "c": {KeyPrefix: "users2/"},
		}},
		{name: "same prefix in different buckets", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "users/"}, "b": {KeyPrefix: "users/", Bucket: "other"},
		}},
		{name: "subject then different segments", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "u/{subject}/photos/"}, "b": {KeyPrefix: "u/{subject}/docs/"},
		}},
		{name: "shared prefix beside per-subject prefix", profiles: map[string]config.Profile{
			"shared": {KeyPrefix: "users/"}, "own": {KeyPrefix: "users/{subject}/"},
		}, wantErr: []string{`profiles.shared.key_prefix: "users/" meets profiles.own.key_prefix "users/{subject}/" in bucket uploads`}},
		{name: "identical prefixes", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "in/"}, "b": {KeyPrefix: "in/"},
		}, wantErr: []string{"profiles.b.key_prefix", "meets profiles.a.key_prefix"}},
		{name: "a prefix that is the start of another's segment", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "users"}, "b": {KeyPrefix: "users2/"},
		}, wantErr: []string{"profiles.b.key_prefix", "meets"}},
		{name: "no prefix meets every prefix", profiles: map[string]config.Profile{
			"a": {}, "b": {KeyPrefix: "b/"},
		}, wantErr: []string{"profiles.b.key_prefix", "meets"}},
		{name: "subject segment meets a fixed one", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "u/{subject}/"}, "b": {KeyPrefix: "u/admin/"},
		}, wantErr: []string{"profiles.b.key_prefix", "meets"}},
		{name: "subject as the first segment", profiles: map[string]config.Profile{
			"a": {KeyPrefix: "{subject}/"},
		}, wantErr: []string{"profiles.a.key_prefix: {subject} may not be the first segment"}},

		{name: "html without attachment", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"text/html"}},
		}, wantErr: []string{`profiles.a.content_types: "text/html" admits text/html, which a browser runs`, "content_disposition: attachment"}},
		{name: "text wildcard without attachment", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"text/plain", "text/*"}},
		}, wantErr: []string{`profiles.a.content_types: "text/*" admits text/ecmascript, text/html`}},
		{name: "image wildcard admits svg", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"image/*"}},
		}, wantErr: []string{`"image/*" admits image/svg+xml`}},
		{name: "any type", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"*/*"}},
		}, wantErr: []string{`"*/*" admits application/ecmascript`, "more"}},
		{name: "plus-xml type", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"application/rss+xml"}},
		}, wantErr: []string{`"application/rss+xml" admits application/rss+xml`}},
		{name: "active types with attachment", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"*/*"}, ContentDisposition: "attachment"},
		}},
		{name: "attachment with a file name", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"text/*"}, ContentDisposition: `attachment; filename="x.txt"`},
		}},
		{name: "svg accepted by name", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"image/png", "image/svg+xml"}, ActiveContentTypes: []string{"image/svg+xml"}},
		}},
		{name: "wildcard with its active types accepted by name", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"image/*"}, ActiveContentTypes: []string{"image/svg+xml"}},
		}},
		{name: "inline does not make html safe", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"text/html"}, ContentDisposition: "inline"},
		}, wantErr: []string{"profiles.a.content_types"}},
		{name: "accepting a type that is not active", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"text/plain"}, ActiveContentTypes: []string{"text/plain"}},
		}, wantErr: []string{`profiles.a.active_content_types: "text/plain" is not a type browsers run`}},
		{name: "accepting a type the profile does not allow", profiles: map[string]config.Profile{
			"a": {ContentTypes: []string{"image/png"}, ActiveContentTypes: []string{"text/html"}},
		}, wantErr: []string{`profiles.a.active_content_types: "text/html" is not allowed by content_types`}},

		{name: "bad disposition", profiles: map[string]config.Profile{
			"a": {ContentDisposition: "download"},
		}, wantErr: []string{`profiles.a.content_disposition: "download" must be attachment or inline`}},
		{name: "disposition with a newline", profiles: map[string]config.Profile{
			"a": {ContentDisposition: "attachment\nX-Evil: 1"},
		}, wantErr: []string{"profiles.a.content_disposition"}},
		{name: "cache control", profiles: map[string]config.Profile{
			"a": {CacheControl: "private, max-age=60"},
		}},
		{name: "cache control not ASCII", profiles: map[string]config.Profile{
			"a": {CacheControl: "max-age=60 ✓"},
		}, wantErr: []string{"profiles.a.cache_control"}},

		{name: "no overwriting with put and multipart", profiles: map[string]config.Profile{
			"a": {Overwrite: no(), Methods: []config.Method{config.MethodPut, config.MethodMultipart}},
		}},
		{name: "no overwriting with post", profiles: map[string]config.Profile{
			"a": {Overwrite: no()},
		}, wantErr: []string{"profiles.a.overwrite: false cannot be enforced on POST uploads", "methods: [put, multipart]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := safeConfig(tt.profiles).Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted it; want an error with %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestActiveContentType(t *testing.T) {
	t.Parallel()
	for mt, want := range map[string]bool{
		"text/html": true, "image/svg+xml": true, "application/javascript": true, "text/javascript": true,
		"application/xhtml+xml": true, "text/xml": true, "application/atom+xml": true, "multipart/x-mixed-replace": true,
		"text/plain": false, "image/png": false, "application/pdf": false, "application/json": false, "text/csv": false,
	} {
		if got := config.ActiveContentType(mt); got != want {
			t.Errorf("ActiveContentType(%q) = %t, want %t", mt, got, want)
		}
	}
}
