package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

func TestCreatePresignedPostValid(t *testing.T) {
	t.Parallel()

	longKey := strings.Repeat("k", objectkey.MaxKeyBytes-len("incoming/"))
	tests := []struct {
		name string
		req  *gatepostv1.CreatePresignedPostRequest
		want *uploadpolicy.Post
	}{
		{
			name: "minimal request uses the default profile",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "photo.png", ContentType: "image/png"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/photo.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "default profile named explicitly",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "photo.png", ContentType: "image/png", Profile: "default"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/photo.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "nested key with unicode",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "2026/11/café photo.jpg", ContentType: "image/jpeg"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/2026/11/café photo.jpg", ContentType: "image/jpeg",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "key already under the prefix is not prefixed twice",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "incoming/a/b.png", ContentType: "image/png"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a/b.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "key exactly at the length limit with the prefix",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: longKey, ContentType: "image/png"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/" + longKey, ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "content type in canonical form",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "Image/PNG"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "content type with parameters matched by a wildcard range",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "notes.txt", ContentType: "Text/Plain;Charset=UTF-8"},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/notes.txt", ContentType: "text/plain; charset=UTF-8",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "content_length narrows the range",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", ContentLength: length(1234)},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a.png", ContentType: "image/png",
				MinBytes: 1234, MaxBytes: 1234, Expires: 10 * time.Minute,
			},
		},
		{
			name: "content_length at the profile maximum",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", ContentLength: length(10 << 20)},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a.png", ContentType: "image/png",
				MinBytes: 10 << 20, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
			},
		},
		{
			name: "content_length at the profile minimum",
			req:  &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", ContentLength: length(1)},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 1, Expires: 10 * time.Minute,
			},
		},
		{
			name: "metadata names lowercased",
			req: &gatepostv1.CreatePresignedPostRequest{
				Key: "a.png", ContentType: "image/png",
				Metadata: map[string]string{"Origin": "web-form", "NOTE": "hello world"},
			},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
				Metadata: map[string]string{"origin": "web-form", "note": "hello world"},
			},
		},
		{
			name: "metadata exactly at S3's total limit",
			req: &gatepostv1.CreatePresignedPostRequest{
				Key: "a.png", ContentType: "image/png",
				Metadata: map[string]string{"note": strings.Repeat("n", config.MaxMetadataBytes-len("note"))},
			},
			want: &uploadpolicy.Post{
				Bucket: "uploads", Key: "incoming/a.png", ContentType: "image/png",
				MinBytes: 1, MaxBytes: 10 << 20, Expires: 10 * time.Minute,
				Metadata: map[string]string{"note": strings.Repeat("n", config.MaxMetadataBytes-len("note"))},
			},
		},
		{
			name: "profile with an empty prefix and any content type",
			req: &gatepostv1.CreatePresignedPostRequest{
				Key: "x/y.bin", ContentType: "application/x-custom", Profile: "anything", ContentLength: length(0),
			},
			want: &uploadpolicy.Post{
				Bucket: "misc", Key: "x/y.bin", ContentType: "application/x-custom",
				MinBytes: 0, MaxBytes: 0, Expires: time.Hour,
				Headers: uploadpolicy.Headers{ContentDisposition: "attachment"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signer := &fakeStore{}
			svc := NewService(testProfiles(t), signer, discardLogger())

			resp, err := svc.CreatePresignedPost(anonymous(t.Context()), tt.req)
			if err != nil {
				t.Fatalf("CreatePresignedPost: %v", err)
			}
			calls := signer.calls()
			if len(calls) != 1 {
				t.Fatalf("signer called %d times, want 1", len(calls))
			}
			if diff := cmp.Diff(tt.want, calls[0]); diff != "" {
				t.Errorf("decided post mismatch (-want +got):\n%s", diff)
			}

			wantResp := &gatepostv1.CreatePresignedPostResponse{
				Url:              fixedSigned.URL,
				Fields:           fixedSigned.Fields,
				Key:              tt.want.Key,
				Bucket:           tt.want.Bucket,
				ExpiresAt:        timestamppb.New(fixedSigned.ExpiresAt),
				MaxContentLength: tt.want.MaxBytes,
			}
			if diff := cmp.Diff(wantResp, resp, protocmp.Transform()); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// uuidRE matches a random (version 4) UUID, as objectkey.Generate makes.
const uuidRE = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`

func TestCreatePresignedPostGeneratedKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		key      string
		wantName string
	}{
		{name: "plain name", key: "avatar.png", wantName: "avatar.png"},
		{name: "spaces and brackets", key: "My Photo (1).png", wantName: "My_Photo__1_.png"},
		{name: "only the last path segment", key: "some/dir/me.jpg", wantName: "me.jpg"},
		{name: "leading dots dropped", key: ".hidden.png", wantName: "hidden.png"},
		{name: "unicode replaced", key: "café.png", wantName: "caf_.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signer := &fakeStore{}
			svc := NewService(testProfiles(t), signer, discardLogger())
			req := &gatepostv1.CreatePresignedPostRequest{Key: tt.key, ContentType: "image/png", Profile: "avatars"}

			first, err := svc.CreatePresignedPost(anonymous(t.Context()), req)
			if err != nil {
				t.Fatalf("CreatePresignedPost: %v", err)
			}
			want := regexp.MustCompile(`^users/` + uuidRE + `-` + regexp.QuoteMeta(tt.wantName) + `$`)
			if !want.MatchString(first.GetKey()) {
				t.Errorf("key = %q, want users/<uuid>-%s", first.GetKey(), tt.wantName)
			}
			calls := signer.calls()
			if len(calls) != 1 {
				t.Fatalf("signer called %d times, want 1", len(calls))
			}
			if calls[0].Key != first.GetKey() || calls[0].Bucket != "avatars" {
				t.Errorf("signed s3://%s/%s, but the response says s3://%s/%s",
					calls[0].Bucket, calls[0].Key, first.GetBucket(), first.GetKey())
			}

			second, err := svc.CreatePresignedPost(anonymous(t.Context()), req)
			if err != nil {
				t.Fatalf("CreatePresignedPost (again): %v", err)
			}
			if first.GetKey() == second.GetKey() {
				t.Errorf("two requests got the same generated key %q", first.GetKey())
			}
		})
	}
}

func TestCreatePresignedPostInvalid(t *testing.T) {
	t.Parallel()

	tooLong := strings.Repeat("k", objectkey.MaxKeyBytes-len("incoming/")+1)
	tests := []struct {
		name      string
		req       *gatepostv1.CreatePresignedPostRequest
		wantField string
	}{
		// key
		{name: "empty key", req: &gatepostv1.CreatePresignedPostRequest{Key: "", ContentType: "image/png"}, wantField: "key"},
		{name: "parent segment", req: &gatepostv1.CreatePresignedPostRequest{Key: "../x", ContentType: "image/png"}, wantField: "key"},
		{name: "parent segment inside", req: &gatepostv1.CreatePresignedPostRequest{Key: "a/../b", ContentType: "image/png"}, wantField: "key"},
		{name: "current segment", req: &gatepostv1.CreatePresignedPostRequest{Key: "./x", ContentType: "image/png"}, wantField: "key"},
		{name: "absolute", req: &gatepostv1.CreatePresignedPostRequest{Key: "/abs", ContentType: "image/png"}, wantField: "key"},
		{name: "double slash", req: &gatepostv1.CreatePresignedPostRequest{Key: "a//b", ContentType: "image/png"}, wantField: "key"},
		{name: "trailing slash", req: &gatepostv1.CreatePresignedPostRequest{Key: "dir/", ContentType: "image/png"}, wantField: "key"},
		{name: "backslash", req: &gatepostv1.CreatePresignedPostRequest{Key: `back\slash`, ContentType: "image/png"}, wantField: "key"},
		{name: "policy variable", req: &gatepostv1.CreatePresignedPostRequest{Key: "${filename}", ContentType: "image/png"}, wantField: "key"},
		{name: "control character", req: &gatepostv1.CreatePresignedPostRequest{Key: "a\x01b", ContentType: "image/png"}, wantField: "key"},
		{name: "newline", req: &gatepostv1.CreatePresignedPostRequest{Key: "a\nb", ContentType: "image/png"}, wantField: "key"},
		{name: "bidi override", req: &gatepostv1.CreatePresignedPostRequest{Key: "gnp.\u202eexe", ContentType: "image/png"}, wantField: "key"},
		{name: "invalid UTF-8", req: &gatepostv1.CreatePresignedPostRequest{Key: "\xff", ContentType: "image/png"}, wantField: "key"},
		{name: "too long with the prefix", req: &gatepostv1.CreatePresignedPostRequest{Key: tooLong, ContentType: "image/png"}, wantField: "key"},
		{
			name:      "generated mode still checks the name",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "../x.png", ContentType: "image/png", Profile: "avatars"},
			wantField: "key",
		},
		// profile
		{name: "unknown profile", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Profile: "nope"}, wantField: "profile"},
		{name: "profile differing in case", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Profile: "Default"}, wantField: "profile"},
		// content_type
		{name: "empty content type", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: ""}, wantField: "content_type"},
		{name: "content type not allowed", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.pdf", ContentType: "application/pdf"}, wantField: "content_type"},
		{name: "wildcard content type", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/*"}, wantField: "content_type"},
		{name: "any content type", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "*/*"}, wantField: "content_type"},
		{name: "malformed content type", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image"}, wantField: "content_type"},
		{name: "content type with a header injection", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png\r\nX-Evil: 1"}, wantField: "content_type"},
		{name: "wildcard content type in a wildcard profile", req: &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: "*/*", Profile: "anything"}, wantField: "content_type"},
		// content_length
		{name: "negative content_length", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", ContentLength: length(-1)}, wantField: "content_length"},
		{name: "content_length over the maximum", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", ContentLength: length(10<<20 + 1)}, wantField: "content_length"},
		{name: "content_length under the minimum", req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", ContentLength: length(0)}, wantField: "content_length"},
		// metadata
		{
			name:      "metadata key not allowed",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"secret": "x"}},
			wantField: "metadata",
		},
		{
			name:      "metadata in a profile that allows none",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Profile: "avatars", Metadata: map[string]string{"origin": "x"}},
			wantField: "metadata",
		},
		{
			name:      "metadata key with the x-amz-meta- prefix",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"x-amz-meta-note": "x"}},
			wantField: "metadata",
		},
		{
			name:      "metadata value with a newline",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"note": "a\nb"}},
			wantField: "metadata",
		},
		{
			name:      "metadata value not ASCII",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"note": "é"}},
			wantField: "metadata",
		},
		{
			name:      "metadata value with a leading space",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"note": " x"}},
			wantField: "metadata",
		},
		{
			name: "metadata over S3's total limit in one value",
			req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png",
				Metadata: map[string]string{"note": strings.Repeat("n", config.MaxMetadataBytes-len("note")+1)}},
			wantField: "metadata",
		},
		{
			name: "metadata over S3's total limit across values",
			req: &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png",
				Metadata: map[string]string{"note": strings.Repeat("n", 1024), "origin": strings.Repeat("o", 1024)}},
			wantField: "metadata",
		},
		{
			name:      "duplicate metadata key differing only by case",
			req:       &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Metadata: map[string]string{"Note": "a", "note": "b"}},
			wantField: "metadata",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signer := &fakeStore{}
			svc := NewService(testProfiles(t), signer, discardLogger())

			resp, err := svc.CreatePresignedPost(anonymous(t.Context()), tt.req)
			if err == nil {
				t.Fatalf("CreatePresignedPost succeeded with %v, want InvalidArgument", resp)
			}
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("error %v is not a gRPC status", err)
			}
			if st.Code() != codes.InvalidArgument {
				t.Errorf("code = %s, want %s (message %q)", st.Code(), codes.InvalidArgument, st.Message())
			}
			if !strings.HasPrefix(st.Message(), tt.wantField+": ") {
				t.Errorf("message = %q, want it to start with %q", st.Message(), tt.wantField+": ")
			}
			if !utf8.ValidString(st.Message()) {
				t.Errorf("message %q is not valid UTF-8", st.Message())
			}
			if n := len(signer.calls()); n != 0 {
				t.Errorf("signer called %d times for an invalid request, want 0", n)
			}
		})
	}
}

func TestCreatePresignedPostSignerFailure(t *testing.T) {
	t.Parallel()

	const secretDetail = "operation error S3: PutObject, get identity: failed to refresh cached credentials, AKIDEXAMPLE"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		wantCode codes.Code
		wantLog  bool
		// wantMsg is part of the caller's message.
		wantMsg string
	}{
		{name: "signer error", ctx: context.Background(), err: errors.New(secretDetail), wantCode: codes.Unavailable, wantLog: true, wantMsg: "try again later"},
		{name: "no credentials", ctx: context.Background(), err: fmt.Errorf("%w: %s", objectstore.ErrNoCredentials, secretDetail),
			wantCode: codes.Unavailable, wantLog: true, wantMsg: "signing the upload policy failed: gatepost has no signing credentials for the object store"},
		{name: "expired credentials", ctx: context.Background(), err: fmt.Errorf("%w: %s", objectstore.ErrCredentialsExpired, secretDetail),
			wantCode: codes.Unavailable, wantLog: true, wantMsg: "signing credentials have expired"},
		{name: "caller went away", ctx: canceled, err: context.Canceled, wantCode: codes.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			signer := &fakeStore{err: tt.err}
			svc := NewService(testProfiles(t), signer, slog.New(slog.NewTextHandler(&logs, nil)))
			req := &gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png"}

			resp, err := svc.CreatePresignedPost(anonymous(tt.ctx), req)
			if err == nil {
				t.Fatalf("CreatePresignedPost succeeded with %v, want %s", resp, tt.wantCode)
			}
			st, _ := status.FromError(err)
			if st.Code() != tt.wantCode || !strings.Contains(st.Message(), tt.wantMsg) {
				t.Errorf("code = %s, message %q; want %s with %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(st.Message(), secretDetail) || strings.Contains(st.Message(), "AKIDEXAMPLE") {
				t.Errorf("message %q reveals the underlying error", st.Message())
			}
			if n := len(signer.calls()); n != 1 {
				t.Errorf("signer called %d times, want 1", n)
			}
			if tt.wantLog {
				log := logs.String()
				if !strings.Contains(log, "incoming/a.png") || !strings.Contains(log, secretDetail) {
					t.Errorf("the failure was not logged with its key and cause; log:\n%s", log)
				}
			}
		})
	}
}

// TestDecideDoesNotChangeRequest checks that decide leaves the request as it
// was: the gateway and interceptors may still read it afterwards.
func TestDecideDoesNotChangeRequest(t *testing.T) {
	t.Parallel()
	svc := NewService(testProfiles(t), &fakeStore{}, discardLogger())
	req := &gatepostv1.CreatePresignedPostRequest{
		Key: "a.png", ContentType: "Image/PNG", ContentLength: length(5),
		Metadata: map[string]string{"Origin": "web"},
	}
	before := proto.Clone(req)
	if _, _, _, err := svc.decide(t.Context(), req, svc.newCharge(anyone)); err != nil {
		t.Fatalf("decide: %v", err)
	}
	if diff := cmp.Diff(before, req, protocmp.Transform()); diff != "" {
		t.Errorf("request changed (-want +got):\n%s", diff)
	}
}

func FuzzDecide(f *testing.F) {
	f.Add("photo.png", "image/png", int64(10), true, "", "Origin", "web", "note", "hi")
	f.Add("incoming/photo.png", "text/plain; charset=utf-8", int64(0), false, "default", "", "", "", "")
	f.Add("../x", "image/*", int64(-1), true, "avatars", "NOTE", "a\nb", "note", "é")
	f.Add("My Photo (1).png", "Image/JPEG", int64(1<<20), true, "avatars", "x", "y", "X", "y")
	f.Add("\xff", "*/*", int64(1<<62), true, "anything", "origin", " x", "note", "")
	f.Add(strings.Repeat("a", 1020), "application/octet-stream", int64(0), true, "anything", "", "", "", "")
	f.Add("${filename}", "image", int64(5), false, "nope", "secret", "x", "origin", strings.Repeat("o", 3000))

	profiles := testProfiles(f)
	svc := NewService(profiles, &fakeStore{}, discardLogger())
	fieldPrefixes := []string{"key: ", "content_type: ", "content_length: ", "profile: ", "metadata: "}

	f.Fuzz(func(t *testing.T, key, contentType string, contentLength int64, hasLength bool, profile, mk1, mv1, mk2, mv2 string) {
		req := &gatepostv1.CreatePresignedPostRequest{Key: key, ContentType: contentType, Profile: profile}
		if hasLength {
			req.ContentLength = &contentLength
		}
		if mk1 != "" || mv1 != "" || mk2 != "" || mv2 != "" {
			req.Metadata = map[string]string{mk1: mv1, mk2: mv2}
		}

		post, _, _, err := svc.decide(t.Context(), req, svc.newCharge(anyone))
		if err != nil {
			if post != nil {
				t.Errorf("decide returned %+v with an error", post)
			}
			st, ok := status.FromError(err)
			if !ok || st.Code() != codes.InvalidArgument {
				t.Fatalf("error %v is not InvalidArgument", err)
			}
			if !slices.ContainsFunc(fieldPrefixes, func(p string) bool { return strings.HasPrefix(st.Message(), p) }) {
				t.Errorf("message %q does not start with a field name", st.Message())
			}
			return
		}

		name := profile
		if name == "" {
			name = config.DefaultProfile
		}
		p, ok := profiles[name]
		if !ok {
			t.Fatalf("decide accepted unknown profile %q", profile)
		}
		if post.Bucket != p.Bucket {
			t.Errorf("bucket = %q, want %q", post.Bucket, p.Bucket)
		}
		if !strings.HasPrefix(post.Key, p.KeyPrefix) {
			t.Errorf("key %q is not under the prefix %q", post.Key, p.KeyPrefix)
		}
		if len(post.Key) > objectkey.MaxKeyBytes {
			t.Errorf("key is %d bytes, over %d", len(post.Key), objectkey.MaxKeyBytes)
		}
		if err := objectkey.Check(post.Key); err != nil {
			t.Errorf("key %q breaks the key rules: %v", post.Key, err)
		}
		if post.MaxBytes > p.MaxBytes || post.MinBytes < p.MinBytes || post.MinBytes > post.MaxBytes {
			t.Errorf("size range [%d, %d] is not within the profile's [%d, %d]", post.MinBytes, post.MaxBytes, p.MinBytes, p.MaxBytes)
		}
		if post.Expires != p.Expires {
			t.Errorf("expires = %s, want the profile's %s", post.Expires, p.Expires)
		}
		canonical, mediaType, err := uploadpolicy.ParseContentType(post.ContentType)
		if err != nil || canonical != post.ContentType || !uploadpolicy.ContentTypeAllowed(mediaType, p.ContentTypes) {
			t.Errorf("content type %q is not a canonical allowed type (%v)", post.ContentType, err)
		}
		total := 0
		for k, v := range post.Metadata {
			if !slices.Contains(p.MetadataKeys, k) {
				t.Errorf("metadata key %q is not allowed by the profile", k)
			}
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					t.Errorf("metadata value %q has byte %#x", v, v[i])
				}
			}
			total += len(k) + len(v)
		}
		if total > config.MaxMetadataBytes {
			t.Errorf("metadata is %d bytes, over %d", total, config.MaxMetadataBytes)
		}
	})
}

// TestProfileNamesDoNotLeak: a caller limited to some profiles gets the
// same answer for another caller's profile and for one that does not
// exist; a caller allowed every profile is told a name is unknown.
func TestProfileNamesDoNotLeak(t *testing.T) {
	t.Parallel()
	svc := NewService(testProfiles(t), &fakeStore{}, discardLogger())
	limited := &auth.Identity{Subject: "alice", Profiles: []string{config.DefaultProfile}}
	ask := func(id *auth.Identity, profile string) error {
		_, err := svc.CreatePresignedPost(ContextWithIdentity(t.Context(), id),
			&gatepostv1.CreatePresignedPostRequest{Key: "a.png", ContentType: "image/png", Profile: profile})
		return err
	}
	existing := ""
	for name := range testProfiles(t) {
		if name != config.DefaultProfile {
			existing = name
			break
		}
	}
	if existing == "" {
		t.Fatal("testProfiles has only the default profile")
	}
	forbidden, missing := status.Convert(ask(limited, existing)), status.Convert(ask(limited, "no-such-profile"))
	if forbidden.Code() != codes.PermissionDenied || missing.Code() != codes.PermissionDenied {
		t.Errorf("limited caller: %v for an existing profile, %v for a missing one; want PermissionDenied for both", forbidden.Err(), missing.Err())
	}
	if strings.ReplaceAll(forbidden.Message(), existing, "X") != strings.ReplaceAll(missing.Message(), "no-such-profile", "X") {
		t.Errorf("the answers differ beyond the name: %q and %q", forbidden.Message(), missing.Message())
	}
	if st := status.Convert(ask(anyone, "no-such-profile")); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "profile: unknown") {
		t.Errorf("caller allowed every profile: %v; want InvalidArgument, unknown profile", st.Err())
	}
	if st := status.Convert(ask(limited, "\xc0\x80")); st.Code() != codes.InvalidArgument {
		t.Errorf("a profile name that is not UTF-8: %v; want InvalidArgument", st.Err())
	}
}

// TestActiveTypeThroughWildcard: a type a browser runs that start-up could
// not name (any +xml) is refused at request time unless the profile
// downloads it.
func TestActiveTypeThroughWildcard(t *testing.T) {
	t.Parallel()
	profiles := testProfiles(t)
	profiles["feeds"] = config.Profile{
		Bucket: "feeds", KeyPrefix: "feeds/", KeyMode: config.KeyModeClient, MaxBytes: 1024,
		ContentTypes: []string{"application/*"}, Expires: time.Minute,
		ActiveContentTypes: []string{"application/ecmascript", "application/javascript", "application/x-ecmascript",
			"application/x-javascript", "application/xhtml+xml", "application/xml", "application/xslt+xml"},
	}
	if err := (&config.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", S3: config.S3{Region: "x"},
		Auth: config.Auth{Mode: config.AuthNone}, Profiles: profiles}).Validate(); err != nil {
		t.Fatalf("profiles: %v", err)
	}
	svc := NewService(profiles, &fakeStore{}, discardLogger())
	for ct, want := range map[string]codes.Code{
		"application/rss+xml":   codes.InvalidArgument,
		"application/atom+xml":  codes.InvalidArgument,
		"application/xhtml+xml": codes.OK, // accepted by name
		"application/json":      codes.OK,
	} {
		_, err := svc.CreatePresignedPost(anonymous(t.Context()), &gatepostv1.CreatePresignedPostRequest{Key: "a", ContentType: ct, Profile: "feeds"})
		if got := status.Code(err); got != want {
			t.Errorf("%s: %v; want %s", ct, err, want)
		}
		if want != codes.OK && !strings.HasPrefix(status.Convert(err).Message(), "content_type: ") {
			t.Errorf("%s: message %q does not start with the field", ct, status.Convert(err).Message())
		}
	}
}
