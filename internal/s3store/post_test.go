package s3store_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/s3store"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

const (
	testAccessKey = "AKIDEXAMPLE"
	testSecret    = "secret"
	testRegion    = "us-east-1"
	// testEndpoint is a loopback address nothing listens on: presigning is
	// offline, and nothing in these tests may leave the machine.
	testEndpoint = "http://127.0.0.1:9"
	testBucket   = "uploads"

	amzDateLayout = "20060102T150405Z"
)

// testS3 is the S3 configuration every signer in these tests uses.
var testS3 = config.S3{Region: testRegion, Endpoint: testEndpoint, PathStyle: true}

func TestMain(m *testing.M) {
	// The SDK's credential chain must never try the instance metadata
	// address, and the host's AWS files and profile must not change what
	// the tests sign.
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// newSigner returns a Signer for testS3 that signs with provider.
func newSigner(tb testing.TB, provider aws.CredentialsProvider) *s3store.Store {
	tb.Helper()
	s, err := s3store.New(tb.Context(), testS3, awsconfig.WithCredentialsProvider(provider))
	if err != nil {
		tb.Fatalf("s3store.New: %v", err)
	}
	return s
}

func staticProvider(token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, token)
}

// expiringProvider returns temporary credentials that expire at expires.
func expiringProvider(token string, expires time.Time) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{
			AccessKeyID:     testAccessKey,
			SecretAccessKey: testSecret,
			SessionToken:    token,
			Source:          "test",
			CanExpire:       true,
			Expires:         expires,
		}, nil
	})
}

// testPost is a complete upload decision, as the service would make it.
func testPost() *uploadpolicy.Post {
	return &uploadpolicy.Post{
		Bucket:      testBucket,
		Key:         "user-uploads/2026/photo 1.png",
		ContentType: "image/png",
		MinBytes:    1,
		MaxBytes:    10 << 20,
		Metadata:    map[string]string{"origin": "web-form", "note": "hello world"},
		Expires:     10 * time.Minute,
	}
}

// policy is a decoded POST policy document. Numbers stay json.Number so
// that content-length-range bounds compare exactly.
type policy struct {
	Expiration string `json:"expiration"`
	Conditions []any  `json:"conditions"`
}

// decodePolicy base64-decodes and strictly JSON-decodes a policy field.
func decodePolicy(field string) (*policy, error) {
	raw, err := base64.StdEncoding.DecodeString(field)
	if err != nil {
		return nil, fmt.Errorf("policy is not base64: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var p policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy is not a JSON policy document: %w (%s)", err, raw)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the policy document: %s", raw)
	}
	return &p, nil
}

// exactConditions returns the {"field": "value"} conditions of p, and an
// error if one of them has other than exactly one string entry.
func exactConditions(p *policy) ([][2]string, error) {
	var out [][2]string
	for _, c := range p.Conditions {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if len(m) != 1 {
			return nil, fmt.Errorf("condition %v has %d entries, want 1", m, len(m))
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("condition %v has a non-string value", m)
			}
			out = append(out, [2]string{k, s})
		}
	}
	return out, nil
}

