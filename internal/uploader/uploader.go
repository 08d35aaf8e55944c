package uploader

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// Presigned is a presigned POST as gatepost returns it.
type Presigned struct {
	URL              string            `json:"url"`
	Fields           map[string]string `json:"fields"`
	Key              string            `json:"key"`
	Bucket           string            `json:"bucket"`
	ExpiresAt        time.Time         `json:"expires_at"`
	MaxContentLength int64             `json:"max_content_length,string"`
}

// GatepostError is gatepost refusing to presign: its gRPC status and the
// HTTP status the REST gateway maps it to.
type GatepostError struct {
	HTTPStatus int
	Code       string // gRPC code name, e.g. "InvalidArgument"
	Message    string
	// RetryAfter is the wait gatepost asked for before another try
	// (ResourceExhausted); zero when it did not say.
	RetryAfter time.Duration
}

func (e *GatepostError) Error() string {
	return fmt.Sprintf("refused: %s (HTTP %d): %s", e.Code, e.HTTPStatus, e.Message)
}

// StoreError is the object store rejecting the upload.
type StoreError struct {
	HTTPStatus int
	Code       string // S3 error code, e.g. "EntityTooLarge"
	Message    string
	// RetryAfter is the store's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("the store rejected the upload: %s (HTTP %d): %s", e.Code, e.HTTPStatus, e.Message)
}

// Client talks to one gatepost server.
type Client struct {
	// GRPCAddr is the gRPC address (host:port), used unless UseREST.
	GRPCAddr string
	// BaseURL is the REST base URL (http://host:port or https://...), used
	// when UseREST.
	BaseURL string
	// UseREST selects the REST gateway instead of gRPC.
	UseREST bool
	// Token is sent as "authorization: Bearer <token>" when not empty.
	Token string
	// TLS, when not nil, makes the gRPC connection use TLS with this
	// configuration (nil: plaintext), and verifies an https BaseURL with it
	// (nil: HTTP's defaults, the system roots). Uploads to the store do
	// not use it.
	TLS *tls.Config
	// HTTP uploads to the store, and calls REST unless TLS is set;
	// http.DefaultClient when nil.
	HTTP *http.Client

	connOnce  sync.Once
	conn      *grpc.ClientConn
	connErr   error
	handshake *handshakeRecorder

	restOnce sync.Once
	rest     *http.Client

	// wait replaces the real wait before a retry, in tests.
	wait func(context.Context, time.Duration) error
}

// Presign asks gatepost for a presigned POST.
func (c *Client) Presign(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest) (*Presigned, []byte, error) {
	if c.UseREST {
		return c.presignREST(ctx, req)
	}
	return c.presignGRPC(ctx, req)
}

func (c *Client) presignGRPC(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest) (*Presigned, []byte, error) {
	resp := &gatepostv1.CreatePresignedPostResponse{}
	if err := c.call(ctx, gatepostv1.UploadService_CreatePresignedPost_FullMethodName, req, resp); err != nil {
		return nil, nil, err
	}
	// As the gateway writes it (every field, proto names), so that the
	// answer reads the same over both transports.
	raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(resp)
	if err != nil {
		return nil, nil, err
	}
	return &Presigned{
		URL: resp.GetUrl(), Fields: resp.GetFields(), Key: resp.GetKey(), Bucket: resp.GetBucket(),
		ExpiresAt: resp.GetExpiresAt().AsTime(), MaxContentLength: resp.GetMaxContentLength(),
	}, raw, nil
}

// PresignQuery returns the query parameters of GET /v1/presign for req.
func PresignQuery(req *gatepostv1.CreatePresignedPostRequest) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("key", req.GetKey())
	set("content_type", req.GetContentType())
	set("profile", req.GetProfile())
	set("checksum_sha256", req.GetChecksumSha256())
	if req.ContentLength != nil {
		q.Set("content_length", strconv.FormatInt(req.GetContentLength(), 10))
	}
	for k, v := range req.GetMetadata() {
		q.Set("metadata["+k+"]", v)
	}
	return q
}

func (c *Client) presignREST(ctx context.Context, req *gatepostv1.CreatePresignedPostRequest) (*Presigned, []byte, error) {
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/v1/presign?"+PresignQuery(req).Encode(), nil)
	if err != nil {
		return nil, nil, err
	}
	if c.Token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.restHTTP().Do(httpReq)
	if err != nil {
		return nil, nil, fmt.Errorf("presign over REST at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read presign answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, restError(resp, body)
	}
	var p Presigned
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, nil, fmt.Errorf("decode presign answer: %w", err)
	}
	return &p, body, nil
}

// Upload POSTs size bytes from body to the presigned URL as a
// multipart/form-data form: every field, then the file last. The length is
// computed up front (S3 needs Content-Length). progress, when not nil,
// wraps the file reader (for a progress bar).
func (c *Client) Upload(ctx context.Context, p *Presigned, filename string, body io.Reader, size int64, progress func(io.Reader) io.Reader) error {
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	for _, name := range slices.Sorted(maps.Keys(p.Fields)) {
		if err := w.WriteField(name, p.Fields[name]); err != nil {
			return err
		}
	}
	if _, err := w.CreateFormFile("file", filename); err != nil {
		return err
	}
	tail := "\r\n--" + w.Boundary() + "--\r\n"
	if progress != nil {
		body = progress(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL,
		io.MultiReader(&head, io.LimitReader(body, size), strings.NewReader(tail)))
	if err != nil {
		return err
	}
	req.ContentLength = int64(head.Len()) + size + int64(len(tail))
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("upload to %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return storeErrorFrom(resp.StatusCode, respBody)
}

// storeErrorFrom reads S3's XML error answer.
func storeErrorFrom(httpStatus int, body []byte) error {
	var s3err struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &s3err) != nil || s3err.Code == "" {
		s3err.Code = http.StatusText(httpStatus)
		s3err.Message = strings.TrimSpace(string(body))
	}
	return &StoreError{HTTPStatus: httpStatus, Code: s3err.Code, Message: s3err.Message}
}

// restError reads the gateway's JSON status answer.
func restError(resp *http.Response, body []byte) error {
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &st) != nil {
		st.Message = strings.TrimSpace(string(body))
	}
	return &GatepostError{
		HTTPStatus: resp.StatusCode, Code: codes.Code(st.Code).String(), Message: st.Message,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
	}
}

// IsGatepostError reports whether err is gatepost refusing the request.
func IsGatepostError(err error) bool {
	var g *GatepostError
	return errors.As(err, &g)
}

// IsStoreError reports whether err is the store rejecting the upload.
func IsStoreError(err error) bool {
	var s *StoreError
	return errors.As(err, &s)
}
