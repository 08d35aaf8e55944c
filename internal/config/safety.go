package config

import (
	"fmt"
	"slices"
	"strings"
)

// activeTypes are the media types a browser runs as a page or a script
// when it opens them from the bucket's origin: HTML and XHTML, SVG (which
// may carry scripts), XML (which may embed XHTML), JavaScript, and
// multipart/x-mixed-replace (whose parts a browser renders, HTML ones
// included). Types ending in +xml are active too (see ActiveContentType).
var activeTypes = []string{
	"application/ecmascript",
	"application/javascript",
	"application/x-ecmascript",
	"application/x-javascript",
	"application/xhtml+xml",
	"application/xml",
	"application/xslt+xml",
	"image/svg+xml",
	"multipart/x-mixed-replace",
	"text/ecmascript",
	"text/html",
	"text/javascript",
	"text/jscript",
	"text/x-ecmascript",
	"text/x-javascript",
	"text/xml",
	"text/xsl",
}

// ActiveContentType reports whether a browser would run an object of this
// media type (lowercase, without parameters) if it were opened inline.
func ActiveContentType(mediaType string) bool {
	return slices.Contains(activeTypes, mediaType) || strings.HasSuffix(mediaType, "+xml")
}

// activeTypesIn lists the active types an allowed pattern ("type/sub",
// "type/*" or "*/*") admits; for a wildcard, the known ones (any other
// "+xml" type it admits is refused at request time unless accepted by
// name: see AcceptsActive).
func activeTypesIn(pattern string) []string {
	if !strings.HasSuffix(pattern, "/*") {
		if ActiveContentType(pattern) {
			return []string{pattern}
		}
		return nil
	}
	var out []string
	prefix := strings.TrimSuffix(pattern, "*")
	for _, t := range activeTypes {
		if pattern == "*/*" || strings.HasPrefix(t, prefix) {
			out = append(out, t)
		}
	}
	return out
}

// AcceptsActive reports whether the profile accepts an upload of an
// active media type: its Content-Disposition is attachment, or it accepts
// the type by name.
func (p *Profile) AcceptsActive(mediaType string) bool {
	return attachmentDisposition(p.ContentDisposition) || slices.Contains(p.ActiveContentTypes, mediaType)
}

// dispositionType returns the type of a Content-Disposition value
// ("attachment", "inline", ...), lowercase, without its parameters.
func dispositionType(v string) string {
	kind, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(kind))
}

// attachmentDisposition reports whether a Content-Disposition value makes
// browsers download rather than display.
func attachmentDisposition(v string) bool { return dispositionType(v) == "attachment" }

// headerValueOK accepts a value gatepost can sign into a header and a
// POST policy: printable ASCII, no leading or trailing spaces, at most 256
// bytes.
func headerValueOK(v string) bool {
	if v == "" || len(v) > 256 || strings.TrimSpace(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// validateSafety checks the settings that keep a profile from handing out
// credentials that are more than "these bytes at this key": pinned
// headers, active content types, overwriting and where {subject} sits.
func (p *Profile) validateSafety(at string) []error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", at, setting, fmt.Sprintf(format, args...)))
	}
	if v := p.ContentDisposition; v != "" {
		if kind := dispositionType(v); !headerValueOK(v) || (kind != "attachment" && kind != "inline") {
			bad("content_disposition", "%q must be attachment or inline (optionally with parameters), printable ASCII, at most 256 bytes", v)
		}
	}
	if v := p.CacheControl; v != "" && !headerValueOK(v) {
		bad("cache_control", "%q must be printable ASCII without leading or trailing spaces, at most 256 bytes", v)
	}
	if strings.HasPrefix(p.KeyPrefix, subjectPlaceholder) {
		bad("key_prefix", "%s may not be the first segment: a subject could then be named like any other prefix in the bucket (start with a fixed segment, for example \"users/%s/\")", subjectPlaceholder, subjectPlaceholder)
	}
	if !p.MayOverwrite() && p.Allows(MethodPost) {
		bad("overwrite", "false cannot be enforced on POST uploads (a POST policy cannot say \"only if absent\"); set methods: [put, multipart]")
	}
	for _, t := range p.ActiveContentTypes {
		switch {
		case !ActiveContentType(t):
			bad("active_content_types", "%q is not a type browsers run; list only the active types you accept", t)
		case !slices.ContainsFunc(p.ContentTypes, func(allowed string) bool { return slices.Contains(activeTypesIn(allowed), t) }):
			bad("active_content_types", "%q is not allowed by content_types", t)
		}
	}
	if attachmentDisposition(p.ContentDisposition) {
		return errs
	}
	for _, allowed := range p.ContentTypes {
		var unaccepted []string
		for _, t := range activeTypesIn(allowed) {
			if !slices.Contains(p.ActiveContentTypes, t) {
				unaccepted = append(unaccepted, t)
			}
		}
		if len(unaccepted) > 0 {
			bad("content_types", "%q admits %s, which a browser runs as a page or script on the bucket's origin; "+
				"pin content_disposition: attachment, list only the types you need (for example text/plain), or accept them by name in active_content_types",
				allowed, summarise(unaccepted))
		}
	}
	return errs
}

// summarise lists at most four names and counts the rest.
func summarise(names []string) string {
	if len(names) <= 4 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:4], ", "), len(names)-4)
}
