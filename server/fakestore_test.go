package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

var _ objectstore.Store = (*fakeStore)(nil)

// fixedSigned is what the fake signer returns.
var fixedSigned = uploadpolicy.Signed{
	URL:       "http://127.0.0.1:9/uploads",
	Fields:    map[string]string{"key": "from-the-signer", "policy": "cG9saWN5", "X-Amz-Signature": "abc"},
	ExpiresAt: time.Date(2026, 11, 20, 12, 30, 0, 0, time.UTC),
}

// fakeStore records every request it is asked to sign or send and
// answers with fixed values, err, or by calling fn (POST) when it is set.
type fakeStore struct {
	fn  func(context.Context, *uploadpolicy.Post) (*uploadpolicy.Signed, error)
	err error

	// objects are what Head finds, by bucket/key.
	objects map[string]*uploadpolicy.Object
	// contents are the objects' bytes, by bucket/key (none: empty);
	// changed objects are replaced between Head and ReadHead.
	contents map[string][]byte
	changed  map[string]bool
	// unreadable objects answer ReadHead with ErrUnreadable.
	unreadable map[string]bool
	// parts are what ListParts finds; existing makes CompleteMultipart
	// answer ErrExists when it is asked not to overwrite.
	parts    []uploadpolicy.Part
	existing bool
	// completeErr, when set, is what CompleteMultipart answers.
	completeErr error

	mu          sync.Mutex
	posts       []*uploadpolicy.Post
	puts        []*uploadpolicy.Put
	multiparts  []*uploadpolicy.Multipart
	partSizes   []int64         // the size of every part URL signed
	partExpires []time.Duration // the lifetime of every part URL signed
	partsSigned int             // part URLs signed
	completed   []string        // bucket/key of every completed upload
	aborted     []string        // bucket/key of every aborted upload
	heads       []string        // bucket/key of every Head
	bareUnsafe  bool            // refuse bare part URLs, as MinIO's store would
	abortErr    error           // what AbortMultipart answers
}

func (f *fakeStore) SignPost(ctx context.Context, p *uploadpolicy.Post) (*uploadpolicy.Signed, error) {
	f.mu.Lock()
	f.posts = append(f.posts, p)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, p)
	}
	if f.err != nil {
		return nil, f.err
	}
	signed := fixedSigned
	signed.Fields = cloneMap(fixedSigned.Fields)
	return &signed, nil
}

func (f *fakeStore) calls() []*uploadpolicy.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.posts)
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (f *fakeStore) SignPut(_ context.Context, p *uploadpolicy.Put) (*uploadpolicy.SignedRequest, error) {
	f.mu.Lock()
	f.puts = append(f.puts, p)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return &uploadpolicy.SignedRequest{
		Method: "PUT", URL: "http://127.0.0.1:9/put", Headers: map[string]string{"Content-Type": p.ContentType},
		ExpiresAt: fixedSigned.ExpiresAt,
	}, nil
}

func (f *fakeStore) CreateMultipart(_ context.Context, m *uploadpolicy.Multipart) (string, error) {
	f.mu.Lock()
	f.multiparts = append(f.multiparts, m)
	f.mu.Unlock()
	return "upload-1", f.err
}

func (f *fakeStore) SignUploadPart(_ context.Context, _, _, _ string, part int32, opts objectstore.PartURL) (*uploadpolicy.SignedRequest, error) {
	if opts.Bare && f.bareUnsafe {
		return nil, objectstore.ErrBareUnsafe
	}
	f.mu.Lock()
	f.partsSigned++
	f.partSizes = append(f.partSizes, opts.Size)
	f.partExpires = append(f.partExpires, opts.Expires)
	f.mu.Unlock()
	return &uploadpolicy.SignedRequest{Method: "PUT", URL: "http://127.0.0.1:9/part", Headers: map[string]string{"X-Amz-Copy-Source-If-Match": `"x"`}}, nil
}

func (f *fakeStore) ListParts(context.Context, string, string, string) ([]uploadpolicy.Part, error) {
	return slices.Clone(f.parts), f.err
}

func (f *fakeStore) CompleteMultipart(_ context.Context, bucket, key, _ string, _ []uploadpolicy.Part, ifAbsent bool) (string, error) {
	if f.existing && ifAbsent {
		return "", objectstore.ErrExists
	}
	if f.completeErr != nil {
		return "", f.completeErr
	}
	f.mu.Lock()
	f.completed = append(f.completed, bucket+"/"+key)
	f.mu.Unlock()
	return `"etag"`, nil
}

func (f *fakeStore) AbortMultipart(_ context.Context, bucket, key, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.abortErr != nil {
		return f.abortErr
	}
	f.aborted = append(f.aborted, bucket+"/"+key)
	return nil
}

func (f *fakeStore) Head(_ context.Context, bucket, key string) (*uploadpolicy.Object, error) {
	f.mu.Lock()
	f.heads = append(f.heads, bucket+"/"+key)
	f.mu.Unlock()
	return f.objects[bucket+"/"+key], f.err
}

// ReadHead returns the first n bytes of the object's content (see
// contents), if its ETag is still etag.
func (f *fakeStore) ReadHead(_ context.Context, bucket, key, etag string, n int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	obj := f.objects[bucket+"/"+key]
	if f.unreadable[bucket+"/"+key] {
		return nil, objectstore.ErrUnreadable
	}
	if obj == nil || obj.ETag != etag || f.changed[bucket+"/"+key] {
		return nil, objectstore.ErrChanged
	}
	b := f.contents[bucket+"/"+key]
	return b[:min(int64(len(b)), n)], nil
}

func (f *fakeStore) Ready(context.Context) error { return f.err }

func (f *fakeStore) signedParts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.partsSigned
}
