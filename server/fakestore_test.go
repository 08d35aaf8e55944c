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

// fakeStore records every Post it is asked to sign and answers with
// fixedSigned, err, or by calling fn when it is set.
type fakeStore struct {
	fn  func(context.Context, *uploadpolicy.Post) (*uploadpolicy.Signed, error)
	err error

	// objects are what Head finds, by bucket/key.
	objects map[string]*uploadpolicy.Object

	mu          sync.Mutex
	posts       []*uploadpolicy.Post
	partsSigned int      // part URLs signed
	heads       []string // bucket/key of every Head
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

func (f *fakeStore) SignPut(context.Context, *uploadpolicy.Put) (*uploadpolicy.SignedRequest, error) {
	return &uploadpolicy.SignedRequest{Method: "PUT", URL: "http://127.0.0.1:9/put"}, nil
}

func (f *fakeStore) CreateMultipart(context.Context, *uploadpolicy.Multipart) (string, error) {
	return "upload-1", nil
}

func (f *fakeStore) SignUploadPart(_ context.Context, _, _, _ string, part int32, size int64, _ time.Duration) (*uploadpolicy.SignedRequest, error) {
	f.mu.Lock()
	f.partsSigned++
	f.mu.Unlock()
	return &uploadpolicy.SignedRequest{Method: "PUT", URL: "http://127.0.0.1:9/part", Headers: map[string]string{"X-Amz-Copy-Source-If-Match": `"x"`}}, nil
}

func (f *fakeStore) ListParts(context.Context, string, string, string) ([]uploadpolicy.Part, error) {
	return nil, nil
}

func (f *fakeStore) CompleteMultipart(context.Context, string, string, string, []uploadpolicy.Part, bool) (string, error) {
	return `"etag"`, nil
}

func (f *fakeStore) AbortMultipart(context.Context, string, string, string) error { return nil }

func (f *fakeStore) Head(_ context.Context, bucket, key string) (*uploadpolicy.Object, error) {
	f.mu.Lock()
	f.heads = append(f.heads, bucket+"/"+key)
	f.mu.Unlock()
	return f.objects[bucket+"/"+key], f.err
}

func (f *fakeStore) Ready(context.Context) error { return f.err }

func (f *fakeStore) signedParts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.partsSigned
}
