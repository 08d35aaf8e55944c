package uploadpolicy_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

func TestParseContentType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		ct            string
		wantCanonical string
		wantMediaType string
		wantErr       bool
		// wantMsg, if set, must appear in the error message.
		wantMsg string
	}{
		{name: "plain", ct: "image/png", wantCanonical: "image/png", wantMediaType: "image/png"},
		{name: "uppercase lowered", ct: "IMAGE/PNG", wantCanonical: "image/png", wantMediaType: "image/png"},
		{name: "mixed case lowered", ct: "Application/PDF", wantCanonical: "application/pdf", wantMediaType: "application/pdf"},
		{name: "structured suffix", ct: "application/vnd.api+json", wantCanonical: "application/vnd.api+json", wantMediaType: "application/vnd.api+json"},
		{name: "surrounding spaces dropped", ct: " image/png ", wantCanonical: "image/png", wantMediaType: "image/png"},
		{name: "parameter kept", ct: "text/plain; charset=utf-8", wantCanonical: "text/plain; charset=utf-8", wantMediaType: "text/plain"},
		{name: "parameter spacing made canonical", ct: "text/plain;charset=utf-8", wantCanonical: "text/plain; charset=utf-8", wantMediaType: "text/plain"},
		{name: "parameter name lowered, value kept", ct: "Text/Plain; Charset=UTF-8", wantCanonical: "text/plain; charset=UTF-8", wantMediaType: "text/plain"},
		{name: "needless quotes dropped", ct: `text/plain; charset="utf-8"`, wantCanonical: "text/plain; charset=utf-8", wantMediaType: "text/plain"},
		{name: "needed quotes kept", ct: `text/plain; x="a b"`, wantCanonical: `text/plain; x="a b"`, wantMediaType: "text/plain"},
		{name: "parameters sorted", ct: "text/plain; b=2; a=1", wantCanonical: "text/plain; a=1; b=2", wantMediaType: "text/plain"},
		{name: "exactly 255 bytes", ct: "image/" + strings.Repeat("a", 249), wantCanonical: "image/" + strings.Repeat("a", 249), wantMediaType: "image/" + strings.Repeat("a", 249)},

		{name: "empty", ct: "", wantErr: true, wantMsg: "required"},
		{name: "type only", ct: "image", wantErr: true, wantMsg: "type/subtype"},
		{name: "empty subtype", ct: "image/", wantErr: true},
		{name: "empty type", ct: "/png", wantErr: true},
		{name: "two slashes", ct: "image/png/x", wantErr: true},
		{name: "any type", ct: "*/*", wantErr: true, wantMsg: "wildcard"},
		{name: "any subtype", ct: "image/*", wantErr: true, wantMsg: "wildcard"},
		{name: "any type of a subtype", ct: "*/png", wantErr: true, wantMsg: "wildcard"},
		{name: "non-ASCII", ct: "image/pngé", wantErr: true, wantMsg: "ASCII"},
		{name: "invalid UTF-8", ct: "image/\xff", wantErr: true},
		{name: "NUL", ct: "image/png\x00", wantErr: true},
		{name: "newline", ct: "image/png\r\nX-Evil: 1", wantErr: true},
		{name: "tab", ct: "image/png;\tcharset=utf-8", wantErr: true},
		{name: "DEL", ct: "image/png\x7f", wantErr: true},
		{name: "256 bytes", ct: "image/" + strings.Repeat("a", 250), wantErr: true, wantMsg: "255"},
		{name: "space inside the type", ct: "a b/c", wantErr: true},
		{name: "separator in the type", ct: "image@x/png", wantErr: true},
		{name: "parameter without value", ct: "text/plain; charset", wantErr: true},
		{name: "duplicate parameter", ct: "text/plain; a=1; a=2", wantErr: true},
		{name: "parameter only", ct: "; charset=utf-8", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canonical, mediaType, err := uploadpolicy.ParseContentType(tc.ct)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("ParseContentType(%q) = %q, %q, %v, want error: %t", tc.ct, canonical, mediaType, err, tc.wantErr)
			}
			if err != nil {
				if canonical != "" || mediaType != "" {
					t.Errorf("ParseContentType(%q) returned %q, %q together with an error", tc.ct, canonical, mediaType)
				}
				if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("ParseContentType(%q) error = %q, want a message containing %q", tc.ct, err, tc.wantMsg)
				}
				return
			}
			if diff := cmp.Diff(tc.wantCanonical, canonical); diff != "" {
				t.Errorf("ParseContentType(%q) canonical mismatch (-want +got):\n%s", tc.ct, diff)
			}
			if diff := cmp.Diff(tc.wantMediaType, mediaType); diff != "" {
				t.Errorf("ParseContentType(%q) media type mismatch (-want +got):\n%s", tc.ct, diff)
			}
			// The canonical form is a fixed point: S3 compares it byte for
			// byte with what the client sends.
			again, _, err := uploadpolicy.ParseContentType(canonical)
			if err != nil {
				t.Fatalf("ParseContentType(%q) of the canonical form: %v", canonical, err)
			}
			if diff := cmp.Diff(canonical, again); diff != "" {
				t.Errorf("canonical form is not stable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContentTypeAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mediaType string
		allowed   []string
		want      bool
	}{
		{name: "exact", mediaType: "image/png", allowed: []string{"image/png"}, want: true},
		{name: "exact among others", mediaType: "application/pdf", allowed: []string{"image/png", "application/pdf"}, want: true},
		{name: "type wildcard", mediaType: "text/plain", allowed: []string{"text/*"}, want: true},
		{name: "any", mediaType: "application/octet-stream", allowed: []string{"*/*"}, want: true},
		{name: "no match", mediaType: "image/gif", allowed: []string{"image/png", "image/jpeg", "text/*"}, want: false},
		{name: "empty allow-list", mediaType: "image/png", allowed: nil, want: false},
		{name: "longer type is not under the wildcard", mediaType: "textx/plain", allowed: []string{"text/*"}, want: false},
		{name: "shorter type is not under the wildcard", mediaType: "tex/plain", allowed: []string{"text/*"}, want: false},
		{name: "subtype wildcard is not a type wildcard", mediaType: "image/text", allowed: []string{"text/*"}, want: false},
		{name: "subtype prefix does not match", mediaType: "image/png", allowed: []string{"image/pn"}, want: false},
		{name: "subtype with suffix does not match", mediaType: "image/png+x", allowed: []string{"image/png"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := uploadpolicy.ContentTypeAllowed(tc.mediaType, tc.allowed); got != tc.want {
				t.Errorf("ContentTypeAllowed(%q, %q) = %t, want %t", tc.mediaType, tc.allowed, got, tc.want)
			}
		})
	}
}

