package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gatepost/gatepost/gateway"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
)

// multipartService records the multipart calls the Companion routes make
// and answers them; the token "refused" is refused as gatepost would.
type multipartService struct {
	gatepostv1.UnimplementedUploadServiceServer
	mu    sync.Mutex
	calls []string // method: the request as JSON
}

func (s *multipartService) record(method string, req proto.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, method+": "+protojson.Format(req))
}

func (s *multipartService) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		return ""
	}
	return s.calls[len(s.calls)-1]
}

func refused(token string) error {
	if token == "refused" {
		return status.Error(codes.PermissionDenied, "upload_token: this upload belongs to another caller")
	}
	return nil
}

func (s *multipartService) CreateMultipartUpload(_ context.Context, req *gatepostv1.CreateMultipartUploadRequest) (*gatepostv1.CreateMultipartUploadResponse, error) {
	s.record("create", req)
	return &gatepostv1.CreateMultipartUploadResponse{UploadToken: "tok.en", Key: "uppy/" + req.GetKey(), Bucket: "b", MaxPartCount: 3}, nil
}

func (s *multipartService) PresignUploadParts(_ context.Context, req *gatepostv1.PresignUploadPartsRequest) (*gatepostv1.PresignUploadPartsResponse, error) {
	s.record("parts", req)
	if err := refused(req.GetUploadToken()); err != nil {
		return nil, err
	}
	return &gatepostv1.PresignUploadPartsResponse{Parts: []*gatepostv1.PresignedPart{{PartNumber: req.GetPartNumbers()[0], Url: "http://s3.test/b/k?partNumber=2", Headers: map[string]string{"X-Amz-Copy-Source-If-Match": `"x"`}}}}, nil
}

func (s *multipartService) ListUploadedParts(_ context.Context, req *gatepostv1.ListUploadedPartsRequest) (*gatepostv1.ListUploadedPartsResponse, error) {
	s.record("list", req)
	return &gatepostv1.ListUploadedPartsResponse{Parts: []*gatepostv1.UploadedPart{{PartNumber: 1, Size: 5 << 20, Etag: `"e1"`}}}, nil
}

func (s *multipartService) CompleteMultipartUpload(_ context.Context, req *gatepostv1.CompleteMultipartUploadRequest) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	s.record("complete", req)
	if req.GetUploadToken() == "rejected" {
		return &gatepostv1.CompleteMultipartUploadResponse{Key: "k", State: gatepostv1.UploadState_UPLOAD_STATE_REJECTED, Reasons: []string{"its bytes are text/html, not the declared video/mp4"}}, nil
	}
	return &gatepostv1.CompleteMultipartUploadResponse{Key: "uppy/a b.mp4", Bucket: "b", Etag: `"e-2"`, Size: 5<<20 + 1}, nil
}

func (s *multipartService) AbortMultipartUpload(_ context.Context, req *gatepostv1.AbortMultipartUploadRequest) (*gatepostv1.AbortMultipartUploadResponse, error) {
	s.record("abort", req)
	if err := refused(req.GetUploadToken()); err != nil {
		return nil, err
	}
	return &gatepostv1.AbortMultipartUploadResponse{}, nil
}