// checkFieldsMatchPolicy reports the ways in which the form fields and the
// policy disagree: S3 rejects a form that lacks a field a condition names,
// and one with a field no condition covers ("Extra input fields").
func checkFieldsMatchPolicy(fields map[string]string, p *policy) []string {
	var problems []string
	exact, err := exactConditions(p)
	if err != nil {
		return []string{err.Error()}
	}
	covered := map[string]bool{}
	for _, kv := range exact {
		name, value := kv[0], kv[1]
		if name == "bucket" {
			// The bucket is in the URL, not in a field.
			continue
		}
		covered[name] = true
		got, ok := fields[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("condition {%q: %q} has no form field", name, value))
		case got != value:
			problems = append(problems, fmt.Sprintf("field %q = %q, but the policy pins %q", name, got, value))
		}
	}
	for _, c := range p.Conditions {
		if arr, ok := c.([]any); ok && len(arr) == 3 && (arr[0] == "eq" || arr[0] == "starts-with") {
			name, _ := arr[1].(string)
			name = strings.TrimPrefix(name, "$")
			covered[name] = true
			if _, ok := fields[name]; !ok {
				problems = append(problems, fmt.Sprintf("condition %v has no form field", arr))
			}
		}
	}
	for name := range fields {
		switch name {
		case "policy", "X-Amz-Signature":
			// S3 never expects these to be covered by a condition.
		default:
			if !covered[name] {
				problems = append(problems, fmt.Sprintf("field %q is not covered by any condition", name))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// postSignature computes a SigV4 POST signature independently of the SDK:
// hex(HMAC-SHA256(kSigning, base64 policy)).
func postSignature(secret, day, region, policyBase64 string) string {
	kDate := hmacSHA256([]byte("AWS4"+secret), day)
	kRegion := hmacSHA256(kDate, region)
	kService := hmacSHA256(kRegion, "s3")
	kSigning := hmacSHA256(kService, "aws4_request")
	return hex.EncodeToString(hmacSHA256(kSigning, policyBase64))
}

// sortConditions orders policy conditions for comparison: their order has
// no meaning to S3.
var sortConditions = cmpopts.SortSlices(func(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) < string(jb)
})

func TestSignPost(t *testing.T) {
	t.Parallel()

	farFuture := time.Now().Add(24 * time.Hour)
	tests := []struct {
		name     string
		provider aws.CredentialsProvider
		token    string
	}{
		{name: "static credentials", provider: staticProvider("")},
		{name: "static credentials with session token", provider: staticProvider("session-token-1"), token: "session-token-1"},
		{name: "temporary credentials outliving the policy", provider: expiringProvider("session-token-2", farFuture), token: "session-token-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signer := newSigner(t, tt.provider)
			post := testPost()

			before := time.Now()
			signed, err := signer.SignPost(t.Context(), post)
			after := time.Now()
			if err != nil {
				t.Fatalf("SignPost: %v", err)
			}

			if want := testEndpoint + "/" + testBucket; signed.URL != want {
				t.Errorf("URL = %q, want %q", signed.URL, want)
			}

			// The returned fields: exactly these names, no more, no less.
			wantNames := []string{
				"Content-Encoding", "Content-Type", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature",
				"key", "policy", "x-amz-meta-note", "x-amz-meta-origin",
			}
			if tt.token != "" {
				wantNames = append(wantNames, "X-Amz-Security-Token")
			}
			slices.Sort(wantNames)
			gotNames := slices.Sorted(maps.Keys(signed.Fields))
			if diff := cmp.Diff(wantNames, gotNames); diff != "" {
				t.Errorf("field names mismatch (-want +got):\n%s", diff)
			}

			// X-Amz-Date is the signing time, in UTC, to the second.
			amzDate := signed.Fields["X-Amz-Date"]
			signedAt, err := time.Parse(amzDateLayout, amzDate)
			if err != nil {
				t.Fatalf("X-Amz-Date %q: %v", amzDate, err)
			}
			if signedAt.Before(before.Truncate(time.Second)) || signedAt.After(after) {
				t.Errorf("X-Amz-Date = %s, want between %s and %s", signedAt, before.UTC(), after.UTC())
			}
			day := signedAt.Format("20060102")
			credential := testAccessKey + "/" + day + "/" + testRegion + "/s3/aws4_request"

			wantFields := map[string]string{
				"Content-Encoding":  "",
				"Content-Type":      "image/png",
				"X-Amz-Algorithm":   "AWS4-HMAC-SHA256",
				"X-Amz-Credential":  credential,
				"X-Amz-Date":        amzDate,
				"key":               post.Key,
				"x-amz-meta-note":   "hello world",
				"x-amz-meta-origin": "web-form",
			}
			if tt.token != "" {
				wantFields["X-Amz-Security-Token"] = tt.token
			}
			gotFields := without(signed.Fields, "policy", "X-Amz-Signature")
			if diff := cmp.Diff(wantFields, gotFields); diff != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", diff)
			}

			pol, err := decodePolicy(signed.Fields["policy"])
			if err != nil {
				t.Fatal(err)
			}

			// Every condition, exactly; order does not matter to S3.
			wantConds := []any{
				map[string]any{"X-Amz-Algorithm": "AWS4-HMAC-SHA256"},
				map[string]any{"bucket": testBucket},
				map[string]any{"X-Amz-Credential": credential},
				map[string]any{"X-Amz-Date": amzDate},
				map[string]any{"key": post.Key},
				map[string]any{"Content-Type": "image/png"},
				[]any{"content-length-range", json.Number("1"), json.Number(strconv.Itoa(10 << 20))},
				map[string]any{"Content-Encoding": ""},
				map[string]any{"x-amz-meta-note": "hello world"},
				map[string]any{"x-amz-meta-origin": "web-form"},
			}
			if tt.token != "" {
				wantConds = append(wantConds, map[string]any{"X-Amz-Security-Token": tt.token})
			}
			if diff := cmp.Diff(wantConds, pol.Conditions, sortConditions); diff != "" {
				t.Errorf("policy conditions mismatch (-want +got):\n%s", diff)
			}

			// Spelled out, because a second key condition or a starts-with
			// would let a client choose its own key.
			var keys []string
			for _, c := range pol.Conditions {
				if m, ok := c.(map[string]any); ok {
					if v, ok := m["key"]; ok {
						keys = append(keys, fmt.Sprint(v))
					}
				}
				if arr, ok := c.([]any); ok && len(arr) > 0 && arr[0] == "starts-with" {
					t.Errorf("policy has a starts-with condition %v; every field must be pinned exactly", arr)
				}
			}
			if diff := cmp.Diff([]string{post.Key}, keys); diff != "" {
				t.Errorf("key conditions mismatch (-want +got):\n%s", diff)
			}

			for _, p := range checkFieldsMatchPolicy(signed.Fields, pol) {
				t.Error(p)
			}

			// The expiration: RFC 3339, about ten minutes after signing, and
			// what Signed.ExpiresAt says.
			expiration, err := time.Parse(time.RFC3339, pol.Expiration)
			if err != nil {
				t.Fatalf("expiration %q is not RFC 3339: %v", pol.Expiration, err)
			}
			if !strings.HasSuffix(pol.Expiration, "Z") {
				t.Errorf("expiration %q is not in UTC", pol.Expiration)
			}
			lo := before.Add(post.Expires).Truncate(time.Second)
			hi := after.Add(post.Expires)
			if expiration.Before(lo) || expiration.After(hi) {
				t.Errorf("expiration = %s, want between %s and %s", expiration, lo.UTC(), hi.UTC())
			}
			if !signed.ExpiresAt.Equal(expiration) {
				t.Errorf("ExpiresAt = %s, but the policy says %s", signed.ExpiresAt, expiration)
			}

			// The signature, recomputed with SigV4's key derivation.
			if got, want := signed.Fields["X-Amz-Signature"], postSignature(testSecret, day, testRegion, signed.Fields["policy"]); got != want {
				t.Errorf("X-Amz-Signature = %s, want %s", got, want)
			}
		})
	}
}

