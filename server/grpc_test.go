package server

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// startGRPC serves a Service signing with signer from NewGRPCServer on an
// ephemeral loopback port and returns a client connection to it. Both are
// stopped when the test ends.
func startGRPC(t *testing.T, store objectstore.Store) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	logger := discardLogger()
	srv, _ := NewGRPCServer(NewService(testProfiles(t), store, logger), noAuth, logger, nil, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithNoProxy())
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	conn := startGRPC(t, &fakeStore{})
	client := healthpb.NewHealthClient(conn)

	tests := []struct {
		name       string
		service    string
		wantStatus healthpb.HealthCheckResponse_ServingStatus
		wantCode   codes.Code
	}{
		{name: "server as a whole", service: "", wantStatus: healthpb.HealthCheckResponse_SERVING},
		{name: "upload service", service: "gatepost.v1.UploadService", wantStatus: healthpb.HealthCheckResponse_SERVING},
		{name: "unknown service", service: "gatepost.v1.NoSuchService", wantCode: codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{Service: tt.service})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("Check(%q) code = %s, want %s (error %v)", tt.service, got, tt.wantCode, err)
			}
			if err == nil && resp.GetStatus() != tt.wantStatus {
				t.Errorf("Check(%q) = %s, want %s", tt.service, resp.GetStatus(), tt.wantStatus)
			}
		})
	}
}

func TestGRPCReflection(t *testing.T) {
	t.Parallel()
	conn := startGRPC(t, &fakeStore{})

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("send ListServices: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("receive ListServices: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend, Recv = %v, want EOF", err)
	}

	var got []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		got = append(got, s.GetName())
	}
	slices.Sort(got)
	want := []string{
		"gatepost.v1.UploadService",
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed services mismatch (-want +got):\n%s", diff)
	}
}

func TestGRPCUploadService(t *testing.T) {
	t.Parallel()

	// The signer panics for one key and works for every other one, so the
	// test can show that the server survives a panic.
	signer := &fakeStore{fn: func(_ context.Context, p *uploadpolicy.Post) (*uploadpolicy.Signed, error) {
		if strings.HasSuffix(p.Key, "panic.png") {
			panic("signer exploded with AKIDEXAMPLE")
		}
		signed := fixedSigned
		return &signed, nil
	}}
	client := gatepostv1.NewUploadServiceClient(startGRPC(t, signer))

	// Not parallel: the order shows that the server keeps serving after
	// the panic.
	tests := []struct {
		name     string
		req      *gatepostv1.CreatePresignedPostRequest
		wantCode codes.Code
		wantKey  string
	}{
		{name: "valid request", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"}, wantKey: "incoming/a.png"},
		{name: "invalid request", req: &gatepostv1.CreatePresignedPostRequest{Key: "../a.png", ContentType: "image/png"}, wantCode: codes.InvalidArgument},
		{name: "signer panics", req: &gatepostv1.CreatePresignedPostRequest{Key: "panic.png", ContentType: "image/png"}, wantCode: codes.Internal},
		{name: "valid request after the panic", req: &gatepostv1.CreatePresignedPostRequest{Key: "b.png", ContentType: "image/png"}, wantKey: "incoming/b.png"},
		{name: "request over the message size limit", req: &gatepostv1.CreatePresignedPostRequest{Key: strings.Repeat("k", maxRecvMsgBytes), ContentType: "image/png"}, wantCode: codes.ResourceExhausted},
		{name: "valid request after the oversized one", req: &gatepostv1.CreatePresignedPostRequest{Key: "c.png", ContentType: "image/png"}, wantKey: "incoming/c.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.CreatePresignedPost(t.Context(), tt.req)
			st, _ := status.FromError(err)
			if st.Code() != tt.wantCode {
				t.Fatalf("code = %s, want %s (message %q)", st.Code(), tt.wantCode, st.Message())
			}
			if strings.Contains(st.Message(), "AKIDEXAMPLE") || strings.Contains(st.Message(), "exploded") {
				t.Errorf("message %q reveals the panic", st.Message())
			}
			if err == nil && resp.GetKey() != tt.wantKey {
				t.Errorf("key = %q, want %q", resp.GetKey(), tt.wantKey)
			}
		})
	}
}

