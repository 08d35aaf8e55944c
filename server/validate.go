package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// maxEchoBytes bounds how much of a caller's string an error message echoes.
const maxEchoBytes = 64

// invalid returns an InvalidArgument status whose message starts with the
// request field at fault.
func invalid(field, format string, args ...any) error {
	return status.Error(codes.InvalidArgument, field+": "+fmt.Sprintf(format, args...))
}

// object is what every kind of upload request names: a profile, a key, a
// Content-Type and metadata, checked against the profile and the caller.
type object struct {
	profileName string
	profile     config.Profile
	key         string
	// storeKey is where the credential writes: key, or its staging key
	// when the profile verifies before anything reaches key.
	storeKey    string
	contentType string
	metadata    map[string]string
}

// credentialMetadata is the metadata the credential pins: the caller's,
// and on a staging profile the declaration the upload carries to its
// verification.
func (o *object) credentialMetadata(id *auth.Identity, size int64, checksum string, now time.Time) map[string]string {
	if !o.profile.Verify.Staging {
		return o.metadata
	}
	md := make(map[string]string, len(o.metadata)+1)
	maps.Copy(md, o.metadata)
	md[staging.MetadataName] = staging.Declaration{
		Subject: id.Subject, Profile: o.profileName, Size: size, ChecksumSHA256: checksum, Issued: now,
	}.Encode()
	return md
}

// profileFor finds the named profile (default "default"), checks that the
// caller may use it, and returns it with the caller's own key prefix
// ({subject} filled in).
func (s *Service) profileFor(name string, id *auth.Identity) (string, config.Profile, string, error) {
	if name == "" {
		name = config.DefaultProfile
	}
	if !utf8.ValidString(name) {
		return "", config.Profile{}, "", invalid("profile", "must be valid UTF-8")
	}
	// Permission next: a caller limited to some profiles gets the same
	// answer for a profile that exists and one that does not, so it cannot
	// list the others' profile names by probing.
	if !id.MayUse(name) {
		return "", config.Profile{}, "", status.Errorf(codes.PermissionDenied, "profile: subject %s may not use profile %s", echo(id.Subject), echo(name))
	}
	profile, ok := s.profiles[name]
	if !ok {
		return "", config.Profile{}, "", invalid("profile", "unknown profile %s", echo(name))
	}
	// Each caller's keys live under its own prefix when the profile's
	// prefix contains {subject}.
	prefix := strings.ReplaceAll(profile.KeyPrefix, "{subject}", auth.KeySegment(id.Subject))
	return name, profile, prefix, nil
}

// resolveProfile is profileFor for an upload: the profile must also allow
// the method.
func (s *Service) resolveProfile(name string, id *auth.Identity, method config.Method) (string, config.Profile, string, error) {
	name, profile, prefix, err := s.profileFor(name, id)
	if err == nil && !profile.Allows(method) {
		err = invalid("profile", "profile %q does not allow %s uploads", name, method)
	}
	return name, profile, prefix, err
}

// decideObject validates the parts every upload request shares, in field
// order, before anything is signed or sent to the store. The caller's rate
// (c) is charged as soon as the profile is known, before the rest is
// validated, so that invalid requests are not free (or deferred to the
// quota reservation, and charged by then all the same: see rateCharge).
func (s *Service) decideObject(ctx context.Context, c *rateCharge, method config.Method, profileName, key, contentType string, metadata map[string]string) (*object, error) {
	id := c.id
	name, profile, prefix, err := s.resolveProfile(profileName, id, method)
	if err != nil {
		return nil, err
	}
	if err := c.profileKnown(ctx, name); err != nil {
		return nil, err
	}
	if err := objectkey.Check(key); err != nil {
		return nil, invalid("key", "%v", err)
	}
	var final string
	switch profile.KeyMode {
	case config.KeyModeGenerated:
		final, err = objectkey.Generate(prefix, key)
	default:
		final, err = objectkey.Join(prefix, key)
	}
	if err != nil {
		return nil, invalid("key", "%v", err)
	}
	if staging.IsReserved(final) {
		return nil, invalid("key", "%s is inside %s, which gatepost reserves for uploads it has not verified", echo(final), staging.Reserved)
	}
	storeKey := final
	if profile.Verify.Staging {
		storeKey = staging.Key(final)
		if len(storeKey) > objectkey.MaxKeyBytes {
			return nil, invalid("key", "%s is too long: with the %d-byte staging prefix it is over S3's %d bytes", echo(final), len(storeKey)-len(final), objectkey.MaxKeyBytes)
		}
	}

	ct, mediaType, err := uploadpolicy.ParseContentType(contentType)
	if err != nil {
		return nil, invalid("content_type", "%v", err)
	}
	if !uploadpolicy.ContentTypeAllowed(mediaType, profile.ContentTypes) {
		return nil, invalid("content_type", "%s is not allowed by profile %q (allowed: %s)",
			echo(mediaType), name, strings.Join(profile.ContentTypes, ", "))
	}
	// A type a browser runs (say text/html matched by text/*) only when
	// the profile downloads it or accepts it by name: start-up checks the
	// types it can name, this catches the rest (for example any +xml).
	if config.ActiveContentType(mediaType) && !profile.AcceptsActive(mediaType) {
		return nil, invalid("content_type", "%s is a type browsers run as a page or script; profile %q does not accept it", echo(mediaType), name)
	}
	md, err := checkMetadata(metadata, profile.MetadataKeys, name)
	if err != nil {
		return nil, err
	}
	if profile.Verify.Staging {
		if err := checkDeclarationFits(md, id, name); err != nil {
			return nil, err
		}
	}
	return &object{profileName: name, profile: profile, key: final, storeKey: storeKey, contentType: ct, metadata: md}, nil
}

