package uploadpolicy

import (
	"errors"
	"fmt"
	"mime"
	"strings"
)

// maxContentTypeBytes bounds a requested Content-Type; real ones are short.
const maxContentTypeBytes = 255

// ParseContentType checks that ct names one concrete media type, optionally
// with parameters, and returns it in canonical form (lowercase type and
// parameter names, as mime.FormatMediaType writes it) together with the bare
// media type for matching against an allow-list. Wildcards are refused.
func ParseContentType(ct string) (canonical, mediaType string, err error) {
	if ct == "" {
		return "", "", errors.New("required")
	}
	if len(ct) > maxContentTypeBytes {
		return "", "", fmt.Errorf("is %d bytes; at most %d are allowed", len(ct), maxContentTypeBytes)
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c > 0x7e {
			return "", "", fmt.Errorf("contains a byte outside printable ASCII at %d", i)
		}
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a valid media type", ct)
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "" || sub == "" || strings.Contains(sub, "/") {
		return "", "", fmt.Errorf("%q is not of the form type/subtype", ct)
	}
	if typ == "*" || sub == "*" {
		return "", "", fmt.Errorf("%q is a wildcard; ask for one concrete type", ct)
	}
	canonical = mime.FormatMediaType(mt, params)
	if canonical == "" {
		return "", "", fmt.Errorf("%q is not a valid media type", ct)
	}
	return canonical, mt, nil
}

// ContentTypeAllowed reports whether the bare media type mt (lowercase, as
// ParseContentType returns it) matches one of the allowed media ranges:
// "type/subtype", "type/*" or "*/*".
func ContentTypeAllowed(mt string, allowed []string) bool {
	typ, _, _ := strings.Cut(mt, "/")
	for _, a := range allowed {
		switch {
		case a == "*/*", a == mt:
			return true
		case strings.HasSuffix(a, "/*") && a[:len(a)-2] == typ:
			return true
		}
	}
	return false
}