// oneAPIKey returns an authenticator that knows one API key, of the
// subject "s" with every profile.
func oneAPIKey(t *testing.T, key string) auth.Authenticator {
	t.Helper()
	a, err := auth.New(context.Background(), config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{
		{Subject: "s", SHA256: auth.HashKey(key), Profiles: []string{"*"}},
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// noAuth authenticates every caller as in auth mode none.
var noAuth, _ = auth.New(context.Background(), config.Auth{Mode: config.AuthNone}, nil, nil)

// TestAuthInterceptorFailsClosed: only health checks and reflection skip
// authentication; any other method, even of a service added later, needs
// a token.
func TestAuthInterceptorFailsClosed(t *testing.T) {
	t.Parallel()
	keys := oneAPIKey(t, "k")
	ic := AuthInterceptor(keys, discardLogger(), nil, nil)
	reached := func(context.Context, any) (any, error) { return "reached", nil }
	for method, wantOpen := range map[string]bool{
		"/grpc.health.v1.Health/Check":                              true,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": true,
		"/gatepost.v1.UploadService/CreatePresignedPost":            false,
		"/gatepost.v2.UploadService/CreatePresignedPost":            false,
		"/some.Other/Method":                                        false,
		"gatepost.v1.UploadService/CreatePresignedPost":             false,
	} {
		out, err := ic(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method}, reached)
		if open := err == nil && out == "reached"; open != wantOpen {
			t.Errorf("%s without a token: reached=%t err=%v, want reached=%t", method, open, err, wantOpen)
		}
	}
}

// TestMetadataIsCapped: a call whose metadata is larger than the HTTP
// listener's header limit is refused by the transport before any handler
// runs (grpc-go alone would take up to 16 MiB).
func TestMetadataIsCapped(t *testing.T) {
	t.Parallel()
	conn := startGRPC(t, &fakeStore{})
	client := gatepostv1.NewUploadServiceClient(conn)
	for _, tt := range []struct {
		name   string
		size   int
		wantOK bool
	}{
		{"small", 1 << 10, true},
		{"over 64 KiB", 100 << 10, false},
		{"15 MiB", 15 << 20, false},
	} {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "x-padding", strings.Repeat("a", tt.size))
		_, err := client.CreatePresignedPost(ctx, &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"})
		if ok := err == nil; ok != tt.wantOK {
			t.Errorf("%s metadata: err = %v, want ok=%t", tt.name, err, tt.wantOK)
		}
	}
}

// TestStreamsFailClosed: a streaming method other than health and
// reflection needs a token too.
func TestStreamsFailClosed(t *testing.T) {
	t.Parallel()
	keys := oneAPIKey(t, "k")
	ic := StreamAuthInterceptor(keys, discardLogger(), nil, nil)
	for method, wantOpen := range map[string]bool{
		"/grpc.health.v1.Health/Watch":                              true,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": true,
		"/gatepost.v1.UploadService/StreamSomething":                false,
		"/some.Other/Stream":                                        false,
	} {
		reached := false
		err := ic(nil, &fakeStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: method},
			func(any, grpc.ServerStream) error { reached = true; return nil })
		if open := err == nil && reached; open != wantOpen {
			t.Errorf("%s without a token: reached=%t err=%v, want reached=%t", method, reached, err, wantOpen)
		}
	}
	// With a token the handler sees the caller.
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer k"))
	err := ic(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: "/some.Other/Stream"}, func(_ any, ss grpc.ServerStream) error {
		if id, ok := IdentityFrom(ss.Context()); !ok || id.Subject != "s" {
			t.Errorf("identity in the stream = %v, %t", id, ok)
		}
		return nil
	})
	if err != nil {
		t.Errorf("with a token: %v", err)
	}
}

// fakeStream is a ServerStream with a context and nothing else.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context     { return f.ctx }
func (f *fakeStream) SetHeader(metadata.MD) error  { return nil }
func (f *fakeStream) SendHeader(metadata.MD) error { return nil }

// TestStreamsEnd: a streaming call (here a health Watch, which otherwise
// runs until the client leaves) ends when the server's bound passes.
func TestStreamsEnd(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainStreamInterceptor(StreamDeadlineInterceptor(50 * time.Millisecond)))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	// No deadline from the client: only the server's bound ends it.
	watch, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Recv = %v, %v", resp, err)
	}
	_, err = watch.Recv()
	if code := status.Code(err); code != codes.Canceled && code != codes.DeadlineExceeded {
		t.Errorf("the stream ended with %v, want Canceled or DeadlineExceeded", err)
	}
}

// rawCodec sends and receives bytes as they are, to send what no protobuf
// library would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestMalformedRequest: bytes that are not a request message are the
// caller's fault (InvalidArgument), not the server's (grpc-go's Internal),
// and the next call on the connection is unaffected.
func TestMalformedRequest(t *testing.T) {
	t.Parallel()
	conn := startGRPC(t, &fakeStore{})
	method := gatepostv1.UploadService_CreatePresignedPost_FullMethodName
	for _, tt := range []struct {
		name       string
		body       []byte
		wantPrefix string
	}{
		{"truncated varint", []byte{0x08, 0xff}, "request: "},
		{"field number zero", []byte{0x00, 0x01}, "request: "},
		{"a length beyond the message", []byte{0x0a, 0x7f, 'a'}, "request: "},
		// Parsed (grpc-go's codec does not check UTF-8), then refused by
		// validation.
		{"invalid UTF-8 in a string field", []byte{0x0a, 0x01, 0xff}, "key: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out []byte
			err := conn.Invoke(t.Context(), method, &tt.body, &out, grpc.ForceCodecV2(rawCodec{}))
			if got := status.Code(err); got != codes.InvalidArgument {
				t.Errorf("Invoke: %v; want InvalidArgument", err)
			}
			if !strings.HasPrefix(status.Convert(err).Message(), tt.wantPrefix) {
				t.Errorf("message %q does not start with the field", status.Convert(err).Message())
			}
		})
	}
	client := gatepostv1.NewUploadServiceClient(conn)
	if _, err := client.CreatePresignedPost(t.Context(), &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"}); err != nil {
		t.Errorf("a valid call after malformed ones: %v", err)
	}
}

// TestPublicStreamsAreBounded: streams that need no token (here health
// Watch) are refused past the per-address bound with ResourceExhausted,
// and a place frees when a stream ends.
func TestPublicStreamsAreBounded(t *testing.T) {
	t.Parallel()
	conn := startGRPC(t, &fakeStore{})
	client := healthpb.NewHealthClient(conn)
	var cancels []context.CancelFunc
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
	})
	open := func() error {
		ctx, cancel := context.WithCancel(t.Context())
		cancels = append(cancels, cancel)
		w, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = w.Recv()
		return err
	}
	for i := range maxPublicStreamsPerAddress {
		if err := open(); err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
	}
	if err := open(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("stream %d: %v; want ResourceExhausted", maxPublicStreamsPerAddress+1, err)
	}
	cancels[0]()
	// The server notices the cancelled stream soon; until then it may
	// still refuse.
	deadline := time.Now().Add(10 * time.Second)
	for err := open(); err != nil; err = open() {
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("after closing a stream: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
