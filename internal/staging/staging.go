// Package staging names where gatepost keeps uploads it has not verified
// yet and what each upload carries from the credential that let it in.
//
// A profile with verify.staging writes every credential for
// .gatepost/staging/<final key>; only a verified object is copied to its
// final key, and a rejected one may be kept at
// .gatepost/quarantine/<final key>. The whole .gatepost/ space is
// reserved: no caller key and no profile prefix may reach it.
//
// The credential pins one metadata field, x-amz-meta-gatepost-declared,
// holding what it declared (subject, profile, size, checksum, when it was
// made), so that whoever reports the upload first, the client or the
// store, has all that verification needs.
package staging

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Reserved is the key prefix no caller and no profile may write to.
const Reserved = ".gatepost/"

const (
	stagingPrefix    = Reserved + "staging/"
	quarantinePrefix = Reserved + "quarantine/"
)

// MetadataName is the user metadata name (x-amz-meta-gatepost-declared)
// of the declaration.
const MetadataName = "gatepost-declared"

// VerifiedName is the metadata name (x-amz-meta-gatepost-verified) gatepost
// gives a promoted object, with when it was verified: an object at a
// staging profile's key without it was not put there by gatepost.
const VerifiedName = "gatepost-verified"

// ownPrefix starts every metadata name that is gatepost's own.
const ownPrefix = "gatepost-"

// IsReserved reports whether key lies in the reserved space.
func IsReserved(key string) bool { return strings.HasPrefix(key, Reserved) }

// Key returns where an upload for final waits to be verified.
func Key(final string) string { return stagingPrefix + final }

// QuarantineKey returns where a rejected upload for final is kept.
func QuarantineKey(final string) string { return quarantinePrefix + final }

// Final returns the final key of a staged key, and whether key is one.
func Final(key string) (string, bool) {
	final, ok := strings.CutPrefix(key, stagingPrefix)
	if !ok || final == "" {
		return "", false
	}
	return final, true
}

// Declaration is what a credential declared about the upload it allows.
type Declaration struct {
	// Subject is the caller the credential was made for.
	Subject string
	// Profile is the profile it was made under.
	Profile string
	// Size is the declared size in bytes, or -1 when none was declared.
	Size int64
	// ChecksumSHA256 is the pinned checksum (base64), or "".
	ChecksumSHA256 string
	// Issued is when the credential was made (to the second).
	Issued time.Time
}

// Encode returns the declaration as a metadata value: URL query syntax,
// printable ASCII whatever the subject holds, as S3 metadata must be.
func (d Declaration) Encode() string {
	v := url.Values{}
	v.Set("s", d.Subject)
	v.Set("p", d.Profile)
	if d.Size >= 0 {
		v.Set("n", strconv.FormatInt(d.Size, 10))
	}
	if d.ChecksumSHA256 != "" {
		v.Set("h", d.ChecksumSHA256)
	}
	v.Set("t", strconv.FormatInt(d.Issued.Unix(), 10))
	return v.Encode()
}

// ErrNoDeclaration is an object that carries no declaration: its bytes did
// not come through a staging credential.
var ErrNoDeclaration = errors.New("the object carries no gatepost declaration (it was not uploaded with a gatepost credential)")

// Parse reads a declaration from an object's user metadata (lowercase
// names, as stores report them).
func Parse(metadata map[string]string) (Declaration, error) {
	raw, ok := metadata[MetadataName]
	if !ok {
		return Declaration{}, ErrNoDeclaration
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return Declaration{}, fmt.Errorf("the gatepost declaration is unreadable: %w", err)
	}
	d := Declaration{Subject: v.Get("s"), Profile: v.Get("p"), Size: -1, ChecksumSHA256: v.Get("h")}
	if d.Subject == "" || d.Profile == "" {
		return Declaration{}, errors.New("the gatepost declaration names no subject or profile")
	}
	if n := v.Get("n"); n != "" {
		if d.Size, err = strconv.ParseInt(n, 10, 64); err != nil || d.Size < 0 {
			return Declaration{}, fmt.Errorf("the gatepost declaration has an unreadable size %q", n)
		}
	}
	t, err := strconv.ParseInt(v.Get("t"), 10, 64)
	if err != nil {
		return Declaration{}, fmt.Errorf("the gatepost declaration has an unreadable time %q", v.Get("t"))
	}
	d.Issued = time.Unix(t, 0)
	return d, nil
}

// UserMetadata returns metadata without gatepost's own names (the
// declaration, the verified mark): what the application set, as the
// caller and the webhook see it.
func UserMetadata(metadata map[string]string) map[string]string {
	out := make(map[string]string, len(metadata))
	for k, v := range metadata {
		if !strings.HasPrefix(k, ownPrefix) {
			out[k] = v
		}
	}
	return out
}

// Verified reports whether metadata carries gatepost's verified mark.
func Verified(metadata map[string]string) bool {
	_, ok := metadata[VerifiedName]
	return ok
}
