package uploader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// restPaths are the REST routes of the POST-bodied RPCs the client calls,
// by full method name (presigning has its own GET, in presignREST). A
// test checks them against proto/gatepost/v1/upload_http.yaml.
var restPaths = map[string]string{
	gatepostv1.UploadService_CreateMultipartUpload_FullMethodName:   "/v1/multipart",
	gatepostv1.UploadService_PresignUploadParts_FullMethodName:      "/v1/multipart/parts",
	gatepostv1.UploadService_CompleteMultipartUpload_FullMethodName: "/v1/multipart/complete",
	gatepostv1.UploadService_AbortMultipartUpload_FullMethodName:    "/v1/multipart/abort",
	gatepostv1.UploadService_FinalizeUpload_FullMethodName:          "/v1/uploads/finalize",
	gatepostv1.UploadService_ListUploadedParts_FullMethodName:       "/v1/multipart/list",
}

// clientError lists the gRPC codes that are gatepost refusing a request
// (rather than a failure to reach it) with the HTTP statuses the gateway
// maps them to.
var clientError = map[codes.Code]int{
	codes.InvalidArgument: 400, codes.FailedPrecondition: 400, codes.NotFound: 404, codes.AlreadyExists: 409,
	codes.Unauthenticated: 401, codes.PermissionDenied: 403, codes.ResourceExhausted: 429,
	codes.Unavailable: 503,
}

// grpcConn returns the one gRPC connection of the client, dialling it on
// first use: over TLS when c.TLS is set, else plaintext.
func (c *Client) grpcConn() (*grpc.ClientConn, error) {
	c.connOnce.Do(func() {
		creds := insecure.NewCredentials()
		if c.TLS != nil {
			c.handshake = &handshakeRecorder{TransportCredentials: credentials.NewTLS(c.TLS), last: &lastError{}}
			creds = c.handshake
		}
		c.conn, c.connErr = grpc.NewClient(c.GRPCAddr, grpc.WithTransportCredentials(creds))
	})
	if c.connErr != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.GRPCAddr, c.connErr)
	}
	return c.conn, nil
}

// Close closes the gRPC connection, if one was made.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// http is the client for uploads to the store.
func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// restHTTP is the client for REST calls to gatepost: the upload client,
// or, when c.TLS is set, one that verifies gatepost with it.
func (c *Client) restHTTP() *http.Client {
	if c.TLS == nil {
		return c.http()
	}
	c.restOnce.Do(func() {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if own, ok := c.http().Transport.(*http.Transport); ok {
			t = own.Clone()
		}
		t.TLSClientConfig = c.TLS.Clone()
		c.rest = &http.Client{Transport: t, Timeout: c.http().Timeout}
	})
	return c.rest
}

// call invokes one UploadService method (its full name, a generated
// UploadService_*_FullMethodName) over gRPC, or over REST (a POST with the
// request as JSON) when UseREST is set.
func (c *Client) call(ctx context.Context, fullMethod string, req, resp proto.Message) error {
	method := path.Base(fullMethod) // for messages
	if c.UseREST {
		route, ok := restPaths[fullMethod]
		if !ok {
			return fmt.Errorf("%s has no REST route in this client", method)
		}
		return c.callREST(ctx, route, req, resp)
	}
	conn, err := c.grpcConn()
	if err != nil {
		return err
	}
	if c.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.Token)
	}
	var (
		header metadata.MD
		remote peer.Peer
	)
	err = conn.Invoke(ctx, fullMethod, req, resp, grpc.Header(&header), grpc.Peer(&remote))
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	// gRPC reports a failed TLS handshake only as text in an Unavailable
	// status; the recorder kept the error itself.
	if herr := c.handshake.err(); herr != nil && st.Code() == codes.Unavailable {
		return fmt.Errorf("%s over gRPC at %s: TLS handshake: %w", method, c.GRPCAddr, herr)
	}
	// Without a stream the call never reached gatepost (refused
	// connection, plaintext to a TLS port, ...): that is no refusal.
	if httpStatus, ok := clientError[st.Code()]; ok && remote.Addr != nil {
		g := &GatepostError{HTTPStatus: httpStatus, Code: st.Code().String(), Message: st.Message()}
		if v := header.Get("retry-after"); len(v) > 0 {
			g.RetryAfter = retryAfter(v[0])
		}
		return g
	}
	return fmt.Errorf("%s over gRPC at %s: %w", method, c.GRPCAddr, err)
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
	r, err := c.restHTTP().Do(httpReq)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer r.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read the answer to POST %s: %w", path, err)
	}
	if r.StatusCode != http.StatusOK {
		return restError(r, raw)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, resp); err != nil {
		return fmt.Errorf("decode the answer to POST %s: %w", path, err)
	}
	return nil
}

// Retries of calls gatepost refuses for rate (ResourceExhausted): at most
// this many, and only when the wait it asks for is at most maxRateWait
// (a longer one is a limit to report, not to sit out).
const (
	maxRateRetries = 3
	maxRateWait    = 30 * time.Second
	// defaultRateWait is the wait when gatepost does not say.
	defaultRateWait = time.Second
)

// callRetrying is call, retried after the wait gatepost asks for when it
// answers ResourceExhausted, up to maxRateRetries times. It is for calls
// in the middle of an upload, where giving up wastes what went up.
func (c *Client) callRetrying(ctx context.Context, fullMethod string, req, resp proto.Message) error {
	for attempt := 0; ; attempt++ {
		proto.Reset(resp)
		err := c.call(ctx, fullMethod, req, resp)
		var g *GatepostError
		if !errors.As(err, &g) || g.Code != codes.ResourceExhausted.String() || attempt == maxRateRetries || g.RetryAfter > maxRateWait {
			return err
		}
		wait := g.RetryAfter
		if wait <= 0 {
			wait = defaultRateWait
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("waiting %v to retry %s: %w (after: %w)", wait, path.Base(fullMethod), serr, err)
		}
	}
}

// sleep waits d or until ctx is done; tests replace it with c.wait.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.wait != nil {
		return c.wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// retryAfter reads a Retry-After value in seconds; 0 when absent or not a
// number of seconds.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// handshakeRecorder is TLS transport credentials that remember the last
// client handshake's error (nil after a successful one).
type handshakeRecorder struct {
	credentials.TransportCredentials
	last *lastError
}

type lastError struct {
	mu  sync.Mutex
	err error
}

func (h *handshakeRecorder) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := h.TransportCredentials.ClientHandshake(ctx, authority, conn)
	h.last.mu.Lock()
	h.last.err = err
	h.last.mu.Unlock()
	return c, info, err
}

func (h *handshakeRecorder) Clone() credentials.TransportCredentials {
	return &handshakeRecorder{TransportCredentials: h.TransportCredentials.Clone(), last: h.last}
}

// err is the last handshake's error; nil for a nil recorder (plaintext).
func (h *handshakeRecorder) err() error {
	if h == nil {
		return nil
	}
	h.last.mu.Lock()
	defer h.last.mu.Unlock()
	return h.last.err
}

var _ credentials.TransportCredentials = (*handshakeRecorder)(nil)
