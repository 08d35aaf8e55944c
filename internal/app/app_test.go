package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploader"
)

func TestMain(m *testing.M) {
	// Signing is offline, but never let the SDK look for instance
	// credentials off this machine.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// started is a running gatepost with a gRPC client.
type started struct {
	app    *app.App
	client gatepostv1.UploadServiceClient
	// token is the API key of aliceKey's subject, sent by authed and rest.
	token string
	logs  *syncBuffer
}

// The API keys of the test configuration: alice may use the default
// profile, bob every profile.
const (
	aliceKey = "gp_alice_0123456789abcdef0123456789"
	bobKey   = "gp_bob_fedcba9876543210fedcba987654"
)

// start runs gatepost in-process on ephemeral loopback ports, signing with
// static credentials for an endpoint that is never contacted, with API-key
// authentication. Each change is applied to the configuration first.
func start(t *testing.T, changes ...func(*config.Config)) *started {
	t.Helper()
	return startWith(t, app.Options{}, changes...)
}

// startWith is start with extra app options (Logger and Getenv are always
// the test's own; AWSOptions default to static credentials).
func startWith(t *testing.T, extra app.Options, changes ...func(*config.Config)) *started {
	t.Helper()
	cfg := &config.Config{
		Auth: config.Auth{Mode: config.AuthAPIKey, APIKeys: []config.APIKey{
			{Subject: "alice", SHA256: auth.HashKey(aliceKey), Profiles: []string{"default"}},
			{Subject: "bob", SHA256: auth.HashKey(bobKey), Profiles: []string{"*"}},
		}},
		RateLimit: config.RateLimit{Disabled: true},
		GRPCAddr:  "127.0.0.1:0",
		HTTPAddr:  "127.0.0.1:0",
		S3:        config.S3{Region: "us-east-1", Endpoint: "http://127.0.0.1:9", PathStyle: true},
		Profiles: map[string]config.Profile{
			"default": {
				Bucket: "uploads", KeyPrefix: "user-uploads/", KeyMode: config.KeyModeClient,
				MinBytes: 1, MaxBytes: 10 << 20,
				ContentTypes: []string{"image/png", "text/plain"},
				Expires:      15 * time.Minute,
				MetadataKeys: []string{"owner"},
			},
			"avatars": {
				Bucket: "uploads", KeyPrefix: "avatars/{subject}/", KeyMode: config.KeyModeClient,
				MaxBytes: 1 << 20, ContentTypes: []string{"image/png"}, Expires: time.Minute,
			},
		},
	}
	for _, change := range changes {
		change(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	awsOptions := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")),
	}
	if extra.AWSOptions != nil {
		awsOptions = extra.AWSOptions
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{
		TracerProvider: extra.TracerProvider,
		ConfigFile:     extra.ConfigFile,
		LoadConfig:     extra.LoadConfig,
		ReloadSignals:  extra.ReloadSignals,
		ReloadInterval: extra.ReloadInterval,
		Logger:         slog.New(slog.NewJSONHandler(logs, nil)),
		Getenv:         testEnv,
		OpenAPI:        []byte(`{}`),
		AWSOptions:     awsOptions,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &started{app: a, client: gatepostv1.NewUploadServiceClient(conn), token: aliceKey, logs: logs}
}

// authed returns ctx carrying the default bearer token as gRPC metadata.
func (s *started) authed(ctx context.Context) context.Context {
	return withToken(ctx, s.token)
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rest sends GET /v1/presign with the request's fields as query
// parameters and the default token.
func (s *started) rest(t *testing.T, req *gatepostv1.CreatePresignedPostRequest) (int, []byte) {
	t.Helper()
	resp, body := s.restWith(t, "Bearer "+s.token, req)
	return resp.StatusCode, body
}

// restWith sends GET /v1/presign with the given Authorization header
// (none when empty) and returns the response and its body.
func (s *started) restWith(t *testing.T, authorization string, req *gatepostv1.CreatePresignedPostRequest) (*http.Response, []byte) {
	t.Helper()
	httpReq, err := http.NewRequest(http.MethodGet, "http://"+s.app.HTTPAddr()+"/v1/presign?"+uploader.PresignQuery(req).Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		httpReq.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// policyConditions decodes the base64 policy and drops the conditions that
// depend on the signing second (X-Amz-Date), so two signings compare equal.
func policyConditions(t *testing.T, policy string) []any {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(policy)
	if err != nil {
		t.Fatalf("policy is not base64: %v", err)
	}
	var doc struct {
		Conditions []any `json:"conditions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("policy is not JSON: %v", err)
	}
	var out []any
	for _, c := range doc.Conditions {
		if m, ok := c.(map[string]any); ok && m["X-Amz-Date"] != nil {
			continue
		}
		out = append(out, c)
	}
	return out
}

// TestSamePolicyOverGRPCAndREST: one request gives the same answer and the
// same policy conditions on both transports.
func TestSamePolicyOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	s := start(t)
	req := &gatepostv1.CreatePresignedPostRequest{
		Key: "reports/q3.txt", ContentType: "text/plain", ContentLength: proto.Int64(1234),
		Metadata: map[string]string{"owner": "alice"},
	}
	viaGRPC, err := s.client.CreatePresignedPost(s.authed(t.Context()), req)
	if err != nil {
		t.Fatalf("gRPC: %v", err)
	}
	code, body := s.rest(t, req)
	if code != http.StatusOK {
		t.Fatalf("REST: status %d: %s", code, body)
	}
	var viaREST struct {
		URL              string            `json:"url"`
		Fields           map[string]string `json:"fields"`
		Key              string            `json:"key"`
		Bucket           string            `json:"bucket"`
		ExpiresAt        time.Time         `json:"expires_at"`
		MaxContentLength string            `json:"max_content_length"`
	}
	if err := json.Unmarshal(body, &viaREST); err != nil {
		t.Fatalf("REST body %s: %v", body, err)
	}
	if viaREST.URL != viaGRPC.GetUrl() || viaREST.Key != viaGRPC.GetKey() || viaREST.Bucket != viaGRPC.GetBucket() ||
		viaREST.MaxContentLength != "1234" || viaGRPC.GetMaxContentLength() != 1234 {
		t.Errorf("REST answer %+v differs from gRPC answer %v", viaREST, viaGRPC)
	}
	if viaGRPC.GetKey() != "user-uploads/reports/q3.txt" || viaGRPC.GetUrl() != "http://127.0.0.1:9/uploads" {
		t.Errorf("key, url = %q, %q", viaGRPC.GetKey(), viaGRPC.GetUrl())
	}
	if d := viaREST.ExpiresAt.Sub(viaGRPC.GetExpiresAt().AsTime()); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("expires_at differ by %s", d)
	}
	wantFields := []string{"Content-Encoding", "Content-Type", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature", "key", "policy", "x-amz-meta-owner"}
	for _, fields := range []map[string]string{viaGRPC.GetFields(), viaREST.Fields} {
		var names []string
		for k := range fields {
			names = append(names, k)
		}
		if diff := cmp.Diff(wantFields, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("field names (-want +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(policyConditions(t, viaGRPC.GetFields()["policy"]), policyConditions(t, viaREST.Fields["policy"])); diff != "" {
		t.Errorf("policy conditions, gRPC vs REST (-gRPC +REST):\n%s", diff)
	}
}

// TestBadInputBothTransports: each bad request gets InvalidArgument on gRPC
// and 400 on REST, with a message that names the field, and never a 500.
func TestBadInputBothTransports(t *testing.T) {
	t.Parallel()
	s := start(t)
	tests := []struct {
		name  string
		req   *gatepostv1.CreatePresignedPostRequest
		field string
	}{
		{"empty key", &gatepostv1.CreatePresignedPostRequest{ContentType: "text/plain"}, "key"},
		{"dot-dot segment", &gatepostv1.CreatePresignedPostRequest{Key: "a/../../etc/passwd", ContentType: "text/plain"}, "key"},
		{"leading slash", &gatepostv1.CreatePresignedPostRequest{Key: "/etc/passwd", ContentType: "text/plain"}, "key"},
		{"double slash", &gatepostv1.CreatePresignedPostRequest{Key: "a//b", ContentType: "text/plain"}, "key"},
		{"backslash", &gatepostv1.CreatePresignedPostRequest{Key: `a\b`, ContentType: "text/plain"}, "key"},
		{"policy variable", &gatepostv1.CreatePresignedPostRequest{Key: "${filename}", ContentType: "text/plain"}, "key"},
		{"control character", &gatepostv1.CreatePresignedPostRequest{Key: "a\x01b", ContentType: "text/plain"}, "key"},
		{"too long", &gatepostv1.CreatePresignedPostRequest{Key: strings.Repeat("k", 1020), ContentType: "text/plain"}, "key"},
		{"content type not allowed", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "text/html; charset=utf-8x\x00"}, "content_type"},
		{"content type off the list", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "application/x-msdownload"}, "content_type"},
		{"content type wildcard", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "image/*"}, "content_type"},
		{"content type malformed", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "png"}, "content_type"},
		{"content type missing", &gatepostv1.CreatePresignedPostRequest{Key: "a"}, "content_type"},
		{"negative length", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "text/plain", ContentLength: proto.Int64(-1)}, "content_length"},
		{"oversized length", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "text/plain", ContentLength: proto.Int64(10<<20 + 1)}, "content_length"},
		{"metadata key not allowed", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "text/plain", Metadata: map[string]string{"role": "admin"}}, "metadata"},
		{"metadata value with newline", &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "text/plain", Metadata: map[string]string{"owner": "a\nb"}}, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.client.CreatePresignedPost(s.authed(t.Context()), tt.req)
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), tt.field+": ") {
				t.Errorf("gRPC: %v; want InvalidArgument starting with %q", err, tt.field+": ")
			}
			code, body := s.rest(t, tt.req)
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(body, &st)
			if code != http.StatusBadRequest || codes.Code(st.Code) != codes.InvalidArgument || !strings.HasPrefix(st.Message, tt.field+": ") {
				t.Errorf("REST: %d %s; want 400 with a message starting with %q", code, body, tt.field+": ")
			}
		})
	}
}

// TestInvalidUTF8: strings are not UTF-8-checked by the transport (see
// upload.proto), so invalid UTF-8 reaches gatepost's own validation and gets
// InvalidArgument naming the field on both transports, never Internal/500.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := start(t)
	_, err := s.client.CreatePresignedPost(s.authed(t.Context()), &gatepostv1.CreatePresignedPostRequest{Key: "a\xffb", ContentType: "text/plain"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "key: ") {
		t.Errorf("gRPC with invalid UTF-8: %v; want InvalidArgument naming key", err)
	}
	for _, q := range []string{"content_type=text/plain&key=a%FFb", "key=a&content_type=text%FF/plain", "key=a&content_type=text/plain&profile=%C0%80"} {
		code, body := getRaw(t, s, "/v1/presign?"+q)
		if code != http.StatusBadRequest {
			t.Errorf("REST %s: status %d %s, want 400", q, code, body)
		}
	}
}

func getRaw(t *testing.T, s *started, pathAndQuery string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.app.HTTPAddr()+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestNoCredentials: without signing credentials gatepost warns at
// start-up, and presigns and /readyz say "no signing credentials" rather
// than a bare "try again later".
func TestNoCredentials(t *testing.T) {
	t.Parallel()
	none := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials in this test")
	})
	s := startWith(t, app.Options{AWSOptions: []func(*awsconfig.LoadOptions) error{awsconfig.WithCredentialsProvider(none)}})
	code, body := s.rest(t, &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "no signing credentials") {
		t.Errorf("REST presign without credentials: %d %s; want 503 saying no signing credentials", code, body)
	}
	_, err := s.client.CreatePresignedPost(s.authed(t.Context()), &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "no signing credentials") {
		t.Errorf("gRPC presign without credentials: %v; want Unavailable saying no signing credentials", err)
	}
	if code, body := getRaw(t, s, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no signing credentials") {
		t.Errorf("/readyz without credentials: %d %s", code, body)
	}
	// The start-up warning comes from a check beside start-up: wait for it
	// (bounded by the test's own deadline), not for a fixed time.
	for !strings.Contains(s.logs.String(), `"msg":"no signing credentials`) {
		select {
		case <-t.Context().Done():
			t.Fatalf("no start-up warning; log:\n%s", s.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
