// Package objectstore is what gatepost's service needs from an object
// store: the Store interface, and the errors a Store returns that the
// service answers callers with. The service (package server) depends on
// this package only; the S3 adapter (package s3store) implements it, and
// unit tests use fakes.
package objectstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// AnyPartLength, as SignUploadPart's size, signs a part URL that pins no
// length (a multipart upload without a declared size): the store takes a
// part of any length up to its own 5 GiB limit.
const AnyPartLength int64 = -1

// PartURL says how to sign one UploadPart URL.
type PartURL struct {
	// Size is the part's exact size, or AnyPartLength.
	Size int64
	// Expires is the URL's lifetime.
	Expires time.Duration
	// Bare signs no request header at all, for clients that cannot send
	// any (Uppy 6): no pinned length, and none of the headers that guard
	// against a holder's own headers. Only stores that refuse unsigned
	// x-amz-* headers on presigned requests take it safely.
	Bare bool
}

// Store signs uploads for, and answers questions about, one object store.
// Methods that fail for a reason in this package wrap its error, so that
// errors.Is finds it.
type Store interface {
	// SignPost signs a POST policy and returns its URL and form fields.
	SignPost(ctx context.Context, p *uploadpolicy.Post) (*uploadpolicy.Signed, error)
	// SignPut presigns a PUT of one object.
	SignPut(ctx context.Context, p *uploadpolicy.Put) (*uploadpolicy.SignedRequest, error)
	// CreateMultipart starts a multipart upload and returns its id.
	CreateMultipart(ctx context.Context, m *uploadpolicy.Multipart) (string, error)
	// SignUploadPart presigns the upload of one part (ErrBareUnsafe for a
	// bare URL this store cannot take safely).
	SignUploadPart(ctx context.Context, bucket, key, uploadID string, part int32, opts PartURL) (*uploadpolicy.SignedRequest, error)
	// ListParts lists the parts uploaded so far (ErrNoSuchUpload when the
	// upload is gone).
	ListParts(ctx context.Context, bucket, key, uploadID string) ([]uploadpolicy.Part, error)
	// CompleteMultipart completes the upload from parts and returns the
	// object's ETag; with ifAbsent it fails with ErrExists when the key
	// already holds an object.
	CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []uploadpolicy.Part, ifAbsent bool) (string, error)
	// AbortMultipart aborts the upload and frees its parts.
	AbortMultipart(ctx context.Context, bucket, key, uploadID string) error
	// Head returns an object's metadata, or nil when there is none.
	Head(ctx context.Context, bucket, key string) (*uploadpolicy.Object, error)
	// ReadHead returns up to n bytes from the start of the object's
	// version etag (ErrChanged when the key holds another version now, or
	// nothing).
	ReadHead(ctx context.Context, bucket, key, etag string, n int64) ([]byte, error)
	// Ready reports whether the store can sign now (credentials at hand).
	Ready(ctx context.Context) error
}

var (
	// ErrNoSuchUpload: the multipart upload does not exist (completed,
	// aborted, or never started).
	ErrNoSuchUpload = errors.New("no such multipart upload")
	// ErrBareUnsafe is a bare part URL asked of a store that honours an
	// unsigned x-amz-copy-source (MinIO measured, unknown stores assumed):
	// without its signed guard, the URL's holder could copy into the upload
	// any object gatepost's credentials can read.
	ErrBareUnsafe = errors.New("this store would let a part URL that pins no headers copy other objects")
	// ErrExists: a conditional write found an object at the key.
	ErrExists = errors.New("an object already exists at this key")
	// ErrPartChanged: completing named a part the store no longer holds
	// as listed (it was uploaded again in between).
	ErrPartChanged = errors.New("a part changed while the upload was completed")
	// ErrUnreadable: the object exists but its bytes cannot be read (a key
	// the signing identity may not decrypt, an archived storage class).
	ErrUnreadable = errors.New("the object's bytes cannot be read")
	// ErrChanged: the object is not the version asked for any more.
	ErrChanged = errors.New("the object changed while it was read")
	// ErrNoCredentials: no signing credentials could be obtained.
	ErrNoCredentials = errors.New("no signing credentials")
	// ErrCredentialsExpired: the signing credentials have expired, or
	// expire before anything signed now could be used.
	ErrCredentialsExpired = errors.New("signing credentials have expired")
)
