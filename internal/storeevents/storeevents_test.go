package storeevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatepost/gatepost/internal/storeevents"
)

// minioBody is a MinIO webhook body (its shape as MinIO sends it: the
// S3 records plus EventName and Key at the top).
const minioBody = `{"EventName":"s3:ObjectCreated:Post","Key":"uploads/user-uploads/a%20b.png","Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Post","s3":{"bucket":{"name":"uploads"},"object":{"key":"user-uploads/a+b%2Bc.png","size":1234,"eTag":"d41d8cd98f00b204e9800998ecf8427e","contentType":"image/png","userMetadata":{"content-type":"image/png"}}}}]}`

// awsBody is an AWS S3 event with a creation and a removal.
const awsBody = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"videos"},"object":{"key":"v/1.mp4","size":99,"eTag":"\"abc-2\""}}},{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"videos"},"object":{"key":"v/0.mp4"}}}]}`

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       []storeevents.Object
		wantErr    string
	}{
		{"MinIO POST, key with + and %2B", minioBody, []storeevents.Object{{Bucket: "uploads", Key: "user-uploads/a b+c.png", Size: 1234, ETag: "d41d8cd98f00b204e9800998ecf8427e", Event: "ObjectCreated:Post"}}, ""},
		{"AWS: creations only", awsBody, []storeevents.Object{{Bucket: "videos", Key: "v/1.mp4", Size: 99, ETag: "abc-2", Event: "ObjectCreated:CompleteMultipartUpload"}}, ""},
		{"AWS test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"videos"}`, nil, ""},
		{"not JSON", `<xml/>`, nil, "body: not S3 event JSON"},
		{"a bad key encoding", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}`, nil, "Records[0].s3.object.key"},
		{"no bucket", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"k"}}}]}`, nil, "Records[0]: no bucket or key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := storeevents.Parse([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("Parse: %v; want an error starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCheckSubscribeURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:1:t&Token=x", true},
		{"https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=x", true},
		{"http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription", false},
		{"https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription", false},
		{"https://169.254.169.254/latest/meta-data/?Action=ConfirmSubscription", false},
		{"https://sns.eu-west-1.amazonaws.com:8443/?Action=ConfirmSubscription", false},
		{"https://user@sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription", false},
		{"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe", false},
	} {
		if err := storeevents.CheckSubscribeURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckSubscribeURL(%q) = %v; want ok %t", tc.url, err, tc.ok)
		}
	}
}

// TestHandler: the endpoint takes events with the secret (bearer or basic)
// and refuses everything else with a 4xx, nothing handed on.
func TestHandler(t *testing.T) {
	t.Parallel()
	var got []storeevents.Object
	failing := false
	confirmed := ""
	h := &storeevents.Handler{
		Secret: "s3cr3t",
		Created: func(_ context.Context, objects []storeevents.Object) error {
			if failing {
				return errors.New("queue full")
			}
			got = append(got, objects...)
			return nil
		},
		Confirm: func(_ context.Context, u string) error { confirmed = u; return nil },
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	snsNote, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": awsBody})
	confirm, _ := json.Marshal(map[string]string{"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"})
	forgedConfirm, _ := json.Marshal(map[string]string{"Type": "SubscriptionConfirmation", "SubscribeURL": "http://127.0.0.1:1/?Action=ConfirmSubscription"})
	for _, tc := range []struct {
		name       string
		method     string
		auth       func(*http.Request)
		snsType    string
		body       string
		fail       bool
		wantStatus int
		wantN      int
	}{
		{"MinIO with the bearer secret", "POST", bearer("s3cr3t"), "", minioBody, false, 200, 1},
		{"SNS with basic auth", "POST", basic("sns", "s3cr3t"), "Notification", string(snsNote), false, 200, 1},
		{"a forged event: no secret", "POST", func(*http.Request) {}, "", minioBody, false, 401, 0},
		{"a forged event: wrong secret", "POST", bearer("guess"), "", minioBody, false, 401, 0},
		{"a forged event: wrong basic password", "POST", basic("sns", "guess"), "", minioBody, false, 401, 0},
		{"GET", "GET", bearer("s3cr3t"), "", "", false, 405, 0},
		{"garbage", "POST", bearer("s3cr3t"), "", "{", false, 400, 0},
		{"too large", "POST", bearer("s3cr3t"), "", strings.Repeat(" ", storeevents.MaxBody+1), false, 413, 0},
		{"the receiver cannot take it now", "POST", bearer("s3cr3t"), "", minioBody, true, 503, 0},
		{"SNS confirmation", "POST", basic("sns", "s3cr3t"), "SubscriptionConfirmation", string(confirm), false, 200, 0},
		{"SNS confirmation to somewhere else", "POST", basic("sns", "s3cr3t"), "SubscriptionConfirmation", string(forgedConfirm), false, 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, failing, confirmed = nil, tc.fail, ""
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, srv.URL, strings.NewReader(tc.body))
			tc.auth(req)
			if tc.snsType != "" {
				req.Header.Set("x-amz-sns-message-type", tc.snsType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || len(got) != tc.wantN {
				t.Errorf("status %d with %d objects handed on; want %d, %d", resp.StatusCode, len(got), tc.wantStatus, tc.wantN)
			}
			if tc.snsType == "SubscriptionConfirmation" && (confirmed != "") != (tc.wantStatus == 200) {
				t.Errorf("confirmed %q with status %d", confirmed, resp.StatusCode)
			}
		})
	}
}

func bearer(s string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s) }
}

func basic(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}
