package uploader

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// restPaths are the REST routes of the POST-bodied RPCs (presigning has
// its own GET, in presignREST).
var restPaths = map[string]string{
	"CreateMultipartUpload":   "/v1/multipart",
	"PresignUploadParts":      "/v1/multipart/parts",
	"CompleteMultipartUpload": "/v1/multipart/complete",
	"AbortMultipartUpload":    "/v1/multipart/abort",
}

// call invokes one UploadService method over gRPC, or over REST (a POST
// with the request as JSON) when UseREST is set.
func (c *Client) call(ctx context.Context, method string, req, resp proto.Message) error {
	if c.UseREST {
		return c.callREST(ctx, restPaths[method], req, resp)
	}
	conn, err := c.grpcConn()
	if err != nil {
		return err
	}
	if c.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.Token)
	}
	if err := conn.Invoke(ctx, "/gatepost.v1.UploadService/"+method, req, resp); err != nil {
		st := status.Convert(err)
		if httpStatus, ok := clientError[st.Code()]; ok {
			return &GatepostError{HTTPStatus: httpStatus, Code: st.Code().String(), Message: st.Message()}
		}
		return fmt.Errorf("%s over gRPC at %s: %w", method, c.GRPCAddr, err)
	}
	return nil
}

func (c *Client) callREST(ctx context.Context, path string, req, resp proto.Message) error {
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(req)
	if err != nil {
		return err
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	httpReq.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+c.Token)
	}
	r, err := c.http().Do(httpReq)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer r.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return err
	}
	if r.StatusCode != http.StatusOK {
		return restError(r.StatusCode, raw)
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(raw, resp)
}

// UploadMultipart uploads size bytes from r (which must support ReadAt) as
// a multipart upload with up to parallel parts at once. On failure the
// upload is aborted.
func (c *Client) UploadMultipart(ctx context.Context, req *gatepostv1.CreateMultipartUploadRequest, r io.ReaderAt, parallel int, progress func(io.Reader) io.Reader) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	up := &gatepostv1.CreateMultipartUploadResponse{}
	if err := c.call(ctx, "CreateMultipartUpload", req, up); err != nil {
		return nil, err
	}
	done, err := c.uploadParts(ctx, up, r, parallel, progress)
	if err != nil {
		// Free the parts; the caller's context may be cancelled already.
		_ = c.call(context.WithoutCancel(ctx), "AbortMultipartUpload",
			&gatepostv1.AbortMultipartUploadRequest{UploadToken: up.GetUploadToken()}, &gatepostv1.AbortMultipartUploadResponse{})
		return nil, err
	}
	return done, nil
}

func (c *Client) uploadParts(ctx context.Context, up *gatepostv1.CreateMultipartUploadResponse, r io.ReaderAt, parallel int, progress func(io.Reader) io.Reader) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	numbers := make([]int32, up.GetPartCount())
	for i := range numbers {
		numbers[i] = int32(i + 1)
	}
	var parts []*gatepostv1.PresignedPart
	for start := 0; start < len(numbers); start += 1000 {
		batch := &gatepostv1.PresignUploadPartsResponse{}
		end := min(start+1000, len(numbers))
		if err := c.call(ctx, "PresignUploadParts", &gatepostv1.PresignUploadPartsRequest{
			UploadToken: up.GetUploadToken(), PartNumbers: numbers[start:end],
		}, batch); err != nil {
			return nil, err
		}
		parts = append(parts, batch.GetParts()...)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *gatepostv1.PresignedPart)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range max(1, parallel) {
		wg.Go(func() {
			for p := range work {
				offset := int64(p.GetPartNumber()-1) * up.GetPartSize()
				var body io.Reader = io.NewSectionReader(r, offset, p.GetContentLength())
				if progress != nil {
					body = progress(body)
				}
				if err := c.putPart(ctx, p, body); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, p := range parts {
		select {
		case work <- p:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	done := &gatepostv1.CompleteMultipartUploadResponse{}
	if err := c.call(ctx, "CompleteMultipartUpload", &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()}, done); err != nil {
		return nil, err
	}
	return done, nil
}

func (c *Client) putPart(ctx context.Context, p *gatepostv1.PresignedPart, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.GetUrl(), body)
	if err != nil {
		return err
	}
	req.ContentLength = p.GetContentLength()
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", p.GetPartNumber(), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return storeErrorFrom(resp.StatusCode, raw)
	}
	return nil
}
