package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/gateway"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/server"
)

// codeService answers every call with the status code named by the
// request's key, so the test can drive each error class through the gateway.
type codeService struct {
	gatepostv1.UnimplementedUploadServiceServer
}

func (codeService) CreatePresignedPost(_ context.Context, req *gatepostv1.CreatePresignedPostRequest) (*gatepostv1.CreatePresignedPostResponse, error) {
	if req.GetKey() == "OK" {
		return &gatepostv1.CreatePresignedPostResponse{Url: "http://s3.test/b", Key: "k", Fields: map[string]string{"key": "k"}}, nil
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == req.GetKey() {
			return nil, status.Error(c, "field: problem for "+c.String())
		}
	}
	return nil, status.Error(codes.Unknown, "no such code")
}

// newGateway returns an httptest server running the gateway in front of
// svc (called in-process, as gatepost does through server.InProcess).
func newGateway(t *testing.T, svc gatepostv1.UploadServiceServer, opts gateway.Options) *httptest.Server {
	t.Helper()
	h, err := gateway.New(t.Context(), server.InProcess(svc, nil), opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestStatusToHTTP checks the HTTP status and JSON error body that each
// gRPC error class becomes on the REST side.
func TestStatusToHTTP(t *testing.T) {
	t.Parallel()
	ts := newGateway(t, codeService{}, gateway.Options{})
	tests := []struct {
		code     codes.Code
		wantHTTP int
	}{
		{codes.OK, http.StatusOK},
		{codes.InvalidArgument, http.StatusBadRequest},
		{codes.Unauthenticated, http.StatusUnauthorized},
		{codes.PermissionDenied, http.StatusForbidden},
		{codes.NotFound, http.StatusNotFound},
		{codes.ResourceExhausted, http.StatusTooManyRequests},
		{codes.FailedPrecondition, http.StatusBadRequest},
		{codes.Unavailable, http.StatusServiceUnavailable},
		{codes.DeadlineExceeded, http.StatusGatewayTimeout},
		{codes.Internal, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, ts.URL+"/v1/presign?key="+tt.code.String())
			if resp.StatusCode != tt.wantHTTP {
				t.Fatalf("HTTP status = %d, want %d (body %s)", resp.StatusCode, tt.wantHTTP, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			// Answers carry credentials: no cache may keep them.
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if tt.code == codes.OK {
				return
			}
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("error body %q is not JSON: %v", body, err)
			}
			if codes.Code(st.Code) != tt.code || !strings.HasPrefix(st.Message, "field: ") {
				t.Errorf("error body = %+v, want code %d and the service's message", st, tt.code)
			}
		})
	}
}

// TestQueryParameters: query parameters reach the service, and a parameter
// of the wrong type is a 400 naming it, never a 500.
func TestQueryParameters(t *testing.T) {
	t.Parallel()
	var got *gatepostv1.CreatePresignedPostRequest
	svc := &recordingService{record: func(r *gatepostv1.CreatePresignedPostRequest) { got = r }}
	ts := newGateway(t, svc, gateway.Options{})

	resp, body := get(t, ts.URL+"/v1/presign?key=a%2Fb.png&content_type=image%2Fpng&content_length=42&profile=p&metadata%5Bowner%5D=alice")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got.GetKey() != "a/b.png" || got.GetContentType() != "image/png" || got.GetContentLength() != 42 ||
		got.ContentLength == nil || got.GetProfile() != "p" || got.GetMetadata()["owner"] != "alice" {
		t.Errorf("service got %v", got)
	}

	resp, body = get(t, ts.URL+"/v1/presign?key=a&content_length=lots")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "content_length") {
		t.Errorf("content_length=lots: status %d body %s; want 400 naming content_length", resp.StatusCode, body)
	}
}

// TestWrongMethod: a known path with another method is 405 with an Allow
// header that the API description gives.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../gen/gatepost/v1/upload.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := newGateway(t, codeService{}, gateway.Options{OpenAPI: doc})
	for _, tt := range []struct{ method, path, allow string }{
		{http.MethodPost, "/v1/presign?key=OK", "GET"},
		{http.MethodDelete, "/v1/presign-put", "GET"},
		{http.MethodGet, "/v1/multipart", "POST"},
		{http.MethodGet, "/v1/multipart/complete", "POST"},
		{http.MethodPost, "/v1/uploads/a/b/c.txt", "GET"},
	} {
		req, err := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d, Allow %q; want 405, %s", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.allow)
		}
	}
}

type recordingService struct {
	gatepostv1.UnimplementedUploadServiceServer
	record func(*gatepostv1.CreatePresignedPostRequest)
}

func (s *recordingService) CreatePresignedPost(_ context.Context, req *gatepostv1.CreatePresignedPostRequest) (*gatepostv1.CreatePresignedPostResponse, error) {
	s.record(req)
	return &gatepostv1.CreatePresignedPostResponse{}, nil
}

// TestProbesAndOpenAPI covers /healthz, /readyz (with the readiness hook
// failing and succeeding) and /openapi.json.
func TestProbesAndOpenAPI(t *testing.T) {
	t.Parallel()
	var haveCredentials atomic.Bool
	ts := newGateway(t, codeService{}, gateway.Options{
		OpenAPI: []byte(`{"swagger":"2.0"}`),
		Ready: func(context.Context) error {
			if !haveCredentials.Load() {
				return errors.New("no credentials")
			}
			return nil
		},
	})
	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/healthz", http.StatusOK, "ok"},
		{"/readyz", http.StatusServiceUnavailable, "credentials"},
		{"/openapi.json", http.StatusOK, `"swagger":"2.0"`},
		{"/nope", http.StatusNotFound, ""},
		{"/", http.StatusOK, `<script type="module" src="/demo.js">`},
		{"/gatepost.js", http.StatusOK, "export async function uploadFile("},
		{"/demo.js", http.StatusOK, `from "/gatepost.js"`},
		{"/demo.css", http.StatusOK, "progress"},
	}
	for _, tt := range tests {
		resp, body := get(t, ts.URL+tt.path)
		if resp.StatusCode != tt.wantCode || !strings.Contains(body, tt.wantBody) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, resp.StatusCode, body, tt.wantCode, tt.wantBody)
		}
	}
	haveCredentials.Store(true)
	if resp, body := get(t, ts.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz with credentials = %d %q, want 200", resp.StatusCode, body)
	}
}
