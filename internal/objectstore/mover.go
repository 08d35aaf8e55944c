package objectstore

import (
	"context"
	"io"

	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// Mover is what verifying an upload after it lands needs from a store
// besides Store's HEAD and ranged read: the whole bytes of one version
// (for a malware scan), a server-side copy (promoting a staged upload to
// its final key, or moving a rejected one to quarantine) and a delete.
// It is a separate interface because the signing paths never need it.
type Mover interface {
	// Open streams the bytes of the object's version etag (ErrChanged when
	// the key holds another version now, or nothing; ErrUnreadable when
	// its bytes cannot be read). The caller closes the reader.
	Open(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error)
	// Copy copies version obj.ETag of from to the key to in the same
	// bucket, giving the copy obj's Content-Type, Content-Disposition,
	// Cache-Control and metadata (not the source's, which may have been
	// replaced with the same bytes), and returns the copy's ETag (ErrChanged when from
	// holds another version now, or nothing). Objects over the store's
	// single-copy limit are copied in parts.
	Copy(ctx context.Context, bucket, from, to string, obj *uploadpolicy.Object) (string, error)
	// Delete removes the object at key (nothing when there is none).
	Delete(ctx context.Context, bucket, key string) error
}
