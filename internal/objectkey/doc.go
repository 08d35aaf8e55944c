// Package objectkey holds the rules for S3 object keys that gatepost signs:
// which keys a caller may ask for, how a key is placed under a profile's
// prefix, and how generated keys are built from a file name.
//
// The rules are stricter than S3's own: S3 accepts almost any UTF-8 string,
// but keys with path tricks, control characters or policy variables confuse
// the tools that later read the bucket, so gatepost refuses them up front.
package objectkey
