package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// NoCopyETag is the value gatepost signs as x-amz-copy-source-if-match on
// every PUT and UploadPart URL. No object has this ETag (ETags are hex
// digests), so a store that honours an unsigned x-amz-copy-source on a
// presigned request (MinIO does) refuses the copy with 412, while a plain
// upload, which has no copy source, ignores the header.
const NoCopyETag = `"gatepost-no-copy"`

// emptyPins are headers signed empty into every PUT and UploadPart URL,
// so that a holder cannot add them unsigned on a store that would honour
// them (SigV4 lets a client add any header it did not sign, and stores
// act on some that are not x-amz-*):
//   - Content-Encoding: every store keeps an unsigned one, so a holder
//     could store a small gzip that a browser inflates to gigabytes, or
//     aws-chunked framing;
//   - X-Seaweedfs-Extract: SeaweedFS unpacks a zip sent with "zip" into
//     objects of any name, type and size beside the key;
//   - Response-Content-Disposition: SeaweedFS stores it as the object's
//     Content-Disposition, over a pinned attachment;
//   - X-Minio-Source-Etag and X-Minio-Source-Mtime: MinIO stores them as
//     the object's ETag and Last-Modified.
//
// Stores that know none of them ignore them; an empty value is never
// stored.
var emptyPins = []string{"Content-Encoding", "X-Seaweedfs-Extract", "Response-Content-Disposition", "X-Minio-Source-Etag", "X-Minio-Source-Mtime"}

// pinned signs the emptyPins, the copy guard and, on a PUT, an empty
// x-amz-tagging (no tags; MinIO applies unsigned tags). Storage class is
// pinned through the input.
func pinned(tagging bool) func(*s3.PresignOptions) {
	return func(po *s3.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("X-Amz-Copy-Source-If-Match", NoCopyETag))
			for _, h := range emptyPins {
				o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue(h, ""))
			}
			if tagging {
				o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("X-Amz-Tagging", ""))
			}
		})
	}
}

// pinnedHeaders lists the headers every PUT URL must have signed.
var pinnedHeaders = append([]string{"Content-Length", "Content-Type", "X-Amz-Copy-Source-If-Match", "X-Amz-Tagging", "X-Amz-Storage-Class"}, emptyPins...)

// pinnedPartHeaders lists the headers every UploadPart URL must have signed
// (and Content-Length, unless the length is not pinned).
var pinnedPartHeaders = append([]string{"X-Amz-Copy-Source-If-Match"}, emptyPins...)

// expectedSigned lists every header a PUT URL for p must have signed: the
// fixed pins and those that depend on the request and profile. SignPut
// refuses to return a URL that lacks any, so a change in the SDK's signing
// rules can never silently drop a guarantee.
func expectedSigned(p *uploadpolicy.Put) []string {
	out := slices.Clone(pinnedHeaders)
	if p.Headers.CacheControl != "" {
		out = append(out, "Cache-Control")
	}
	if p.Headers.ContentDisposition != "" {
		out = append(out, "Content-Disposition")
	}
	if p.IfAbsent {
		out = append(out, "If-None-Match")
	}
	if p.ChecksumSHA256 != "" {
		out = append(out, "X-Amz-Checksum-Sha256")
	}
	for name := range p.Metadata {
		out = append(out, uploadpolicy.MetadataPrefix+name)
	}
	return out
}