func TestPostConditions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		post uploadpolicy.Post
		want []any
	}{
		{
			name: "without metadata",
			post: uploadpolicy.Post{
				Bucket: "uploads", Key: "user-uploads/a.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 15 * time.Minute,
			},
			want: []any{
				map[string]string{"key": "user-uploads/a.png"},
				map[string]string{"Content-Type": "image/png"},
				[]any{"content-length-range", int64(1), int64(10 << 20)},
				map[string]string{"Content-Encoding": ""},
			},
		},
		{
			name: "metadata in sorted order",
			post: uploadpolicy.Post{
				Bucket: "uploads", Key: "k", ContentType: "text/plain; charset=utf-8",
				MinBytes: 0, MaxBytes: 5 << 30,
				Metadata: map[string]string{"origin": "web", "a-note": "hi", "z": ""},
			},
			want: []any{
				map[string]string{"key": "k"},
				map[string]string{"Content-Type": "text/plain; charset=utf-8"},
				[]any{"content-length-range", int64(0), int64(5 << 30)},
				map[string]string{"Content-Encoding": ""},
				map[string]string{"x-amz-meta-a-note": "hi"},
				map[string]string{"x-amz-meta-origin": "web"},
				map[string]string{"x-amz-meta-z": ""},
			},
		},
		{
			name: "pinned headers",
			post: uploadpolicy.Post{
				Key: "k", ContentType: "text/html", MinBytes: 1, MaxBytes: 9,
				Headers:  uploadpolicy.Headers{CacheControl: "private, max-age=60", ContentDisposition: "attachment"},
				Metadata: map[string]string{"origin": "web"},
			},
			want: []any{
				map[string]string{"key": "k"},
				map[string]string{"Content-Type": "text/html"},
				[]any{"content-length-range", int64(1), int64(9)},
				map[string]string{"Cache-Control": "private, max-age=60"},
				map[string]string{"Content-Disposition": "attachment"},
				map[string]string{"Content-Encoding": ""},
				map[string]string{"x-amz-meta-origin": "web"},
			},
		},
		{
			name: "exact length",
			post: uploadpolicy.Post{Key: "k", ContentType: "image/png", MinBytes: 42, MaxBytes: 42, Metadata: map[string]string{}},
			want: []any{
				map[string]string{"key": "k"},
				map[string]string{"Content-Type": "image/png"},
				[]any{"content-length-range", int64(42), int64(42)},
				map[string]string{"Content-Encoding": ""},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conds, _ := uploadConditions(t, &tc.post)
			if diff := cmp.Diff(tc.want, conds); diff != "" {
				t.Errorf("conditions mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		post uploadpolicy.Post
		want map[string]string
	}{
		{
			name: "without metadata",
			post: uploadpolicy.Post{Bucket: "uploads", Key: "user-uploads/a.png", ContentType: "image/png", MaxBytes: 10},
			want: map[string]string{"Content-Type": "image/png", "Content-Encoding": ""},
		},
		{
			name: "with metadata",
			post: uploadpolicy.Post{
				Bucket: "uploads", Key: "k", ContentType: "text/plain; charset=utf-8", MaxBytes: 10,
				Metadata: map[string]string{"origin": "web", "a-note": "hi"},
			},
			want: map[string]string{
				"Content-Type":      "text/plain; charset=utf-8",
				"Content-Encoding":  "",
				"x-amz-meta-origin": "web",
				"x-amz-meta-a-note": "hi",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, got := uploadConditions(t, &tc.post)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFieldsMatchConditions checks the package's promise that a client
// sending exactly the returned fields satisfies every exact condition, and
// sends no field that no condition covers (the bucket is in the URL).
func TestFieldsMatchConditions(t *testing.T) {
	t.Parallel()
	post := uploadpolicy.Post{
		Bucket: "uploads", Key: "user-uploads/a.png", ContentType: "image/png",
		MinBytes: 1, MaxBytes: 100,
		Metadata:       map[string]string{"origin": "web", "note": "hi"},
		ChecksumSHA256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		Headers:        uploadpolicy.Headers{CacheControl: "no-cache"},
	}
	doc, fields := post.Document(testSigning, time.Now())
	pinned := map[string]string{}
	for _, c := range decode(t, doc).Conditions {
		if m, ok := c.(map[string]any); ok {
			for name, value := range m {
				if name != "bucket" {
					pinned[name] = value.(string)
				}
			}
		}
	}
	if diff := cmp.Diff(pinned, fields); diff != "" {
		t.Errorf("fields do not match the exact conditions (-want +got):\n%s", diff)
	}
}

// testSigning is a signer's part of a policy, for the tests.
var testSigning = uploadpolicy.Signing{
	Algorithm: "AWS4-HMAC-SHA256", Credential: "AKID/20261201/us-east-1/s3/aws4_request", Date: "20261201T120000Z",
}

// signingFields are the conditions and fields the signer's part adds.
var signingFields = map[string]bool{
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Security-Token": true, "bucket": true,
}

type policyDocument struct {
	Conditions []any
	Expiration string
}

func decode(t *testing.T, doc []byte) policyDocument {
	t.Helper()
	var d policyDocument
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("policy %s: %v", doc, err)
	}
	return d
}

// uploadConditions returns the conditions of p's policy that pin the
// upload (the signer's left out), each exact one as a map[string]string
// and the size range as []any{name, int64, int64}, and the form fields
// without the signer's and the key.
func uploadConditions(t *testing.T, p *uploadpolicy.Post) ([]any, map[string]string) {
	t.Helper()
	doc, fields := p.Document(testSigning, time.Now())
	var out []any
	for _, c := range decode(t, doc).Conditions {
		switch c := c.(type) {
		case map[string]any:
			for name, value := range c {
				if !signingFields[name] {
					out = append(out, map[string]string{name: value.(string)})
				}
			}
		case []any:
			lo, _ := c[1].(json.Number).Int64()
			hi, _ := c[2].(json.Number).Int64()
			out = append(out, []any{c[0], lo, hi})
		}
	}
	for name := range fields {
		if signingFields[name] || name == "key" {
			delete(fields, name)
		}
	}
	return out, fields
}

// FuzzParseContentType checks that whatever a caller sends, an accepted
// Content-Type comes back as a concrete, printable-ASCII media type whose
// canonical form parses to itself, since S3 compares it byte for byte.
func FuzzParseContentType(f *testing.F) {
	for _, seed := range []string{
		"image/png",
		"IMAGE/PNG",
		"text/plain; charset=utf-8",
		`text/plain; charset="utf-8"`,
		`text/plain; x="a\"b"`,
		"text/plain; title*=utf-8''%E2%82%AC",
		"text/plain; t*0=a; t*1=b",
		"*/*",
		"image/*",
		"image",
		"a b/c",
		"image/png\r\n",
		"image/pngé",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		canonical, mediaType, err := uploadpolicy.ParseContentType(ct)
		if err != nil {
			return
		}
		typ, sub, ok := strings.Cut(mediaType, "/")
		if !ok || typ == "" || sub == "" || typ == "*" || sub == "*" || strings.Contains(sub, "/") {
			t.Errorf("ParseContentType(%q) media type %q is not one concrete type/subtype", ct, mediaType)
		}
		if mediaType != strings.ToLower(mediaType) {
			t.Errorf("ParseContentType(%q) media type %q is not lowercase", ct, mediaType)
		}
		if !strings.HasPrefix(canonical, mediaType) {
			t.Errorf("ParseContentType(%q) canonical %q does not start with %q", ct, canonical, mediaType)
		}
		again, mediaTypeAgain, err := uploadpolicy.ParseContentType(canonical)
		if err != nil {
			t.Fatalf("ParseContentType(%q) = %q, which is refused: %v", ct, canonical, err)
		}
		if again != canonical || mediaTypeAgain != mediaType {
			t.Errorf("ParseContentType(%q) = %q, %q; parsing that gives %q, %q", ct, canonical, mediaType, again, mediaTypeAgain)
		}
	})
}