// checkSize checks a declared size against the profile's range and an
// upper limit of the method.
func checkSize(field string, n int64, o *object, limit int64, limitName string) error {
	switch {
	case n < 0:
		return invalid(field, "must not be negative")
	case n > o.profile.MaxBytes:
		return invalid(field, "%d bytes is over the maximum of %d bytes for profile %q", n, o.profile.MaxBytes, o.profileName)
	case n > limit:
		return invalid(field, "%d bytes is over the %s limit of %d bytes", n, limitName, limit)
	case n < o.profile.MinBytes:
		return invalid(field, "%d bytes is under the minimum of %d bytes for profile %q", n, o.profile.MinBytes, o.profileName)
	}
	return nil
}

// checkChecksum accepts "" or the base64 of a 32-byte SHA-256.
func checkChecksum(v string) error {
	if v == "" {
		return nil
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(raw) != sha256.Size {
		return invalid("checksum_sha256", "must be the standard base64 of a 32-byte SHA-256 (44 characters)")
	}
	return nil
}

// checkMetadata accepts only metadata names the profile allows (compared
// case-insensitively, returned in lowercase as S3 stores them) and values
// S3 can store as an HTTP header: printable ASCII without leading or
// trailing spaces, within S3's 2 KB total for names and values (counted
// as S3 does, without the x-amz-meta- prefix).
func checkMetadata(md map[string]string, allowed []string, profile string) (map[string]string, error) {
	if len(md) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(md))
	total := 0
	for _, name := range slices.Sorted(maps.Keys(md)) {
		value := md[name]
		lower := strings.ToLower(name)
		if !slices.Contains(allowed, lower) {
			if len(allowed) == 0 {
				return nil, invalid("metadata", "profile %q allows no metadata (got key %s)", profile, echo(name))
			}
			return nil, invalid("metadata", "key %s is not allowed by profile %q (allowed: %s)",
				echo(name), profile, strings.Join(allowed, ", "))
		}
		if _, dup := out[lower]; dup {
			return nil, invalid("metadata", "key %s is given twice (names are case-insensitive)", echo(name))
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < 0x20 || c > 0x7e {
				return nil, invalid("metadata", "value of %q contains a byte S3 cannot store at %d (printable ASCII only)", lower, i)
			}
		}
		if strings.TrimSpace(value) != value {
			return nil, invalid("metadata", "value of %q has leading or trailing spaces, which S3 drops", lower)
		}
		total += len(lower) + len(value)
		out[lower] = value
	}
	if total > config.MaxMetadataBytes {
		return nil, invalid("metadata", "is %d bytes in total; S3 allows %d", total, config.MaxMetadataBytes)
	}
	return out, nil
}

// checkDeclarationFits checks that the metadata and the declaration a
// staging credential adds stay within S3's 2 KB together, for the largest
// declaration this caller can get (any size, a checksum, any time).
func checkDeclarationFits(md map[string]string, id *auth.Identity, profile string) error {
	largest := staging.Declaration{Subject: id.Subject, Profile: profile, Size: 1 << 62,
		ChecksumSHA256: strings.Repeat("A", 44), Issued: time.Unix(1<<40, 0)}.Encode()
	total := len(staging.MetadataName) + len(largest)
	for k, v := range md {
		total += len(k) + len(v)
	}
	if total > config.MaxMetadataBytes {
		return invalid("metadata", "with the %d bytes of upload details profile %q pins (for subject %s), it is %d bytes; S3 allows %d", len(staging.MetadataName)+len(largest), profile, echo(id.Subject), total, config.MaxMetadataBytes)
	}
	return nil
}

// echo quotes a caller-supplied string for an error message, shortened and
// with anything unprintable escaped.
func echo(s string) string {
	if cut := truncate(s, maxEchoBytes); len(cut) < len(s) {
		return fmt.Sprintf("%q...", cut)
	}
	return fmt.Sprintf("%q", s)
}

// truncate cuts s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// pinnedHeaders returns the standard headers the profile pins.
func pinnedHeaders(p *config.Profile) uploadpolicy.Headers {
	return uploadpolicy.Headers{CacheControl: p.CacheControl, ContentDisposition: p.ContentDisposition}
}
