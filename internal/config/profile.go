package config

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/staging"
)

// KeyMode says how a profile turns the caller's key into the object key.
type KeyMode string

// The key modes a profile may use.
const (
	// KeyModeClient uses the caller's key under the profile's prefix.
	KeyModeClient KeyMode = "client"
	// KeyModeGenerated uses <uuid>-<sanitised file name> under the prefix.
	KeyModeGenerated KeyMode = "generated"
)

// Profile is a server-side set of rules for one kind of upload. Everything
// in it ends up in the signed policy, so S3 enforces it.
type Profile struct {
	// Bucket receives the uploads.
	Bucket string `yaml:"bucket"`
	// KeyPrefix is prepended to every key; callers cannot escape it.
	KeyPrefix string `yaml:"key_prefix"`
	// KeyMode is "client" (default) or "generated".
	KeyMode KeyMode `yaml:"key_mode"`
	// MinBytes is the smallest accepted upload (default 0).
	MinBytes int64 `yaml:"min_bytes"`
	// MaxBytes is the largest accepted upload; required. Up to 5 GiB for
	// POST and PUT, up to 5 TiB for multipart uploads.
	MaxBytes int64 `yaml:"max_bytes"`
	// ContentTypes is the allow-list of media types; "type/*" and "*/*"
	// wildcards are allowed here, never in requests.
	ContentTypes []string `yaml:"content_types"`
	// Expires is the policy lifetime (default 15m, at most 7 days).
	Expires time.Duration `yaml:"expires"`
	// PartURLExpires, when set, is the lifetime of multipart part URLs
	// instead of Expires (1s to 7 days): short, since clients presign
	// parts just before they send them, or long for slow links.
	PartURLExpires time.Duration `yaml:"part_url_expires"`
	// AllowUnsizedMultipart lets a multipart upload start without a
	// declared size (Uppy's Companion routes declare none). Its part URLs
	// do not pin a length, so until completion the store may hold more
	// than the profile allows; completion checks the parts against the
	// profile and aborts an upload over max_bytes. Default false: every
	// multipart upload declares its size and each part URL pins its
	// exact length.
	AllowUnsizedMultipart bool `yaml:"allow_unsized_multipart"`
	// MetadataKeys are the x-amz-meta-* names callers may set.
	MetadataKeys []string `yaml:"metadata_keys"`
	// RateLimit, when set, replaces the global rate limit for this
	// profile, counted per subject and profile.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Methods are the upload methods callers may use: post, put,
	// multipart (default: all three).
	Methods []Method `yaml:"methods"`
	// ContentDisposition, when set (for example "attachment"), is pinned
	// on every upload: signed into PUT URLs, set by gatepost on multipart
	// uploads and required by POST policies.
	ContentDisposition string `yaml:"content_disposition"`
	// CacheControl, when set, is pinned the same way.
	CacheControl string `yaml:"cache_control"`
	// ActiveContentTypes accepts, by name, content types a browser runs
	// (see ActiveContentType) in a profile that does not pin
	// content_disposition: attachment.
	ActiveContentTypes []string `yaml:"active_content_types"`
	// Overwrite, when false, makes the store refuse an upload to a key
	// that already exists (If-None-Match: * on PUT and multipart
	// completion). POST cannot express it, so such a profile may not
	// allow post. Default true.
	Overwrite *bool `yaml:"overwrite"`
	// Quota, when set, bounds the bytes each subject may be granted per
	// window in this profile; it replaces the default quota.
	Quota *Quota `yaml:"quota"`
	// Verify says how uploads are checked once they have landed.
	Verify Verification `yaml:"verify"`
	// Webhook, when set, receives the profile's verdicts.
	Webhook *Webhook `yaml:"webhook"`
}

// PartURLLifetime is how long a multipart part URL is valid.
func (p *Profile) PartURLLifetime() time.Duration {
	if p.PartURLExpires != 0 {
		return p.PartURLExpires
	}
	return p.Expires
}

// MayOverwrite reports whether uploads may replace an existing object.
func (p *Profile) MayOverwrite() bool { return p.Overwrite == nil || *p.Overwrite }

// Method is a way of uploading.
type Method string

// The upload methods.
const (
	MethodPost      Method = "post"
	MethodPut       Method = "put"
	MethodMultipart Method = "multipart"
)

// Allows reports whether the profile permits method m. No methods listed
// means all are permitted.
func (p *Profile) Allows(m Method) bool {
	return len(p.Methods) == 0 || slices.Contains(p.Methods, m)
}

