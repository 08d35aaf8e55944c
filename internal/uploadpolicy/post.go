package uploadpolicy

import (
	"maps"
	"slices"
	"time"
)

// MetadataPrefix is the form-field and header prefix of S3 user metadata.
const MetadataPrefix = "x-amz-meta-"

// Post is the complete decision for one presigned POST upload.
type Post struct {
	// Bucket receives the object.
	Bucket string
	// Key is the exact object key.
	Key string
	// ContentType is the exact Content-Type the upload must declare.
	ContentType string
	// MinBytes and MaxBytes bound the object size, inclusive.
	MinBytes, MaxBytes int64
	// Metadata maps lowercase user-metadata names (without x-amz-meta-) to
	// their exact values.
	Metadata map[string]string
	// ChecksumSHA256 is the base64 SHA-256 the object must have, or "".
	ChecksumSHA256 string
	// Headers are the pinned standard headers (Cache-Control,
	// Content-Disposition); Content-Encoding is always pinned empty.
	Headers Headers
	// Expires is how long the policy is accepted after signing.
	Expires time.Duration
}

// Headers are standard object headers a profile pins on every upload.
// Empty values are not pinned.
type Headers struct {
	CacheControl       string
	ContentDisposition string
}

// pins yields the exact (name, value) pairs of the policy after key,
// Content-Type and the size range, in policy order (see Document).
func (p *Post) pins(yield func(name, value string) bool) {
	if v := p.Headers.CacheControl; v != "" && !yield("Cache-Control", v) {
		return
	}
	if v := p.Headers.ContentDisposition; v != "" && !yield("Content-Disposition", v) {
		return
	}
	// Always pinned empty: a store keeps whatever Content-Encoding a form
	// carries (SeaweedFS even one the policy does not cover), and a small
	// gzip stored as such is inflated by every browser that reads it.
	if !yield("Content-Encoding", "") {
		return
	}
	if len(p.Metadata) <= 1 {
		// Nothing to sort, so nothing to allocate: the usual case.
		for name, value := range p.Metadata {
			if !yield(MetadataPrefix+name, value) {
				return
			}
		}
	} else {
		for _, name := range slices.Sorted(maps.Keys(p.Metadata)) {
			if !yield(MetadataPrefix+name, p.Metadata[name]) {
				return
			}
		}
	}
	if p.ChecksumSHA256 != "" {
		if !yield("x-amz-checksum-algorithm", "SHA256") {
			return
		}
		yield("x-amz-checksum-sha256", p.ChecksumSHA256)
	}
}

// Signed is a presigned POST: where to send it, what to send, and until
// when it is accepted.
type Signed struct {
	// URL is the address to POST the multipart form to.
	URL string
	// Fields are every form field to send before the file.
	Fields map[string]string
	// ExpiresAt is the policy's expiration, as written in the policy.
	ExpiresAt time.Time
}

// Put is the complete decision for one presigned PUT upload.
type Put struct {
	Bucket, Key, ContentType string
	// ContentLength is the exact size.
	ContentLength int64
	// Metadata as in Post.
	Metadata map[string]string
	// ChecksumSHA256 is the base64 SHA-256 the object must have, or "".
	ChecksumSHA256 string
	// Headers are the pinned standard headers.
	Headers Headers
	// IfAbsent makes the store refuse the PUT when the key already holds an
	// object (If-None-Match: *).
	IfAbsent bool
	// Expires is how long the URL is accepted after signing.
	Expires time.Duration
}

// SignedRequest is a presigned HTTP request.
type SignedRequest struct {
	// Method and URL of the request.
	Method, URL string
	// Headers the request must carry exactly (Host excluded).
	Headers map[string]string
	// ExpiresAt is when the signature stops being accepted.
	ExpiresAt time.Time
}

// Multipart is the decision for one multipart upload.
type Multipart struct {
	Bucket, Key, ContentType string
	// Metadata as in Post.
	Metadata map[string]string
	// TotalSize is the declared size of the whole object.
	TotalSize int64
	// PartSize is the size of every part but the last.
	PartSize int64
	// Headers are the pinned standard headers of the object.
	Headers Headers
}

// Part is one uploaded part as the store lists it.
type Part struct {
	Number int32
	Size   int64
	ETag   string
}

// Object is what the store says about a stored object.
type Object struct {
	Size               int64
	ContentType        string
	CacheControl       string
	ContentDisposition string
	ETag               string
	ChecksumSHA256     string
	LastModified       time.Time
	Metadata           map[string]string
}
