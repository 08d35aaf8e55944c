package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// HeadReader reads an object's first bytes, as objectstore.Store does.
type HeadReader interface {
	ReadHead(ctx context.Context, bucket, key, etag string, n int64) ([]byte, error)
}

// UnreadableReason is the reason of an object whose bytes gatepost may not
// read.
const UnreadableReason = "content: gatepost may not read its bytes (an encryption key or storage class it cannot use), so they cannot be checked"

// Inspect is Check with the first bytes read from the store when the
// profile sniffs them (one ranged GET of version obj.ETag at
// bucket/key). Bytes gatepost may not read are a reason; an object
// replaced meanwhile is objectstore.ErrChanged; any other failure to read
// is returned as it is: no verdict.
func Inspect(ctx context.Context, r HeadReader, p *config.Profile, d Declared, bucket, key string, obj *uploadpolicy.Object) (Verdict, error) {
	var head []byte
	unreadable := false
	if NeedsHead(p, obj) {
		var err error
		head, err = r.ReadHead(ctx, bucket, key, obj.ETag, HeadBytes)
		switch {
		case errors.Is(err, objectstore.ErrUnreadable):
			unreadable = true
		case err != nil:
			return Verdict{}, fmt.Errorf("reading the start of the object: %w", err)
		}
	}
	v := Check(p, d, obj, head)
	if unreadable {
		v.Reasons = append(v.Reasons, UnreadableReason)
		slices.Sort(v.Reasons)
	}
	return v, nil
}