func (p *Profile) validate(at, name string) []error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", at, setting, fmt.Sprintf(format, args...)))
	}
	if !profileNameRE.MatchString(name) {
		errs = append(errs, fmt.Errorf("%s: profile names are 1-63 lowercase letters, digits, '-' or '_'", at))
	}
	switch {
	case p.Bucket == "":
		bad("bucket", "required")
	case !bucketNameRE.MatchString(p.Bucket) || strings.Contains(p.Bucket, "..") ||
		ipAddressRE.MatchString(p.Bucket) || strings.HasPrefix(p.Bucket, "xn--") ||
		strings.HasSuffix(p.Bucket, "-s3alias") || strings.HasSuffix(p.Bucket, "--ol-s3"):
		bad("bucket", "%q is not a valid S3 bucket name", p.Bucket)
	}
	// {subject} becomes a safe, non-empty key segment at request time; it
	// must be a whole segment, or "u/{subject}" would let alice write
	// "u/alice2/..." by asking for the key "2/...".
	if n := strings.Count(p.KeyPrefix, subjectPlaceholder); n > 0 && strings.Count(p.KeyPrefix, subjectPlaceholder+"/") != n {
		bad("key_prefix", "%s must be followed by / (for example \"uploads/{subject}/\")", subjectPlaceholder)
	}
	if i := strings.Index(p.KeyPrefix, subjectPlaceholder); i > 0 && p.KeyPrefix[i-1] != '/' {
		bad("key_prefix", "%s must start a path segment (for example \"uploads/{subject}/\")", subjectPlaceholder)
	}
	if err := objectkey.CheckPrefix(strings.ReplaceAll(p.KeyPrefix, subjectPlaceholder, subjectPlaceholderValue)); err != nil {
		bad("key_prefix", "%v", err)
	}
	// A store may act on the directory of a key (SeaweedFS unpacks a zip
	// there): with "uploads-" that directory would be the bucket root,
	// outside every caller's space.
	if p.KeyPrefix != "" && !strings.HasSuffix(p.KeyPrefix, "/") {
		bad("key_prefix", "%q must end with / (for example %q): keys are placed in the prefix's directory, never beside it", p.KeyPrefix, p.KeyPrefix+"/")
	}
	// gatepost keeps unverified and rejected uploads there.
	if strings.HasPrefix(p.KeyPrefix, staging.Reserved) {
		bad("key_prefix", "%q is inside %s, which gatepost reserves for uploads it has not verified", p.KeyPrefix, staging.Reserved)
	}
	if p.Verify.Staging && !p.MayOverwrite() {
		// Promotion is a copy; whether each store refuses a copy onto an
		// existing key is not measured yet.
		bad("verify.staging", "cannot be combined with overwrite: false yet")
	}
	if p.Webhook != nil {
		errs = append(errs, p.Webhook.validate(at+".webhook")...)
	}
	if p.KeyMode != "" && p.KeyMode != KeyModeClient && p.KeyMode != KeyModeGenerated {
		bad("key_mode", "%q is not one of client, generated", p.KeyMode)
	}
	switch {
	case p.MaxBytes <= 0:
		bad("max_bytes", "required (a positive number of bytes)")
	case p.MaxBytes > MaxObjectBytes:
		bad("max_bytes", "%d is over S3's object limit of %d bytes (5 TiB)", p.MaxBytes, int64(MaxObjectBytes))
	case p.MaxBytes > MaxPostBytes && (p.Allows(MethodPost) || p.Allows(MethodPut)):
		bad("max_bytes", "%d is over S3's single-upload limit of %d bytes (5 GiB); above it use methods: [multipart]", p.MaxBytes, int64(MaxPostBytes))
	}
	switch {
	case p.MinBytes < 0:
		bad("min_bytes", "must not be negative")
	case p.MaxBytes > 0 && p.MinBytes > p.MaxBytes:
		bad("min_bytes", "%d is more than max_bytes (%d)", p.MinBytes, p.MaxBytes)
	}
	for _, m := range p.Methods {
		if m != MethodPost && m != MethodPut && m != MethodMultipart {
			bad("methods", "%q is not one of post, put, multipart", m)
		}
	}
	if len(p.ContentTypes) == 0 {
		bad("content_types", `must list at least one media type ("*/*" allows any)`)
	}
	for _, ct := range p.ContentTypes {
		if !mediaRangeRE.MatchString(ct) {
			bad("content_types", "%q is not a lowercase type/subtype, type/* or */*", ct)
		}
	}
	switch {
	case p.Expires < MinExpires:
		bad("expires", "%s is shorter than %s", p.Expires, MinExpires)
	case p.Expires > MaxExpires:
		bad("expires", "%s is longer than SigV4's limit of 7 days (168h)", p.Expires)
	}
	if p.AllowUnsizedMultipart && !p.Allows(MethodMultipart) {
		bad("allow_unsized_multipart", "the profile does not allow multipart (methods)")
	}
	if p.PartURLExpires != 0 && (p.PartURLExpires < MinExpires || p.PartURLExpires > MaxExpires) {
		bad("part_url_expires", "%s is outside %s to 168h", p.PartURLExpires, MinExpires)
	}
	errs = append(errs, p.validateSafety(at)...)
	seen := map[string]bool{}
	for _, k := range p.MetadataKeys {
		switch {
		case !metadataKeyRE.MatchString(k) || strings.HasPrefix(k, "x-amz-meta-"):
			bad("metadata_keys", "%q must be lowercase letters, digits, '-' or '_' (without x-amz-meta-)", k)
		case strings.HasPrefix(k, "gatepost-"):
			bad("metadata_keys", "%q: names starting gatepost- are gatepost's own", k)
		case seen[k]:
			bad("metadata_keys", "%q is listed twice", k)
		}
		seen[k] = true
	}
	return errs
}