// without returns a copy of m without the names in drop.
func without(m map[string]string, drop ...string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}

// TestSignPostClampsToCredentials checks the expiryClamp wrapper: a policy
// never outlives the temporary credentials that sign it.
func TestSignPostClampsToCredentials(t *testing.T) {
	t.Parallel()

	now := time.Now()
	tests := []struct {
		name         string
		credsExpire  time.Time
		wantErr      error
		wantClamped  bool
		wantNotAfter time.Time
	}{
		{
			name:         "credentials expire before the policy would",
			credsExpire:  now.Add(2 * time.Minute),
			wantClamped:  true,
			wantNotAfter: now.Add(2 * time.Minute),
		},
		{
			name:        "credentials outlive the policy",
			credsExpire: now.Add(time.Hour),
		},
		{
			name:        "credentials already expired",
			credsExpire: now.Add(-time.Minute),
			wantErr:     objectstore.ErrCredentialsExpired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signer := newSigner(t, expiringProvider("token", tt.credsExpire))
			post := testPost() // asks for 10 minutes

			before := time.Now()
			signed, err := signer.SignPost(t.Context(), post)
			after := time.Now()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SignPost error = %v, want %v", err, tt.wantErr)
				}
				if signed != nil {
					t.Errorf("SignPost returned %+v with an error", signed)
				}
				return
			}
			if err != nil {
				t.Fatalf("SignPost: %v", err)
			}
			pol, err := decodePolicy(signed.Fields["policy"])
			if err != nil {
				t.Fatal(err)
			}
			expiration, err := time.Parse(time.RFC3339, pol.Expiration)
			if err != nil {
				t.Fatalf("expiration %q: %v", pol.Expiration, err)
			}
			if !signed.ExpiresAt.Equal(expiration) {
				t.Errorf("ExpiresAt = %s, but the policy says %s", signed.ExpiresAt, expiration)
			}
			if !expiration.After(before.Truncate(time.Second)) {
				t.Errorf("expiration %s is not after signing (%s)", expiration, before.UTC())
			}
			if tt.wantClamped {
				if expiration.After(tt.wantNotAfter) {
					t.Errorf("expiration = %s, after the credentials expire (%s)", expiration, tt.wantNotAfter.UTC())
				}
				if expiration.After(tt.credsExpire) {
					t.Errorf("expiration = %s, after the credentials expire (%s)", expiration, tt.credsExpire.UTC())
				}
				return
			}
			lo := before.Add(post.Expires).Truncate(time.Second)
			hi := after.Add(post.Expires)
			if expiration.Before(lo) || expiration.After(hi) {
				t.Errorf("expiration = %s, want the full %s (between %s and %s)", expiration, post.Expires, lo.UTC(), hi.UTC())
			}
		})
	}
}

