package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/gatepost/gatepost/e2e/storeproc"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/s3store"
)

// presigned is the REST answer of GET /v1/presign.
type presigned struct {
	URL              string            `json:"url"`
	Fields           map[string]string `json:"fields"`
	Key              string            `json:"key"`
	Bucket           string            `json:"bucket"`
	ExpiresAt        time.Time         `json:"expires_at"`
	MaxContentLength string            `json:"max_content_length"`
}

// presignREST asks gatepost's REST gateway for a presigned POST and fails
// the test unless it gets one.
func (st *target) presignREST(t *testing.T, query url.Values) presigned {
	t.Helper()
	status, body := st.getREST(t, "/v1/presign?"+query.Encode())
	if status != http.StatusOK {
		t.Fatalf("GET /v1/presign?%s: status %d: %s", query.Encode(), status, body)
	}
	var p presigned
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decode presign answer %s: %v", body, err)
	}
	return p
}

// getREST sends a GET to gatepost's HTTP listener.
func (st *target) getREST(t *testing.T, pathAndQuery string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+st.gatepost.HTTPAddr()+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", pathAndQuery, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", pathAndQuery, err)
	}
	return resp.StatusCode, body
}

// formField is one multipart form field, in order.
type formField struct{ name, value string }

// postForm uploads content to url as a browser would: every field, then the
// file last. It returns the HTTP status and S3's error code, if any.
func postForm(t *testing.T, target string, fields []formField, content []byte) (int, string) {
	t.Helper()
	return postFormWithHeaders(t, target, fields, content, nil)
}

// postFormWithHeaders is postForm with extra headers on the POST request
// itself (not form fields, which a policy covers).
func postFormWithHeaders(t *testing.T, target string, fields []formField, content []byte, headers map[string]string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, f := range fields {
		if err := w.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	part, err := w.CreateFormFile("file", "upload.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, target, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(resp.Body)
	code, message := s3Error(respBody)
	if resp.StatusCode >= 300 {
		t.Logf("POST answered %d %s: %s", resp.StatusCode, code, message)
	}
	return resp.StatusCode, code
}

// s3Error reads the code and message of an S3 XML error answer.
func s3Error(body []byte) (code, message string) {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(body, &e)
	return e.Code, e.Message
}

// fieldsOf turns a presigned answer's fields into form fields, in a fixed
// order.
func fieldsOf(p presigned) []formField {
	var out []formField
	for _, name := range sortedKeys(p.Fields) {
		out = append(out, formField{name, p.Fields[name]})
	}
	return out
}

// headObject returns the object's metadata, or nil if it does not exist.
func (st *target) headObject(t *testing.T, key string) *s3.HeadObjectOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := st.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NotFound" || apiErr.ErrorCode() == "NoSuchKey") {
			return nil
		}
		t.Fatalf("HEAD %s: %v", key, err)
	}
	return out
}

// getObject returns the object's bytes.
func (st *target) getObject(t *testing.T, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := st.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func query(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func itoa(n int) string { return strconv.Itoa(n) }

// credentials gives the AWS SDK the store's full-rights credentials.
func (st *target) credentials() func(*awsconfig.LoadOptions) error {
	return awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(st.AccessKey, st.SecretKey, ""))
}

// s3store returns gatepost's own store adapter for the store, with full
// rights, for testing its calls directly.
func (st *target) s3store(t *testing.T) *s3store.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), config.S3{Region: storeproc.Region, Endpoint: st.Endpoint, PathStyle: true}, st.credentials())
	if err != nil {
		t.Fatalf("s3store: %v", err)
	}
	return s
}
