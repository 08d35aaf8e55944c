package uploader

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// PartsPerCall is the most part URLs asked for in one PresignUploadParts
// call. Each URL costs one request of the caller's rate limit, so a batch
// must stay within the limit's burst; batches are also asked for just
// before their parts go up, so that no URL waits long enough to expire.
const PartsPerCall = 50

// UploadMultipart uploads size bytes from r (which must support ReadAt) as
// a multipart upload with up to parallel parts at once. On failure the
// upload is aborted.
func (c *Client) UploadMultipart(ctx context.Context, req *gatepostv1.CreateMultipartUploadRequest, r io.ReaderAt, parallel int, progress func(io.Reader) io.Reader) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	up := &gatepostv1.CreateMultipartUploadResponse{}
	if err := c.call(ctx, gatepostv1.UploadService_CreateMultipartUpload_FullMethodName, req, up); err != nil {
		return nil, err
	}
	done, err := c.uploadParts(ctx, up, r, parallel, progress)
	if err != nil {
		// Free the parts; the caller's context may be cancelled already.
		_ = c.call(context.WithoutCancel(ctx), gatepostv1.UploadService_AbortMultipartUpload_FullMethodName,
			&gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}, &gatepostv1.AbortMultipartUploadResponse{})
		return nil, err
	}
	return done, nil
}

// uploadParts presigns the parts a batch at a time and hands them to
// parallel workers; the next batch is asked for when the workers have
// taken the last part of this one. The first failure stops everything.
func (c *Client) uploadParts(ctx context.Context, up *gatepostv1.CreateMultipartUploadResponse, r io.ReaderAt, parallel int, progress func(io.Reader) io.Reader) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *gatepostv1.PresignedPart)
	var wg sync.WaitGroup
	for range max(1, parallel) {
		wg.Go(func() {
			for p := range work {
				offset := int64(p.GetPartNumber()-1) * up.GetPartSize()
				var body io.Reader = io.NewSectionReader(r, offset, p.GetContentLength())
				if progress != nil {
					body = progress(body)
				}
				if err := c.putPart(ctx, p, body); err != nil {
					cancel(err) // only the first cause is kept
				}
			}
		})
	}
	c.presignParts(ctx, cancel, up, work)
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	done := &gatepostv1.CompleteMultipartUploadResponse{}
	if err := c.callRetrying(ctx, gatepostv1.UploadService_CompleteMultipartUpload_FullMethodName, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()}, done); err != nil {
		return nil, err
	}
	return done, nil
}

// presignParts asks for the part URLs in batches of PartsPerCall (fewer
// when gatepost's parts_per_call says the caller's rate allows fewer) and sends
// each part to work, until all are sent or ctx is done; a failure cancels
// ctx with its error.
func (c *Client) presignParts(ctx context.Context, cancel context.CancelCauseFunc, up *gatepostv1.CreateMultipartUploadResponse, work chan<- *gatepostv1.PresignedPart) {
	count := up.GetPartCount()
	perCall := int32(PartsPerCall)
	if n := up.GetPartsPerCall(); n > 0 && n < perCall {
		perCall = n // the caller's rate limit allows no more at once
	}
	for first := int32(1); first <= count; first += perCall {
		numbers := make([]int32, 0, perCall)
		for n := first; n <= count && n < first+perCall; n++ {
			numbers = append(numbers, n)
		}
		batch := &gatepostv1.PresignUploadPartsResponse{}
		if err := c.callRetrying(ctx, gatepostv1.UploadService_PresignUploadParts_FullMethodName, &gatepostv1.PresignUploadPartsRequest{
			UploadToken: up.GetUploadToken(), PartNumbers: numbers,
		}, batch); err != nil {
			cancel(fmt.Errorf("presign parts %d to %d of %d: %w", numbers[0], numbers[len(numbers)-1], count, err))
			return
		}
		if got := len(batch.GetParts()); got != len(numbers) {
			cancel(fmt.Errorf("presign parts %d to %d of %d: gatepost answered %d URLs for %d parts", numbers[0], numbers[len(numbers)-1], count, got, len(numbers)))
			return
		}
		for _, p := range batch.GetParts() {
			select {
			case work <- p:
			case <-ctx.Done():
				return
			}
		}
	}
}

// putPart PUTs one part to its presigned URL with the headers signed into
// it.
func (c *Client) putPart(ctx context.Context, p *gatepostv1.PresignedPart, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.GetUrl(), body)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", p.GetPartNumber(), err)
	}
	req.ContentLength = p.GetContentLength()
	setSignedHeaders(req.Header, p.GetHeaders())
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", p.GetPartNumber(), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("upload part %d: %w", p.GetPartNumber(), storeErrorFrom(resp.StatusCode, raw))
	}
	return nil
}

// setSignedHeaders sets every header gatepost signed into a presigned
// request, empty values included (the signature covers them too), except
// Content-Length and Host, which the HTTP client writes from the body and
// the URL.
func setSignedHeaders(h http.Header, signed map[string]string) {
	for name, value := range signed {
		if strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Host") {
			continue
		}
		h.Set(name, value)
	}
}
