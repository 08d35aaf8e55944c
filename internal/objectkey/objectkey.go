package objectkey

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxKeyBytes is the longest object key S3 accepts, in bytes of UTF-8.
const MaxKeyBytes = 1024

// maxNameBytes bounds the file-name part of a generated key, so that the
// UUID and the prefix always fit.
const maxNameBytes = 128

// Check reports whether key is acceptable as (part of) an object key. It
// returns an error that describes the first problem found, phrased to follow
// the field name in a message such as "key: <problem>".
func Check(key string) error {
	if key == "" {
		return errors.New("must not be empty")
	}
	if !utf8.ValidString(key) {
		return errors.New("must be valid UTF-8")
	}
	for i, r := range key {
		if bad := badRune(r); bad != "" {
			return fmt.Errorf("contains %s at byte %d", bad, i)
		}
	}
	switch {
	case strings.HasPrefix(key, "/"):
		return errors.New("must not start with /")
	case strings.HasSuffix(key, "/"):
		return errors.New("must name an object, not end with /")
	case strings.Contains(key, "//"):
		return errors.New("must not contain //")
	case strings.Contains(key, `\`):
		return errors.New(`must not contain a backslash`)
	case strings.Contains(key, "${"):
		return errors.New("must not contain ${ (S3 policy variables)")
	}
	for _, segment := range strings.Split(key, "/") {
		if segment == "." || segment == ".." {
			return fmt.Errorf("must not contain a %q path segment", segment)
		}
	}
	return nil
}

// CheckPrefix reports whether prefix is acceptable as a profile's key prefix.
// An empty prefix is allowed; a non-empty one follows the key rules except
// that it may (and usually does) end with a slash.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) >= MaxKeyBytes {
		return fmt.Errorf("is %d bytes; it must leave room for a key within S3's %d", len(prefix), MaxKeyBytes)
	}
	// Join puts the key right after the prefix, so a trailing "$" would
	// join a key starting with "{" into a "${" policy variable that Check
	// refuses in either part alone.
	if strings.HasSuffix(prefix, "$") {
		return errors.New("must not end with $")
	}
	if strings.HasSuffix(prefix, "//") {
		return errors.New("must not contain //")
	}
	// A trailing slash is fine for a prefix; check the rest as a key.
	trimmed := strings.TrimSuffix(prefix, "/")
	if trimmed == "" {
		return errors.New("must not be just /")
	}
	return Check(trimmed)
}

// badRune names the kind of a character that may not appear in a key, or
// returns "" if r is allowed. Besides control characters this refuses
// invisible format characters (bidirectional overrides, zero-width joiners),
// line and paragraph separators, private-use and non-characters: they make a
// key look like another one.
func badRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "an invalid character (U+FFFD)"
	case unicode.IsControl(r):
		return fmt.Sprintf("a control character (%U)", r)
	case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return fmt.Sprintf("an invisible formatting character (%U)", r)
	case unicode.In(r, unicode.Co), isNonCharacter(r):
		return fmt.Sprintf("a private-use or non-character (%U)", r)
	}
	return ""
}

func isNonCharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// Join places a caller's key under prefix. A key that already starts with
// the prefix is used as is, so asking again with a key that gatepost
// returned gives the same key. It returns an error if the result is longer
// than S3 allows. The result always starts with prefix, and Check has
// refused every path trick that could lead out of it.
func Join(prefix, key string) (string, error) {
	full := key
	if !strings.HasPrefix(key, prefix) {
		full = prefix + key
	}
	if len(full) > MaxKeyBytes {
		return "", fmt.Errorf("is %d bytes with the prefix %q; S3 allows %d", len(full), prefix, MaxKeyBytes)
	}
	return full, nil
}

// Generate builds a key under prefix from a fresh random UUID and a
// sanitised form of the file name in name (its last path segment). The name
// must already have passed Check, or be empty.
func Generate(prefix, name string) (string, error) {
	id := uuid.NewString()
	clean := SanitizeName(name)
	key := id
	if clean != "" {
		key = id + "-" + clean
	}
	// Always prepend: unlike a caller's key, a generated one never already
	// carries the prefix, even if the UUID happens to start like it.
	full := prefix + key
	if len(full) > MaxKeyBytes {
		return "", fmt.Errorf("is %d bytes with the prefix %q; S3 allows %d", len(full), prefix, MaxKeyBytes)
	}
	return full, nil
}

// SanitizeName reduces a file name to a short, safe key segment: the last
// path segment, with every character other than ASCII letters, digits, '.',
// '-' and '_' replaced by '_', leading dots removed, and the length bounded
// while keeping a short extension.
func SanitizeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	clean := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, name)
	clean = strings.TrimLeft(clean, ".")
	if len(clean) > maxNameBytes {
		ext := path.Ext(clean)
		if len(ext) > 16 {
			ext = ""
		}
		clean = clean[:maxNameBytes-len(ext)] + ext
	}
	return clean
}
