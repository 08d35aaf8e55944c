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
	// Expires is how long the policy is accepted after signing.
	Expires time.Duration
}

// Conditions returns the policy conditions that pin this upload, besides
// the algorithm, credential, date, bucket and security-token conditions
// that the signer adds itself. The key is pinned exactly.
func (p *Post) Conditions() []any {
	conds := make([]any, 0, 3+len(p.Metadata))
	conds = append(conds,
		map[string]string{"key": p.Key},
		map[string]string{"Content-Type": p.ContentType},
		[]any{"content-length-range", p.MinBytes, p.MaxBytes},
	)
	for _, name := range slices.Sorted(maps.Keys(p.Metadata)) {
		conds = append(conds, map[string]string{MetadataPrefix + name: p.Metadata[name]})
	}
	return conds
}

// Fields returns the form fields that satisfy Conditions, other than key
// (which the signer returns with its own fields).
func (p *Post) Fields() map[string]string {
	fields := make(map[string]string, 1+len(p.Metadata))
	fields["Content-Type"] = p.ContentType
	for name, value := range p.Metadata {
		fields[MetadataPrefix+name] = value
	}
	return fields
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