// SignPut presigns a PUT with the exact Content-Length, Content-Type,
// metadata, checksum and pinned headers signed in, storage class STANDARD,
// no tags, and a guard that makes any server-side copy fail. The URL never
// outlives the credentials.
func (s *Store) SignPut(ctx context.Context, p *uploadpolicy.Put) (*uploadpolicy.SignedRequest, error) {
	if p.ContentLength < 1 {
		// SigV4 signs no Content-Length (nor Content-Type) for an empty
		// body: such a URL would accept any size.
		return nil, fmt.Errorf("presign PUT for s3://%s/%s: content length %d cannot be signed", p.Bucket, p.Key, p.ContentLength)
	}
	expires, expiresAt, err := s.clampExpiry(ctx, p.Expires)
	if err != nil {
		return nil, err
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(p.Bucket),
		Key:           aws.String(p.Key),
		ContentType:   aws.String(p.ContentType),
		ContentLength: aws.Int64(p.ContentLength),
		Metadata:      p.Metadata,
		StorageClass:  types.StorageClassStandard,
	}
	if p.ChecksumSHA256 != "" {
		in.ChecksumSHA256 = aws.String(p.ChecksumSHA256)
	}
	if v := p.Headers.CacheControl; v != "" {
		in.CacheControl = aws.String(v)
	}
	if v := p.Headers.ContentDisposition; v != "" {
		in.ContentDisposition = aws.String(v)
	}
	if p.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	req, err := s.presign.PresignPutObject(ctx, in, s3.WithPresignExpires(expires), pinned(true))
	if err != nil {
		return nil, fmt.Errorf("presign PUT for s3://%s/%s: %w", p.Bucket, p.Key, err)
	}
	for _, h := range expectedSigned(p) {
		if _, ok := req.SignedHeader[http.CanonicalHeaderKey(h)]; !ok {
			return nil, fmt.Errorf("presign PUT for s3://%s/%s: the SDK did not sign %s", p.Bucket, p.Key, h)
		}
	}
	return &uploadpolicy.SignedRequest{Method: req.Method, URL: req.URL, Headers: headers(req.SignedHeader), ExpiresAt: expiresAt}, nil
}

// headers flattens signed headers for a client, without Host (which HTTP
// clients set themselves).
func headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if strings.EqualFold(k, "Host") || len(v) == 0 {
			continue
		}
		out[k] = strings.Join(v, ",")
	}
	return out
}

// clampExpiry cuts a presigned URL's lifetime to the credentials' own.
func (s *Store) clampExpiry(ctx context.Context, want time.Duration) (time.Duration, time.Time, error) {
	creds, err := s.credentials.Retrieve(ctx)
	if err != nil {
		return 0, time.Time{}, noCredentials(err)
	}
	now := time.Now()
	expiresAt := now.Add(want)
	if creds.CanExpire && creds.Expires.Before(expiresAt) {
		expiresAt = creds.Expires
	}
	d := expiresAt.Sub(now).Truncate(time.Second)
	if d < time.Second {
		return 0, time.Time{}, objectstore.ErrCredentialsExpired
	}
	return d, now.Add(d).UTC().Truncate(time.Second), nil
}

// CreateMultipart starts a multipart upload and returns its upload id.
func (s *Store) CreateMultipart(ctx context.Context, m *uploadpolicy.Multipart) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(m.Bucket),
		Key:         aws.String(m.Key),
		ContentType: aws.String(m.ContentType),
		Metadata:    m.Metadata,
		// Set here by gatepost, so the caller can choose neither.
		StorageClass:       types.StorageClassStandard,
		CacheControl:       optional(m.Headers.CacheControl),
		ContentDisposition: optional(m.Headers.ContentDisposition),
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload s3://%s/%s: %w", m.Bucket, m.Key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// SignUploadPart presigns the UploadPart request of one part, with its exact
// Content-Length signed in (none for objectstore.AnyPartLength) and the
// guard headers, or, bare, with no header at all: only on stores measured
// or documented to refuse unsigned x-amz-* headers on presigned requests
// (AWS, SeaweedFS), where a holder cannot add a copy source. (The other
// pins guard the object's own headers, which UploadPart does not set: seen
// on both stores here, and AWS's UploadPart takes none of them.)
func (s *Store) SignUploadPart(ctx context.Context, bucket, key, uploadID string, part int32, opts objectstore.PartURL) (*uploadpolicy.SignedRequest, error) {
	if opts.Bare && !s.refusesUnsignedHeaders {
		return nil, objectstore.ErrBareUnsafe
	}
	d, expiresAt, err := s.clampExpiry(ctx, opts.Expires)
	if err != nil {
		return nil, err
	}
	in := &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID), PartNumber: aws.Int32(part),
	}
	var must []string
	presignOpts := []func(*s3.PresignOptions){s3.WithPresignExpires(d)}
	if !opts.Bare {
		must, presignOpts = pinnedPartHeaders, append(presignOpts, pinned(false))
		if opts.Size != objectstore.AnyPartLength {
			in.ContentLength = aws.Int64(opts.Size)
			must = append([]string{"Content-Length"}, must...)
		}
	}
	req, err := s.presign.PresignUploadPart(ctx, in, presignOpts...)
	if err != nil {
		return nil, fmt.Errorf("presign part %d of s3://%s/%s: %w", part, bucket, key, err)
	}
	if opts.Bare && len(req.SignedHeader) > 1 { // Host only
		return nil, fmt.Errorf("presign part %d of s3://%s/%s: the SDK signed headers into a bare URL: %v", part, bucket, key, req.SignedHeader)
	}
	for _, h := range must {
		if _, ok := req.SignedHeader[h]; !ok {
			return nil, fmt.Errorf("presign part %d of s3://%s/%s: the SDK did not sign %s", part, bucket, key, h)
		}
	}
	return &uploadpolicy.SignedRequest{Method: req.Method, URL: req.URL, Headers: headers(req.SignedHeader), ExpiresAt: expiresAt}, nil
}

