package uploader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

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
	return c.UploadMultipartResumable(ctx, req, r, parallel, progress, nil)
}

// State keeps a multipart upload's token between runs, so that an upload
// can be resumed (a file, for the CLI's -resume).
type State interface {
	// Load returns the saved token, or "" when there is none.
	Load() (string, error)
	// Save keeps token.
	Save(token string) error
	// Clear forgets the token (the upload completed, or is gone).
	Clear() error
}

// UploadMultipartResumable is UploadMultipart that, with a state, resumes
// the upload whose token it holds (sending only the parts the store lacks)
// or starts one and saves its token; a failed upload is then kept for the
// next run instead of aborted, unless gatepost refused it for good (a 4xx
// other than 429), which forgets and aborts it.
func (c *Client) UploadMultipartResumable(ctx context.Context, req *gatepostv1.CreateMultipartUploadRequest, r io.ReaderAt, parallel int, progress func(io.Reader) io.Reader, state State) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	up, todo, err := c.resume(ctx, req, state)
	if err != nil {
		return nil, err
	}
	if up == nil {
		up = &gatepostv1.CreateMultipartUploadResponse{}
		if err := c.call(ctx, gatepostv1.UploadService_CreateMultipartUpload_FullMethodName, req, up); err != nil {
			return nil, err
		}
		if state != nil {
			if err := state.Save(up.GetUploadToken()); err != nil {
				c.abort(ctx, up)
				return nil, fmt.Errorf("save the upload token for resuming: %w", err)
			}
		}
		for n := int32(1); n <= up.GetPartCount(); n++ {
			todo = append(todo, n)
		}
	}
	done, err := c.uploadParts(ctx, up, todo, r, parallel, progress)
	if err != nil {
		var g *GatepostError
		refused := errors.As(err, &g) && g.HTTPStatus >= 400 && g.HTTPStatus < 500 && g.HTTPStatus != 429
		if state != nil && !refused {
			return nil, fmt.Errorf("%w (the upload is kept: run the same command again to resume it)", err)
		}
		if state != nil {
			_ = state.Clear()
		}
		c.abort(ctx, up)
		return nil, err
	}
	if state != nil {
		_ = state.Clear()
	}
	return done, nil
}

// abort frees an upload's parts; the caller's context may be cancelled
// already.
func (c *Client) abort(ctx context.Context, up *gatepostv1.CreateMultipartUploadResponse) {
	_ = c.call(context.WithoutCancel(ctx), gatepostv1.UploadService_AbortMultipartUpload_FullMethodName,
		&gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}, &gatepostv1.AbortMultipartUploadResponse{})
}

// ErrOtherUpload is a saved token of an upload that is not the one asked
// for (another size or profile): the state is left alone.
var ErrOtherUpload = errors.New("the saved upload token is for another upload")

// resume returns the upload a state holds and the parts it still needs,
// or nil when there is none to resume (no state, no token, or an upload
// gatepost no longer knows: expired, completed or aborted). A token of
// another upload (another size or profile than req) is ErrOtherUpload.
func (c *Client) resume(ctx context.Context, req *gatepostv1.CreateMultipartUploadRequest, state State) (*gatepostv1.CreateMultipartUploadResponse, []int32, error) {
	if state == nil {
		return nil, nil, nil
	}
	token, err := state.Load()
	if err != nil || token == "" {
		return nil, nil, err
	}
	listed := &gatepostv1.ListUploadedPartsResponse{}
	err = c.callRetrying(ctx, gatepostv1.UploadService_ListUploadedParts_FullMethodName, &gatepostv1.ListUploadedPartsRequest{UploadToken: token}, listed)
	var g *GatepostError
	switch {
	case errors.As(err, &g) && (g.HTTPStatus == 400 || g.HTTPStatus == 404):
		_ = state.Clear() // start afresh
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	profile := req.GetProfile()
	if profile == "" {
		profile = "default"
	}
	if listed.GetTotalSize() != req.GetTotalSize() || listed.GetProfile() != profile {
		return nil, nil, fmt.Errorf("%w: it is of %d bytes in profile %q, this one of %d bytes in %q", ErrOtherUpload,
			listed.GetTotalSize(), listed.GetProfile(), req.GetTotalSize(), profile)
	}
	up := &gatepostv1.CreateMultipartUploadResponse{
		UploadToken: token, Key: listed.GetKey(), Bucket: listed.GetBucket(), PartSize: listed.GetPartSize(),
		PartCount: listed.GetPartCount(), TotalSize: listed.GetTotalSize(), PartsPerCall: listed.GetPartsPerCall(),
	}
	return up, listed.GetMissingPartNumbers(), nil
}

// uploadParts presigns the parts in todo a batch at a time and hands them
// to parallel workers; the next batch is asked for when the workers have
// taken the last part of this one. The first failure stops everything.
func (c *Client) uploadParts(ctx context.Context, up *gatepostv1.CreateMultipartUploadResponse, todo []int32, r io.ReaderAt, parallel int, progress func(io.Reader) io.Reader) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *gatepostv1.PresignedPart)
	var wg sync.WaitGroup
	for range max(1, parallel) {
		wg.Go(func() {
			for p := range work {
				if err := c.putPartRetrying(ctx, up, p, r, progress); err != nil {
					cancel(err) // only the first cause is kept
				}
			}
		})
	}
	c.presignParts(ctx, cancel, up, todo, work)
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	done := &gatepostv1.CompleteMultipartUploadResponse{}
	complete := func() error {
		return c.callRetrying(ctx, gatepostv1.UploadService_CompleteMultipartUpload_FullMethodName,
			&gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()}, done)
	}
	err := complete()
	var g *GatepostError
	if errors.As(err, &g) && g.Code == codes.Aborted.String() {
		err = complete() // a part changed while gatepost completed: once more
	}
	if err != nil {
		return nil, err
	}
	return done, nil
}