// TestCompanionMultipart: each Companion multipart route becomes
// gatepost's own call, with the token as Uppy's uploadId and the metadata
// the profile does not list dropped, and answers in the shape Uppy reads;
// gatepost's refusals pass through with their status and message.
func TestCompanionMultipart(t *testing.T) {
	t.Parallel()
	svc := &multipartService{}
	ts := newGateway(t, svc, gateway.Options{
		Companion: &gateway.Companion{Profile: "uppy", MetadataKeys: []string{"owner"},
			ObjectURL: func(_ context.Context, bucket, key string) (string, error) {
				return "http://s3.test/" + bucket + "/" + key, nil
			}},
		CORS: config.CORS{AllowedOrigins: []string{"http://app.test"}},
	})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCall                 string // the recorded request, "" for none
		wantBody                 string // JSON, compared as values
		wantMessage              string // for errors: the start of the message
	}{
		{name: "create", method: "POST", path: "/s3/multipart", body: `{"filename":"a b.mp4","type":"video/mp4","metadata":{"name":"a b.mp4","type":"video/mp4","Owner":"ann","n":3}}`,
			wantStatus: 200, wantCall: `create: {"key":"a b.mp4","contentType":"video/mp4","profile":"uppy","metadata":{"owner":"ann"}}`,
			wantBody: `{"uploadId":"tok.en","key":"uppy/a b.mp4","bucket":"b"}`},
		{name: "sign a part", method: "GET", path: "/s3/multipart/tok.en/2?key=ignored",
			wantStatus: 200, wantCall: `parts: {"uploadToken":"tok.en","partNumbers":[2]}`,
			wantBody: `{"url":"http://s3.test/b/k?partNumber=2","headers":{"X-Amz-Copy-Source-If-Match":"\"x\""}}`},
		{name: "list parts", method: "GET", path: "/s3/multipart/tok.en?key=k",
			wantStatus: 200, wantCall: `list: {"uploadToken":"tok.en"}`, wantBody: `[{"PartNumber":1,"ETag":"\"e1\"","Size":5242880}]`},
		{name: "complete", method: "POST", path: "/s3/multipart/tok.en/complete?key=k", body: `{"parts":[{"PartNumber":1,"ETag":"\"e1\""},{"PartNumber":2,"ETag":"e2"}]}`,
			wantStatus: 200, wantCall: `complete: {"uploadToken":"tok.en","parts":[{"partNumber":1,"etag":"\"e1\""},{"partNumber":2,"etag":"e2"}]}`,
			wantBody: `{"key":"uppy/a b.mp4","bucket":"b","etag":"\"e-2\"","size":5242881,"state":"UPLOAD_STATE_UNSPECIFIED","location":"http://s3.test/b/uppy/a b.mp4"}`},
		{name: "abort", method: "DELETE", path: "/s3/multipart/tok.en?key=k", wantStatus: 200, wantCall: `abort: {"uploadToken":"tok.en"}`, wantBody: `{}`},
		{name: "a refused token", method: "GET", path: "/s3/multipart/refused/1", wantStatus: 403, wantCall: `parts: {"uploadToken":"refused","partNumbers":[1]}`,
			wantMessage: "upload_token: this upload belongs to another caller"},
		{name: "a refused abort", method: "DELETE", path: "/s3/multipart/refused", wantStatus: 403, wantCall: `abort: {"uploadToken":"refused"}`,
			wantMessage: "upload_token: this upload belongs to another caller"},
		{name: "a rejected upload", method: "POST", path: "/s3/multipart/rejected/complete", body: `{"parts":[]}`, wantStatus: 400, wantCall: `complete: {"uploadToken":"rejected"}`,
			wantMessage: "file: the upload was rejected: its bytes are text/html, not the declared video/mp4"},
		{name: "not a part number", method: "GET", path: "/s3/multipart/tok.en/two", wantStatus: 400, wantMessage: `partNumber: "two" is not a part number`},
		{name: "part zero", method: "GET", path: "/s3/multipart/tok.en/0", wantStatus: 400, wantMessage: `partNumber: "0" is not a part number`},
		{name: "no body", method: "POST", path: "/s3/multipart", wantStatus: 400, wantMessage: "body: required (JSON)"},
		{name: "not JSON", method: "POST", path: "/s3/multipart", body: `{"filename":`, wantStatus: 400, wantMessage: "body: not the JSON this route takes"},
		{name: "too big", method: "POST", path: "/s3/multipart/tok.en/complete", body: `{"parts":[` + strings.Repeat(`{"PartNumber":1,"ETag":"x"},`, 40000) + `{}]}`,
			wantStatus: 400, wantMessage: "body: over 1048576 bytes"},
		{name: "STS", method: "GET", path: "/s3/sts", wantStatus: 404, wantMessage: "s3/sts: gatepost does not hand out store credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := svc.last()
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer k")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%d (%s) %s; want %d JSON", resp.StatusCode, resp.Header.Get("Content-Type"), raw, tt.wantStatus)
			}
			call := svc.last()
			if call == before {
				call = ""
			}
			if normalize(call) != normalize(tt.wantCall) {
				t.Errorf("gatepost call\n got %s\nwant %s", call, tt.wantCall)
			}
			if tt.wantMessage != "" {
				// Uppy 6 shows only the status text: it carries the message.
				if want := strconv.Itoa(tt.wantStatus) + " " + tt.wantMessage; !strings.HasPrefix(resp.Status, want) {
					t.Errorf("status line %q; want it to start %q", resp.Status, want)
				}
				var e struct{ Message string }
				if json.Unmarshal(raw, &e) != nil || !strings.HasPrefix(e.Message, tt.wantMessage) {
					t.Errorf("message %s; want it to start %q", raw, tt.wantMessage)
				}
				return
			}
			var got, want any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("answer %s: %v", raw, err)
			}
			_ = json.Unmarshal([]byte(tt.wantBody), &want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}

	// The abort route's preflight passes for an allowed origin.
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/s3/multipart/tok.en", nil)
	req.Header.Set("Origin", "http://app.test")
	req.Header.Set("Access-Control-Request-Method", "DELETE")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Errorf("DELETE preflight: %d, allowed methods %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Methods"))
	}
}

// normalize removes the spaces protojson.Format puts in.
func normalize(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// TestCompanionErrorFraming: an error answer written with its own status
// line has one framing (Content-Length), whatever the request asked
// (TE: trailers once made grpc-gateway add chunked encoding too), and a
// HEAD gets no body.
func TestCompanionErrorFraming(t *testing.T) {
	t.Parallel()
	ts := newGateway(t, &multipartService{}, gateway.Options{Companion: &gateway.Companion{Profile: "uppy"}})
	for _, method := range []string{"GET", "HEAD"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s /s3/multipart/refused/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nTE: trailers\r\nConnection: close\r\n\r\n", method)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		raw, _ := io.ReadAll(conn)
		conn.Close()
		head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 403") || strings.Contains(strings.ToLower(head), "transfer-encoding") || !strings.Contains(head, "Content-Length: ") {
			t.Errorf("%s: answer head %q", method, head)
		}
		if (method == "HEAD") != (body == "") {
			t.Errorf("%s: body %q", method, body)
		}
	}
}