// TestSignPostRefusesInvalidUTF8 checks that SignPost refuses what a JSON
// policy cannot carry: json.Marshal would pin U+FFFD in the policy while the
// field keeps the raw bytes, and S3 would refuse every upload.
func TestSignPostRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		modify func(*uploadpolicy.Post)
	}{
		{name: "key", modify: func(p *uploadpolicy.Post) { p.Key = "photos/\xff.png" }},
		{name: "content type", modify: func(p *uploadpolicy.Post) { p.ContentType = "image/\xc3" }},
		{name: "metadata value", modify: func(p *uploadpolicy.Post) { p.Metadata["note"] = "caf\xe9" }},
		{name: "metadata name", modify: func(p *uploadpolicy.Post) { p.Metadata["\xfe"] = "x" }},
	}
	signer := newSigner(t, staticProvider(""))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			post := testPost()
			tt.modify(post)
			signed, err := signer.SignPost(t.Context(), post)
			if err == nil {
				t.Fatalf("SignPost succeeded with fields %q, want an error", signed.Fields)
			}
		})
	}
}

func TestReady(t *testing.T) {
	t.Parallel()

	errNoCreds := errors.New("no credentials here")
	tests := []struct {
		name     string
		provider aws.CredentialsProvider
		wantErr  bool
		wantIs   error
	}{
		{name: "static credentials", provider: staticProvider("")},
		{name: "temporary credentials still valid", provider: expiringProvider("t", time.Now().Add(time.Hour))},
		{
			name: "provider fails",
			provider: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errNoCreds
			}),
			wantErr: true,
			wantIs:  errNoCreds,
		},
		{
			name:     "credentials expired",
			provider: expiringProvider("t", time.Now().Add(-time.Minute)),
			wantErr:  true,
			wantIs:   objectstore.ErrCredentialsExpired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := newSigner(t, tt.provider).Ready(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Ready() = %v, want error: %t", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Ready() = %v, want it to wrap %v", err, tt.wantIs)
			}
		})
	}
}