// partRetries is how often a part is sent again after a transient failure
// (a dropped connection, the store's 5xx), after waits of 1, 2 and 4 s, or
// the store's Retry-After when longer (at most maxPartRetryAfter).
const partRetries = 3

// maxPartRetryAfter bounds the wait a store's Retry-After may ask for.
const maxPartRetryAfter = 30 * time.Second

// putPartRetrying PUTs part p from r, again after a transient failure
// with a fresh URL (the first may have expired meanwhile).
func (c *Client) putPartRetrying(ctx context.Context, up *gatepostv1.CreateMultipartUploadResponse, p *gatepostv1.PresignedPart, r io.ReaderAt, progress func(io.Reader) io.Reader) error {
	wait := time.Second
	for attempt := 0; ; attempt++ {
		offset := int64(p.GetPartNumber()-1) * up.GetPartSize()
		var body io.Reader = io.NewSectionReader(r, offset, p.GetContentLength())
		if progress != nil {
			body = progress(body)
		}
		err := c.putPart(ctx, p, body)
		if err == nil || !transient(err) || attempt == partRetries || ctx.Err() != nil {
			return err
		}
		pause := wait
		var s *StoreError
		if errors.As(err, &s) && s.RetryAfter > pause {
			pause = min(s.RetryAfter, maxPartRetryAfter) // the store asked for longer
		}
		if serr := c.sleep(ctx, pause); serr != nil {
			return err
		}
		wait *= 2
		fresh := &gatepostv1.PresignUploadPartsResponse{}
		if perr := c.callRetrying(ctx, gatepostv1.UploadService_PresignUploadParts_FullMethodName, &gatepostv1.PresignUploadPartsRequest{
			UploadToken: up.GetUploadToken(), PartNumbers: []int32{p.GetPartNumber()},
		}, fresh); perr != nil || len(fresh.GetParts()) != 1 {
			return err
		}
		p = fresh.GetParts()[0]
	}
}

// transient reports whether a part upload failed in a way that sending it
// again may mend: the network, or the store's 5xx (SlowDown, a restart).
func transient(err error) bool {
	var s *StoreError
	if errors.As(err, &s) {
		return s.HTTPStatus >= 500
	}
	return !errors.Is(err, context.Canceled)
}

// presignParts asks for the part URLs in batches of PartsPerCall (fewer
// when gatepost's parts_per_call says the caller's rate allows fewer) and sends
// each part to work, until all are sent or ctx is done; a failure cancels
// ctx with its error.
func (c *Client) presignParts(ctx context.Context, cancel context.CancelCauseFunc, up *gatepostv1.CreateMultipartUploadResponse, todo []int32, work chan<- *gatepostv1.PresignedPart) {
	count := up.GetPartCount()
	perCall := PartsPerCall
	if n := int(up.GetPartsPerCall()); n > 0 && n < perCall {
		perCall = n // the caller's rate limit allows no more at once
	}
	for len(todo) > 0 {
		numbers := todo[:min(perCall, len(todo))]
		todo = todo[len(numbers):]
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
		serr := storeErrorFrom(resp.StatusCode, raw)
		var s *StoreError
		if errors.As(serr, &s) {
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
				s.RetryAfter = time.Duration(secs) * time.Second
			}
		}
		return fmt.Errorf("upload part %d: %w", p.GetPartNumber(), serr)
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
