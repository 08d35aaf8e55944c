package config

import (
	"fmt"
	"strings"
)

// overlappingProfiles refuses two profiles whose key spaces meet in one
// bucket: a key one of them could issue lies under the other's prefix too
// (for the same caller), so GetUpload on one would read the other's
// objects and fresh credentials of one would overwrite them. names are the
// profile names in a fixed order.
func overlappingProfiles(profiles map[string]Profile, names []string) []error {
	var errs []error
	for i, a := range names {
		for _, b := range names[i+1:] {
			pa, pb := profiles[a], profiles[b]
			if pa.Bucket != pb.Bucket || !prefixesMeet(pa.KeyPrefix, pb.KeyPrefix) {
				continue
			}
			errs = append(errs, fmt.Errorf("profiles.%s.key_prefix: %q meets profiles.%s.key_prefix %q in bucket %s: "+
				"one caller could read and overwrite the other profile's objects; give each profile its own prefix (for example %q and %q)",
				b, pb.KeyPrefix, a, pa.KeyPrefix, pa.Bucket, a+"/", b+"/"))
		}
	}
	return errs
}

// prefixesMeet reports whether some key starts with both prefixes, when
// each {subject} (always a whole segment) may stand for any segment.
//
// Written here because it is a question about gatepost's own prefix
// syntax. Both prefixes are compared segment by segment; the last piece
// of each (after its final "/", possibly empty) may be only the start of
// a segment.
func prefixesMeet(a, b string) bool {
	sa, sb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; ; i++ {
		lastA, lastB := i == len(sa)-1, i == len(sb)-1
		x, y := sa[i], sb[i]
		switch {
		case lastA && lastB:
			return segmentStartsMeet(x, y)
		case lastA:
			// x is only the start of a segment; y is a whole one.
			return y == subjectPlaceholder || x == subjectPlaceholder || strings.HasPrefix(y, x)
		case lastB:
			return x == subjectPlaceholder || y == subjectPlaceholder || strings.HasPrefix(x, y)
		case x == y || x == subjectPlaceholder || y == subjectPlaceholder:
			continue
		default:
			return false
		}
	}
}

// segmentStartsMeet reports whether two segment starts can begin the same
// segment.
func segmentStartsMeet(x, y string) bool {
	return x == subjectPlaceholder || y == subjectPlaceholder || strings.HasPrefix(x, y) || strings.HasPrefix(y, x)
}

// ProfileOf names the profile whose key space holds key in bucket (start-up
// refuses profiles whose spaces meet, so there is at most one), and the
// segment that stood for {subject} in its prefix ("" when it has none);
// ok is false for a key outside every profile's space, which a store
// event about it, say, must not act on.
func (c *Config) ProfileOf(bucket, key string) (name, subjectSegment string, ok bool) {
	for _, n := range sortedNames(c.Profiles) {
		p := c.Profiles[n]
		if p.Bucket != bucket {
			continue
		}
		if seg, match := underPrefix(p.KeyPrefix, key); match {
			return n, seg, true
		}
	}
	return "", "", false
}

// underPrefix reports whether key lies under prefix, where {subject} (a
// whole segment) stands for any one non-empty segment, and returns that
// segment.
func underPrefix(prefix, key string) (subjectSegment string, ok bool) {
	for {
		before, after, found := strings.Cut(prefix, subjectPlaceholder)
		if !found {
			return subjectSegment, strings.HasPrefix(key, prefix)
		}
		if !strings.HasPrefix(key, before) {
			return "", false
		}
		key = key[len(before):]
		seg, rest, slash := strings.Cut(key, "/")
		if seg == "" || !slash && after != "" {
			return "", false
		}
		subjectSegment = seg
		key, prefix = "/"+rest, after
		if !slash {
			key = ""
		}
	}
}