func BenchmarkSignPost(b *testing.B) {
	signer := newSigner(b, staticProvider(""))
	post := testPost()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signer.SignPost(ctx, post); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBarePresignPostObject measures the SDK alone, with the same
// configuration and only a bucket and key, as a baseline for SignPost.
func BenchmarkBarePresignPostObject(b *testing.B) {
	ctx := b.Context()
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(testRegion),
		awsconfig.WithCredentialsProvider(staticProvider("")))
	if err != nil {
		b.Fatal(err)
	}
	presign := s3.NewPresignClient(s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(testEndpoint)
		o.UsePathStyle = true
	}))
	in := &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(testPost().Key)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := presign.PresignPostObject(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzSignPost(f *testing.F) {
	f.Add("user-uploads/photo.png", "image/png", int64(1), int64(10<<20), "web")
	f.Add("", "", int64(0), int64(0), "")
	f.Add("a/../b", "image/*", int64(-1), int64(-5), "line\nbreak")
	f.Add("${filename}", "text/plain; charset=utf-8", int64(10), int64(1), "é")
	f.Add("\xff\xfe", "\x00", int64(1<<62), int64(-1<<63), "\xc3")
	f.Add(`"quoted" {"key": "x"}`, `"`, int64(0), int64(1), `\`)
	f.Add("\u2028<script>&", "a/b", int64(0), int64(0), "\u0000")

	signer := newSigner(f, staticProvider(""))
	f.Fuzz(func(t *testing.T, key, contentType string, minBytes, maxBytes int64, metaValue string) {
		post := &uploadpolicy.Post{
			Bucket:      testBucket,
			Key:         key,
			ContentType: contentType,
			MinBytes:    minBytes,
			MaxBytes:    maxBytes,
			Metadata:    map[string]string{"note": metaValue},
			Expires:     10 * time.Minute,
		}
		signed, err := signer.SignPost(t.Context(), post)
		if err != nil {
			return
		}
		pol, err := decodePolicy(signed.Fields["policy"])
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, c := range pol.Conditions {
			switch c := c.(type) {
			case map[string]any:
				if v, ok := c["key"]; ok {
					s, _ := v.(string)
					keys = append(keys, s)
				}
			case []any:
				if len(c) > 1 && c[1] == "$key" {
					t.Errorf("policy has a key condition %v", c)
				}
			}
		}
		if diff := cmp.Diff([]string{key}, keys); diff != "" {
			t.Errorf("key conditions mismatch (-want +got):\n%s", diff)
		}
		for _, p := range checkFieldsMatchPolicy(signed.Fields, pol) {
			t.Error(p)
		}
	})
}

// TestObjectURL: an object's URL is its bucket's URL and the key, each
// segment escaped.
func TestObjectURL(t *testing.T) {
	t.Parallel()
	s := newSigner(t, staticProvider(""))
	got, err := s.ObjectURL(t.Context(), testBucket, "a dir/ü?#.txt")
	if err != nil {
		t.Fatal(err)
	}
	bucketURL, err := s.SignPost(t.Context(), &uploadpolicy.Post{Bucket: testBucket, Key: "k", ContentType: "text/plain", MaxBytes: 1, Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(bucketURL.URL, "/") + "/a%20dir/%C3%BC%3F%23.txt"; got != want {
		t.Errorf("ObjectURL = %q, want %q", got, want)
	}
}
