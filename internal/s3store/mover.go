package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

var _ objectstore.Mover = (*Store)(nil)

// S3's limits on copies: CopyObject copies at most 5 GiB; a multipart copy
// has at most 10,000 parts of 5 MiB to 5 GiB.
const (
	maxSingleCopyBytes = 5 << 30
	minCopyPartBytes   = 5 << 20
	maxCopyParts       = 10000
	// defaultCopyPartBytes keeps a 5 TiB object within 10,000 parts.
	defaultCopyPartBytes = 550 << 20
)

// copyParts returns when Copy switches to a multipart copy and its part
// size.
func (s *Store) copyParts() (over, part int64) {
	over, part = maxSingleCopyBytes, defaultCopyPartBytes
	if s.copyOver > 0 {
		over, part = s.copyOver, s.copyPart
	}
	return over, part
}

// CopyInParts makes Copy copy objects over over bytes in parts of part
// bytes (at least 5 MiB) instead of at S3's 5 GiB limit, so that tests
// reach the multipart path with small objects.
func (s *Store) CopyInParts(over, part int64) {
	s.copyOver, s.copyPart = over, max(part, minCopyPartBytes)
}

// Open implements objectstore.Mover: one GET conditional on the ETag.
func (s *Store) Open(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: aws.String(etag),
	})
	if err != nil {
		return nil, readError(bucket, key, err)
	}
	return out.Body, nil
}

// Delete implements objectstore.Mover.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Copy implements objectstore.Mover: a CopyObject conditional on the
// source's ETag that gives the copy obj's headers and metadata
// (MetadataDirective REPLACE: what was verified, never what the source
// may say by now; the ETag pins the bytes, not the headers), or, over
// S3's single copy limit, a multipart copy of ranges of that version
// given the same headers and metadata.
func (s *Store) Copy(ctx context.Context, bucket, from, to string, obj *uploadpolicy.Object) (string, error) {
	if over, part := s.copyParts(); obj.Size > over {
		return s.copyInParts(ctx, bucket, from, to, obj, part)
	}
	out, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(to), CopySource: aws.String(copySource(bucket, from)),
		CopySourceIfMatch: aws.String(obj.ETag), MetadataDirective: types.MetadataDirectiveReplace,
		ContentType: optional(obj.ContentType), ContentDisposition: optional(obj.ContentDisposition),
		CacheControl: optional(obj.CacheControl), Metadata: obj.Metadata,
	})
	if err != nil {
		return "", copyError(bucket, from, to, err)
	}
	if out.CopyObjectResult == nil {
		return "", fmt.Errorf("copy s3://%s/%s to %s: the store's answer has no ETag", bucket, from, to)
	}
	return aws.ToString(out.CopyObjectResult.ETag), nil
}

// copyInParts copies version obj.ETag of from to key in parts of at
// least part bytes (more when 10,000 would not hold it), and aborts the
// copy when a part fails, so that no parts are left behind.
func (s *Store) copyInParts(ctx context.Context, bucket, from, key string, obj *uploadpolicy.Object, part int64) (etag string, err error) {
	source := copySource(bucket, from)
	part = max(part, (obj.Size+maxCopyParts-1)/maxCopyParts)
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		ContentType: optional(obj.ContentType), ContentDisposition: optional(obj.ContentDisposition),
		CacheControl: optional(obj.CacheControl), Metadata: obj.Metadata,
	})
	if err != nil {
		return "", fmt.Errorf("copy %s to s3://%s/%s: start: %w", source, bucket, key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// The caller's context may be what ended; the abort gets its own.
		abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.AbortMultipart(abortCtx, bucket, key, aws.ToString(created.UploadId))
	}()
	var parts []types.CompletedPart
	for n, start := int32(1), int64(0); start < obj.Size; n, start = n+1, start+part {
		end := min(start+part, obj.Size) - 1
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: created.UploadId, PartNumber: aws.Int32(n),
			CopySource: aws.String(source), CopySourceIfMatch: aws.String(obj.ETag),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
		})
		if err != nil {
			return "", copyError(bucket, from, key, err)
		}
		if out.CopyPartResult == nil {
			return "", fmt.Errorf("copy %s to s3://%s/%s: part %d: the store's answer has no ETag", source, bucket, key, n)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.CopyPartResult.ETag})
	}
	done, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return "", fmt.Errorf("copy %s to s3://%s/%s: complete: %w", source, bucket, key, err)
	}
	return aws.ToString(done.ETag), nil
}

// copySource is the x-amz-copy-source of bucket/key: each path segment
// percent-encoded, as S3 requires, and "+" too (AWS reads a bare "+" there
// as a space, so "a+b" would copy "a b").
func copySource(bucket, key string) string {
	segments := strings.Split(bucket+"/"+key, "/")
	for i, seg := range segments {
		segments[i] = strings.ReplaceAll(url.PathEscape(seg), "+", "%2B")
	}
	return strings.Join(segments, "/")
}

// copyError is a failed copy: the source gone or replaced is
// objectstore.ErrChanged.
func copyError(bucket, from, to string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "NoSuchKey", "NotFound":
			err = objectstore.ErrChanged
		}
	}
	return fmt.Errorf("copy s3://%s/%s to %s: %w", bucket, from, to, err)
}
