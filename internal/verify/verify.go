// Package verify decides whether an object that landed in the store is
// what its profile and its credential allowed: its size, Content-Type,
// headers and metadata as the store reports them (a HEAD), its checksum
// when one was pinned, and the type its first bytes show. The verdict
// lists every reason in words, for the caller, the webhook and the log.
//
// It decides, reading at most an object's first bytes (Inspect); acting
// on the verdict belongs to the service.
package verify

import (
	"fmt"
	"mime"
	"slices"
	"strings"

	"github.com/gabriel-vasile/mimetype"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// HeadBytes is how much of an object's start the type detection reads:
// one ranged GET of at most this many bytes per object.
const HeadBytes = 4096

// Declared is what the credential that let the object in declared and
// pinned: the verdict holds the object to it, not only to the profile.
type Declared struct {
	// Size is the declared size in bytes, or -1 when none was declared.
	Size int64
	// ContentType is the Content-Type signed in.
	ContentType string
	// ChecksumSHA256 is the pinned checksum (base64), or "".
	ChecksumSHA256 string
	// Metadata is the user metadata signed in (lowercase names).
	Metadata map[string]string
}

// Verdict is the outcome of verifying one object.
type Verdict struct {
	// Reasons lists, sorted, every way the object breaks its profile or
	// its credential; none when it passed.
	Reasons []string
	// Sniffed is the media type its first bytes show ("" when not
	// detected: sniffing off for the profile or the type).
	Sniffed string
}

// OK reports whether the object passed.
func (v Verdict) OK() bool { return len(v.Reasons) == 0 }

// Check verifies obj (as a HEAD reports it, with head its first bytes, at
// most HeadBytes) against profile p and what its credential declared.
func Check(p *config.Profile, d Declared, obj *uploadpolicy.Object, head []byte) Verdict {
	reasons := Violations(obj, p)
	if d.Size >= 0 && obj.Size != d.Size {
		reasons = append(reasons, fmt.Sprintf("size %d is not the declared %d bytes", obj.Size, d.Size))
	}
	if d.ContentType != "" && obj.ContentType != d.ContentType {
		reasons = append(reasons, fmt.Sprintf("Content-Type %q is not the declared %q", obj.ContentType, d.ContentType))
	}
	if d.ChecksumSHA256 != "" && obj.ChecksumSHA256 != d.ChecksumSHA256 {
		reasons = append(reasons, fmt.Sprintf("SHA-256 checksum %q is not the declared %q", obj.ChecksumSHA256, d.ChecksumSHA256))
	}
	for name, want := range d.Metadata {
		if got, ok := metadataValue(obj.Metadata, name); !ok || got != want {
			reasons = append(reasons, fmt.Sprintf("metadata %q is %q, not the declared %q", name, got, want))
		}
	}
	v := Verdict{}
	_, declared, err := uploadpolicy.ParseContentType(obj.ContentType)
	if err == nil {
		var reason string
		v.Sniffed, reason = Sniff(p.Verify.Sniff, declared, head)
		if reason != "" {
			reasons = append(reasons, reason)
		}
	}
	slices.Sort(reasons)
	v.Reasons = slices.Compact(reasons)
	return v
}

// metadataValue finds a metadata value by name, whatever the case the
// store reports names in.
func metadataValue(md map[string]string, name string) (string, bool) {
	for k, v := range md {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// Violations lists how a stored object breaks its profile's static rules:
// size range, allowed Content-Types, pinned Content-Disposition and
// Cache-Control, and allowed metadata names. It reads no bytes.
func Violations(obj *uploadpolicy.Object, p *config.Profile) []string {
	var out []string
	if obj.Size < p.MinBytes {
		out = append(out, fmt.Sprintf("size %d is under the minimum of %d bytes", obj.Size, p.MinBytes))
	}
	if obj.Size > p.MaxBytes {
		out = append(out, fmt.Sprintf("size %d is over the maximum of %d bytes", obj.Size, p.MaxBytes))
	}
	if _, mt, err := uploadpolicy.ParseContentType(obj.ContentType); err != nil || !uploadpolicy.ContentTypeAllowed(mt, p.ContentTypes) {
		out = append(out, fmt.Sprintf("Content-Type %q is not allowed", obj.ContentType))
	}
	if want := p.ContentDisposition; want != "" && obj.ContentDisposition != want {
		out = append(out, fmt.Sprintf("Content-Disposition %q is not the profile's %q", obj.ContentDisposition, want))
	}
	if want := p.CacheControl; want != "" && obj.CacheControl != want {
		out = append(out, fmt.Sprintf("Cache-Control %q is not the profile's %q", obj.CacheControl, want))
	}
	for name := range obj.Metadata {
		if !slices.Contains(p.MetadataKeys, strings.ToLower(name)) {
			out = append(out, fmt.Sprintf("metadata %q is not allowed", name))
		}
	}
	slices.Sort(out)
	return out
}

// Sniff detects the media type of head (an object's first bytes) and
// says why it does not fit the declared media type (lowercase, without
// parameters), or "" when it fits. The detected type fits when:
//   - it is the declared type or one of its aliases, or a type the
//     profile lists as equivalent for it;
//   - it is a kind of the declared type (JSON is a kind of text/plain),
//     unless it is a type browsers run (HTML, SVG, scripts, XML): those
//     must be declared as what they are;
//   - the detector found nothing specific and so cannot tell: plain text
//     fits a declared text type (not one browsers run) or a type the
//     detector does not know; unknown binary fits a type it does not know.
//
// With sniffing disabled for the profile or skipped for the declared
// type, or no bytes (an empty object), it detects nothing and every
// object fits.
func Sniff(rules config.Sniff, declared string, head []byte) (sniffed, reason string) {
	if !sniffs(rules, declared) || len(head) == 0 {
		return "", "" // nothing to tell from (an empty object)
	}
	detected := mimetype.Detect(head)
	sniffed = mediaType(detected.String())
	if fits(detected, declared, rules.Equivalent[declared]) {
		return sniffed, ""
	}
	return sniffed, fmt.Sprintf("content: the bytes are %s, not the declared %s", sniffed, declared)
}

// sniffs reports whether rules compare the bytes of objects declared as
// declared.
func sniffs(rules config.Sniff, declared string) bool {
	return !rules.Disabled && !slices.Contains(rules.Skip, declared)
}

// NeedsHead reports whether Check would look at obj's first bytes: it has
// some, and profile p compares the bytes of its declared type. When not,
// there is no need to read them.
func NeedsHead(p *config.Profile, obj *uploadpolicy.Object) bool {
	_, declared, err := uploadpolicy.ParseContentType(obj.ContentType)
	return err == nil && obj.Size > 0 && sniffs(p.Verify.Sniff, declared)
}

// fits applies Sniff's rules.
func fits(detected *mimetype.MIME, declared string, equivalent []string) bool {
	if detected.Is(declared) {
		return true
	}
	for _, t := range equivalent {
		if detected.Is(t) {
			return true
		}
	}
	// Bytes that are, or are a kind of, a type browsers run (XML in all
	// its forms, say) fit only what the rules above accept.
	for m := detected; m != nil; m = m.Parent() {
		if config.ActiveContentType(mediaType(m.String())) {
			return false
		}
	}
	for m := detected.Parent(); m != nil; m = m.Parent() {
		if m.Is(declared) {
			return true
		}
	}
	switch {
	case detected.Is("text/plain"):
		// Text the detector cannot name (CSV with one column, say) fits
		// any declared text type, and types it does not know.
		return strings.HasPrefix(declared, "text/") && !config.ActiveContentType(declared) || mimetype.Lookup(declared) == nil
	case detected.Is("application/octet-stream"):
		return mimetype.Lookup(declared) == nil
	}
	return false
}

// mediaType drops the parameters of a detected type ("text/plain;
// charset=utf-8" is text/plain).
func mediaType(t string) string {
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		return mt
	}
	return t
}
