package auth

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxSegmentBytes bounds a subject used as it is in a key.
const maxSegmentBytes = 64

// KeySegment turns a subject into a key segment for a {subject} prefix.
// Subjects made only of ASCII letters, digits, '-', '_' and '.' (and not "."
// or "..") of at most 64 bytes are used as they are; any other subject
// becomes "~" plus a SHA-256 digest prefix. '~' never appears in a kept
// subject, so two different subjects never share a prefix, whatever they
// contain (slashes, look-alike Unicode, path tricks).
func KeySegment(subject string) string {
	if keepable(subject) {
		return subject
	}
	sum := sha256.Sum256([]byte(subject))
	return "~" + hex.EncodeToString(sum[:16])
}

func keepable(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > maxSegmentBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}