// ListParts lists every uploaded part of a multipart upload.
func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) ([]uploadpolicy.Part, error) {
	var parts []uploadpolicy.Part
	p := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, storeError(err, "list parts of s3://%s/%s", bucket, key)
		}
		for _, part := range page.Parts {
			parts = append(parts, uploadpolicy.Part{
				Number: aws.ToInt32(part.PartNumber), Size: aws.ToInt64(part.Size), ETag: aws.ToString(part.ETag),
			})
		}
	}
	slices.SortFunc(parts, func(a, b uploadpolicy.Part) int { return int(a.Number - b.Number) })
	return parts, nil
}

// optional returns nil for "", else a pointer to v.
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return aws.String(v)
}

// CompleteMultipart completes an upload from the given parts and returns
// the object's ETag. With ifAbsent the store refuses (objectstore.ErrExists) when the
// key already holds an object.
func (s *Store) CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []uploadpolicy.Part, ifAbsent bool) (string, error) {
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return "", storeError(err, "complete s3://%s/%s", bucket, key)
	}
	return aws.ToString(out.ETag), nil
}

// AbortMultipart aborts an upload and frees its parts.
func (s *Store) AbortMultipart(ctx context.Context, bucket, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	if err != nil {
		return storeError(err, "abort s3://%s/%s", bucket, key)
	}
	return nil
}

// Head describes a stored object, or returns nil when there is none.
func (s *Store) Head(ctx context.Context, bucket, key string) (*uploadpolicy.Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NotFound" || apiErr.ErrorCode() == "NoSuchKey") {
			return nil, nil
		}
		return nil, fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	return &uploadpolicy.Object{
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		CacheControl:       aws.ToString(out.CacheControl),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		ETag:               aws.ToString(out.ETag),
		ChecksumSHA256:     aws.ToString(out.ChecksumSHA256),
		LastModified:       aws.ToTime(out.LastModified),
		Metadata:           out.Metadata,
	}, nil
}

// ReadHead implements objectstore.Store: one ranged GET, conditional on
// the ETag, so that the bytes are those of the version a Head described.
func (s *Store) ReadHead(ctx context.Context, bucket, key, etag string, n int64) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: aws.String(etag),
		Range: aws.String(fmt.Sprintf("bytes=0-%d", n-1)),
	})
	if err != nil {
		return nil, readError(bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, n))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// readError wraps the failure of a GET conditional on an ETag: the
// version gone or replaced is objectstore.ErrChanged, bytes the signing
// identity may not read objectstore.ErrUnreadable.
func readError(bucket, key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "NoSuchKey", "NotFound", "InvalidRange":
			// InvalidRange: empty now, so not the version a HEAD found
			// with bytes (empty ones are never read).
			return fmt.Errorf("read s3://%s/%s: %w", bucket, key, objectstore.ErrChanged)
		case "AccessDenied", "InvalidObjectState":
			return fmt.Errorf("read s3://%s/%s: %w: %s", bucket, key, objectstore.ErrUnreadable, apiErr.ErrorCode())
		}
	}
	return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
}

// storeError wraps a store error with what was being done, replacing
// NoSuchUpload with objectstore.ErrNoSuchUpload and a failed write
// condition with objectstore.ErrExists.
func storeError(err error, format string, args ...any) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchUpload":
			err = objectstore.ErrNoSuchUpload
		case "PreconditionFailed", "ConditionalRequestConflict":
			err = objectstore.ErrExists
		case "InvalidPart":
			err = objectstore.ErrPartChanged
		}
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}
