package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
)

// The tests in this file play an attacker who holds a valid API key and
// uses the credentials gatepost gives them for more than "these bytes at
// this key". Every one runs against every store; each would fail without
// the fix it names.

// secretKey is an object under another caller's prefix that the signing
// credentials can read.
const secretKey = "large/e2e-other/secret.txt"

var secret = []byte("another caller's private bytes, 0123456789")

// putSecret stores the other caller's object behind gatepost's back.
func (st *target) putSecret(t *testing.T) {
	t.Helper()
	if _, err := st.s3.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(secretKey), Body: bytes.NewReader(secret),
		ContentType: aws.String("text/plain"),
	}); err != nil {
		t.Fatal(err)
	}
}

// presignPut asks for a 5-byte text/plain PUT in the given profile.
func (st *target) presignPut(t *testing.T, profile, key string) *gatepostv1.CreatePresignedPutResponse {
	t.Helper()
	p, err := st.client(t).CreatePresignedPut(as(t, apiKey), &gatepostv1.CreatePresignedPutRequest{
		Key: key, ContentType: "text/plain", ContentLength: proto.Int64(5), Profile: profile,
	})
	if err != nil {
		t.Fatalf("CreatePresignedPut: %v", err)
	}
	return p
}

// with returns the signed headers plus extra ones (replacing any of the
// same name, case-insensitively; an empty value in extra deletes).
func with(signed, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range signed {
		out[k] = v
	}
	for k, v := range extra {
		for have := range out {
			if strings.EqualFold(have, k) {
				delete(out, have)
			}
		}
		if v != "\x00" {
			out[k] = v
		}
	}
	return out
}

// removed marks a header to leave out in with.
const removed = "\x00"

// TestPresignedPutCannotCopy (finding 1): a PUT URL for 5 bytes of
// text/plain, plus an unsigned x-amz-copy-source, used to make MinIO copy
// any object the signing credentials could read into the caller's key.
func TestPresignedPutCannotCopy(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		st.putSecret(t)
		p := st.presignPut(t, "large", "attack/copy.txt")
		headers := with(p.GetHeaders(), map[string]string{"X-Amz-Copy-Source": "/" + bucket + "/" + secretKey})
		status, code := put(t, p.GetUrl(), headers, []byte("12345"))
		if status < 400 {
			t.Errorf("PUT with x-amz-copy-source answered %d", status)
		}
		t.Logf("the store answered %d %s", status, code)
		if got := st.headObject(t, p.GetKey()); got != nil {
			t.Errorf("%s exists (%d bytes) after a copy attempt", p.GetKey(), deref(got.ContentLength))
		}
		// The URL still works for what it was made for.
		if status, code := put(t, p.GetUrl(), p.GetHeaders(), []byte("hello")); status != http.StatusOK {
			t.Errorf("plain PUT with the signed headers: %d %s", status, code)
		}
	})
}

// TestPartURLCannotCopy (finding 1): a part URL plus x-amz-copy-source and
// a range used to become UploadPartCopy, and Complete then assembled the
// copied bytes.
func TestPartURLCannotCopy(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		st.putSecret(t)
		c := st.client(t)
		data := randomBytes(t, 1000)
		up := startMultipart(t, c, "attack/part-copy.bin", int64(len(data)))
		parts, err := c.PresignUploadParts(as(t, apiKey), &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{1}})
		if err != nil {
			t.Fatal(err)
		}
		p := parts.GetParts()[0]
		if p.GetHeaders()["X-Amz-Copy-Source-If-Match"] == "" {
			t.Errorf("part headers %v carry no copy guard", p.GetHeaders())
		}
		headers := with(p.GetHeaders(), map[string]string{
			"X-Amz-Copy-Source": "/" + bucket + "/" + secretKey, "X-Amz-Copy-Source-Range": "bytes=0-999",
		})
		if status, _ := put(t, p.GetUrl(), headers, data); status < 400 {
			t.Errorf("part PUT with x-amz-copy-source answered %d", status)
		}
		_, err = c.CompleteMultipartUpload(as(t, apiKey), &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
		wantCode(t, err, codes.FailedPrecondition, "complete after a refused part copy")
		if got := st.headObject(t, up.GetKey()); got != nil {
			t.Errorf("%s exists after a part-copy attempt", up.GetKey())
		}
	})
}

// TestBarePartURLCannotCopy: a bare part URL (no signed headers, for Uppy
// 6) is only signed where the store refuses a holder's unsigned
// x-amz-copy-source: SeaweedFS refuses the copy, and on MinIO, which would
// perform it, gatepost refuses to sign the URL at all.
func TestBarePartURLCannotCopy(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		st.putSecret(t)
		c := st.client(t)
		up, err := c.CreateMultipartUpload(as(t, apiKey), &gatepostv1.CreateMultipartUploadRequest{Key: "attack/bare-copy.bin", ContentType: "application/octet-stream", Profile: "unsized"})
		if err != nil {
			t.Fatal(err)
		}
		parts, err := c.PresignUploadParts(as(t, apiKey), &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: []int32{1}, Bare: true})
		if st.kind == config.StoreMinIO {
			wantCode(t, err, codes.FailedPrecondition, "a bare part URL on MinIO")
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := parts.GetParts()[0]
		if len(p.GetHeaders()) != 0 {
			t.Errorf("a bare part URL carries headers %v", p.GetHeaders())
		}
		copyHeaders := map[string]string{"X-Amz-Copy-Source": "/" + bucket + "/" + secretKey, "X-Amz-Copy-Source-Range": "bytes=0-999"}
		if status, _ := put(t, p.GetUrl(), copyHeaders, randomBytes(t, 1000)); status < 400 {
			t.Errorf("bare part PUT with x-amz-copy-source answered %d", status)
		}
		listed, err := c.ListUploadedParts(as(t, apiKey), &gatepostv1.ListUploadedPartsRequest{UploadToken: up.GetUploadToken()})
		if err != nil || len(listed.GetParts()) != 0 {
			t.Errorf("parts after a refused copy: %v, %v", listed.GetParts(), err)
		}
		// Without the copy source the same URL takes the part.
		if status, code := put(t, p.GetUrl(), nil, []byte("plain part")); status != 200 {
			t.Errorf("bare part PUT: %d %s", status, code)
		}
	})
}

// TestPresignedPutPinsWhatIsStored (finding 2): headers a holder adds to a
// PUT URL cannot choose tags, storage class or the pinned standard
// headers, and the signed ones cannot be left out. Each case changes or
// drops a signed header, so the store must refuse it outright.
func TestPresignedPutPinsWhatIsStored(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		tests := []struct {
			name, profile string
			extra         map[string]string
		}{
			{"unsigned tags", "large", map[string]string{"X-Amz-Tagging": "cost-center=attacker"}},
			{"unsigned storage class", "large", map[string]string{"X-Amz-Storage-Class": "REDUCED_REDUNDANCY"}},
			{"unsigned tags and storage class", "large", map[string]string{"X-Amz-Tagging": "a=b", "X-Amz-Storage-Class": "GLACIER"}},
			{"tagging header left out", "large", map[string]string{"X-Amz-Tagging": removed}},
			{"copy guard left out", "large", map[string]string{"X-Amz-Copy-Source-If-Match": removed}},
			{"another Content-Disposition", "pinned", map[string]string{"Content-Disposition": "inline"}},
			{"Content-Disposition left out", "pinned", map[string]string{"Content-Disposition": removed}},
			{"another Cache-Control", "pinned", map[string]string{"Cache-Control": "public, max-age=31536000"}},
			{"a Content-Encoding", "large", map[string]string{"Content-Encoding": "gzip"}},
			{"a Content-Encoding in a pinned profile", "pinned", map[string]string{"Content-Encoding": "gzip"}},
			// SeaweedFS stored it as the Content-Disposition, over the pin.
			{"a Response-Content-Disposition", "pinned", map[string]string{"Response-Content-Disposition": "inline"}},
			// MinIO stored them as the ETag and Last-Modified.
			{"a MinIO source ETag", "large", map[string]string{"X-Minio-Source-Etag": "deadbeef"}},
			{"a MinIO source mtime", "large", map[string]string{"X-Minio-Source-Mtime": "2001-01-01T00:00:00Z"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				p := st.presignPut(t, tt.profile, "attack/pins-"+strings.ReplaceAll(tt.name, " ", "-")+".txt")
				status, code := put(t, p.GetUrl(), with(p.GetHeaders(), tt.extra), []byte("hello"))
				if status < 400 {
					t.Errorf("PUT with %s was accepted (%d)", tt.name, status)
				}
				t.Logf("answered %d %s", status, code)
				if st.headObject(t, p.GetKey()) != nil {
					t.Errorf("%s stored after a refused PUT", p.GetKey())
				}
			})
		}
		t.Run("the pinned values are stored", func(t *testing.T) {
			t.Parallel()
			p := st.presignPut(t, "pinned", "attack/pins-ok.txt")
			if status, code := put(t, p.GetUrl(), p.GetHeaders(), []byte("hello")); status != http.StatusOK {
				t.Fatalf("PUT: %d %s", status, code)
			}
			st.checkPinned(t, p.GetKey(), "pinned")
		})
	})
}

// TestPutURLCannotUnpackZip: SeaweedFS unpacks a PUT body sent with
// X-Seaweedfs-Extract: zip into objects of any name, type and size beside
// the key (HTML and scripts included); a PUT URL must not let it.
func TestPutURLCannotUnpackZip(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		members := []string{"evil.html", "img/evil.svg", "deep/a.js"}
		for _, name := range members {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte("<script>alert(document.domain)</script>"))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		p, err := st.client(t).CreatePresignedPut(as(t, apiKey), &gatepostv1.CreatePresignedPutRequest{
			Profile: "large", Key: "attack/zip/archive.bin", ContentType: "application/octet-stream", ContentLength: proto.Int64(int64(buf.Len())),
		})
		if err != nil {
			t.Fatal(err)
		}
		status, code := put(t, p.GetUrl(), with(p.GetHeaders(), map[string]string{"X-Seaweedfs-Extract": "zip"}), buf.Bytes())
		t.Logf("answered %d %s", status, code)
		dir := strings.TrimSuffix(p.GetKey(), "archive.bin")
		for _, m := range members {
			if h := st.headObject(t, dir+m); h != nil {
				t.Errorf("%s%s was unpacked from the upload, as %s", dir, m, deref(h.ContentType))
			}
		}
		if status < 300 {
			if h := st.headObject(t, p.GetKey()); h == nil || deref(h.ContentLength) != int64(buf.Len()) {
				t.Errorf("accepted, but %s does not hold the %d bytes sent", p.GetKey(), buf.Len())
			}
		}
	})
}

// checkPinned checks that a stored object has no tags, the standard
// storage class and, in the pinned profile, its Content-Disposition and
// Cache-Control.
func (st *target) checkPinned(t *testing.T, key, profile string) {
	t.Helper()
	head := st.headObject(t, key)
	if head == nil {
		t.Fatalf("%s missing", key)
	}
	if sc := string(head.StorageClass); sc != "" && sc != "STANDARD" {
		t.Errorf("storage class %s was chosen by the caller", sc)
	}
	tags, err := st.s3.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObjectTagging: %v", err)
	}
	if len(tags.TagSet) > 0 {
		t.Errorf("the caller set tags %v", tags.TagSet)
	}
	if got := deref(head.ContentEncoding); got != "" {
		t.Errorf("Content-Encoding %q was chosen by the caller", got)
	}
	if profile == "pinned" {
		if got := deref(head.ContentDisposition); got != "attachment" {
			t.Errorf("Content-Disposition = %q, want attachment", got)
		}
		if got := deref(head.CacheControl); got != "private, max-age=60" {
			t.Errorf("Cache-Control = %q, want the profile's", got)
		}
	}
}

// TestPostPinsWhatIsStored (finding 2): a POST policy requires the pinned
// Content-Disposition and Cache-Control, so the store must refuse another
// value or none. It covers no tagging or storage class field: a store
// must refuse those or ignore them (SeaweedFS accepts a tagging field and
// stores no tags), never apply them.
func TestPostPinsWhatIsStored(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		tests := []struct {
			name   string
			mutate func(t *testing.T, f []formField) []formField
			// extra marks a field the policy does not cover, which a store
			// may ignore instead of refusing.
			extra bool
		}{
			{"another Content-Disposition", func(t *testing.T, f []formField) []formField {
				return setField(t, f, "Content-Disposition", "inline")
			}, false},
			{"Content-Disposition left out", func(t *testing.T, f []formField) []formField { return without(f, "Content-Disposition") }, false},
			{"another Cache-Control", func(t *testing.T, f []formField) []formField {
				return setField(t, f, "Cache-Control", "public, max-age=31536000")
			}, false},
			{"a tagging field", func(t *testing.T, f []formField) []formField {
				return append(f, formField{"tagging", "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"})
			}, true},
			{"a storage class field", func(t *testing.T, f []formField) []formField {
				return append(f, formField{"x-amz-storage-class", "REDUCED_REDUNDANCY"})
			}, true},
			{"another Content-Encoding", func(t *testing.T, f []formField) []formField {
				return setField(t, f, "Content-Encoding", "gzip")
			}, false},
			// A duplicate field: the store may check one copy and store
			// another, so whatever it answers, nothing may stick.
			{"a second Content-Encoding field", func(t *testing.T, f []formField) []formField {
				return append(f, formField{"Content-Encoding", "gzip"})
			}, true},
		}
		if st.kind == config.StoreSeaweedFS {
			// SeaweedFS lets a POST's own headers replace the pin, so
			// gatepost does not offer POST in such a profile there.
			status, body := st.getREST(t, "/v1/presign?profile=pinned&key=attack/post.html&content_type=text/html")
			if status != http.StatusBadRequest || !strings.Contains(string(body), "does not allow post") {
				t.Errorf("POST presign in a pinned profile on SeaweedFS: %d %s; want 400", status, body)
			}
			return
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				p := st.presignREST(t, query("profile", "pinned", "key", "attack/post-"+itoa(i)+".html", "content_type", "text/html"))
				if p.Fields["Content-Disposition"] != "attachment" || p.Fields["Cache-Control"] != "private, max-age=60" {
					t.Fatalf("fields %v do not carry the pinned headers", p.Fields)
				}
				status, code := postForm(t, p.URL, tt.mutate(t, fieldsOf(p)), []byte("<p>hi</p>"))
				t.Logf("answered %d %s", status, code)
				switch {
				case status < 400 && tt.extra:
					// Ignored, then: nothing the caller chose may have stuck.
					st.checkPinned(t, p.Key, "pinned")
					return
				case status < 400:
					t.Errorf("POST with %s was accepted (%d)", tt.name, status)
				}
				if st.headObject(t, p.Key) != nil {
					t.Errorf("%s stored after a refused POST", p.Key)
				}
			})
		}
		t.Run("the pinned values are stored", func(t *testing.T) {
			t.Parallel()
			p := st.presignREST(t, query("profile", "pinned", "key", "attack/post-ok.html", "content_type", "text/html"))
			if status, code := postForm(t, p.URL, fieldsOf(p), []byte("<p>hi</p>")); status != http.StatusNoContent {
				t.Fatalf("POST: %d %s", status, code)
			}
			st.checkPinned(t, p.Key, "pinned")
		})
	})
}

func without(fields []formField, name string) []formField {
	var out []formField
	for _, f := range fields {
		if f.name != name {
			out = append(out, f)
		}
	}
	return out
}

// TestNoOverwrite: a profile with overwrite: false gets uploads refused by
// the store when the key holds an object, on PUT and multipart alike.
func TestNoOverwrite(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		c := st.client(t)
		existing := "noclobber/e2e/taken.txt"
		if _, err := st.s3.PutObject(t.Context(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(existing), Body: strings.NewReader("first"),
		}); err != nil {
			t.Fatal(err)
		}
		t.Run("PUT to a taken key", func(t *testing.T) {
			t.Parallel()
			p := st.presignPut(t, "noclobber", "taken.txt")
			if p.GetHeaders()["If-None-Match"] != "*" {
				t.Errorf("headers %v do not carry If-None-Match: *", p.GetHeaders())
			}
			status, _ := put(t, p.GetUrl(), p.GetHeaders(), []byte("again"))
			if status != http.StatusPreconditionFailed {
				t.Errorf("PUT over an existing object answered %d, want 412", status)
			}
			if got := st.getObject(t, existing); string(got) != "first" {
				t.Errorf("the object now holds %q", got)
			}
			// Leaving the condition out breaks the signature.
			status, _ = put(t, p.GetUrl(), with(p.GetHeaders(), map[string]string{"If-None-Match": removed}), []byte("again"))
			if status < 400 {
				t.Errorf("PUT without If-None-Match answered %d", status)
			}
		})
		t.Run("PUT to a free key", func(t *testing.T) {
			t.Parallel()
			p := st.presignPut(t, "noclobber", "free.txt")
			if status, code := put(t, p.GetUrl(), p.GetHeaders(), []byte("hello")); status != http.StatusOK {
				t.Errorf("PUT: %d %s", status, code)
			}
		})
		t.Run("multipart to a taken key", func(t *testing.T) {
			t.Parallel()
			data := []byte("multipart body")
			up, err := c.CreateMultipartUpload(as(t, apiKey), &gatepostv1.CreateMultipartUploadRequest{
				Key: "taken.txt", ContentType: "text/plain", TotalSize: proto.Int64(int64(len(data))), Profile: "noclobber",
			})
			if err != nil {
				t.Fatal(err)
			}
			uploadParts(t, c, up, data, 1)
			_, err = c.CompleteMultipartUpload(as(t, apiKey), &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
			wantCode(t, err, codes.AlreadyExists, "complete over an existing object")
			if got := st.getObject(t, existing); string(got) != "first" {
				t.Errorf("the object now holds %q", got)
			}
		})
		t.Run("POST is not offered", func(t *testing.T) {
			t.Parallel()
			status, body := st.getREST(t, "/v1/presign?profile=noclobber&key=x.txt&content_type=text/plain")
			if status != http.StatusBadRequest {
				t.Errorf("POST presign on a no-overwrite profile: %d %s", status, body)
			}
		})
	})
}

// TestPostRequestHeadersChangeNothing: headers a holder adds to the POST
// request itself, which no policy can cover, are refused or change
// nothing. SeaweedFS applies them (README, Security), which is why
// gatepost offers POST there only when s3.accept_seaweedfs_post_headers
// says so, and never where a pin must hold.
func TestPostRequestHeadersChangeNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		if st.kind == config.StoreSeaweedFS {
			t.Skip("SeaweedFS applies a POST request's headers (tags, storage class, metadata, SSE-C, Response-Content-Disposition); accepted by configuration in these tests")
		}
		for i, h := range []map[string]string{
			{"X-Amz-Tagging": "cost=attacker"},
			{"X-Amz-Storage-Class": "REDUCED_REDUNDANCY"},
			{"X-Amz-Meta-Injected": "yes"},
			{"Content-Language": "xx", "Expires": "Wed, 21 Oct 2099 07:28:00 GMT"},
			{"Response-Content-Disposition": "inline"},
			sseC(),
		} {
			t.Run(itoa(i), func(t *testing.T) {
				t.Parallel()
				p := st.presignREST(t, query("profile", "pinned", "key", "attack/post-headers-"+itoa(i)+".html", "content_type", "text/html"))
				status, code := postFormWithHeaders(t, p.URL, fieldsOf(p), []byte("<p>hi</p>"), h)
				if status >= 300 {
					t.Logf("%v refused: %d %s", h, status, code)
					return
				}
				head := st.headObject(t, p.Key)
				if head == nil {
					t.Fatalf("%v: accepted but the object cannot be read without the caller's help", h)
				}
				if len(head.Metadata) > 0 || deref(head.ContentLanguage) != "" || head.Expires != nil {
					t.Errorf("%v changed the stored object: %+v", h, head)
				}
				st.checkPinned(t, p.Key, "pinned")
			})
		}
	})
}

// sseC returns the headers of server-side encryption with a key the
// caller chose.
func sseC() map[string]string {
	key := bytes.Repeat([]byte{7}, 32)
	sum := md5.Sum(key)
	return map[string]string{
		"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
		"X-Amz-Server-Side-Encryption-Customer-Key":       base64.StdEncoding.EncodeToString(key),
		"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   base64.StdEncoding.EncodeToString(sum[:]),
	}
}

// TestUnsignedAmzHeadersChangeNothing: whatever other x-amz-* header a
// holder adds to a PUT URL, the store either refuses the request or stores
// exactly what was signed.
func TestUnsignedAmzHeadersChangeNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		for i, h := range []map[string]string{
			{"X-Amz-Acl": "public-read"},
			{"X-Amz-Grant-Read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""},
			{"X-Amz-Website-Redirect-Location": "https://attacker.example/"},
			{"X-Amz-Meta-Injected": "yes"},
			{"X-Amz-Server-Side-Encryption": "AES256"},
			{"X-Amz-Object-Lock-Mode": "COMPLIANCE", "X-Amz-Object-Lock-Retain-Until-Date": "2099-01-01T00:00:00Z"},
			{"X-Amz-Object-Lock-Legal-Hold": "ON"},
			{"X-Amz-Metadata-Directive": "REPLACE"},
			// aws-chunked framing announced without signing it: a store
			// that decoded "hello" as chunks would store something else.
			{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "X-Amz-Decoded-Content-Length": "3"},
			{"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "X-Amz-Decoded-Content-Length": "3"},
			// SSE-C with the holder's own key: the application could not
			// read the object (HEAD without the key fails).
			sseC(),
		} {
			t.Run(itoa(i), func(t *testing.T) {
				t.Parallel()
				p := st.presignPut(t, "large", "attack/amz-"+itoa(i)+".txt")
				status, code := put(t, p.GetUrl(), with(p.GetHeaders(), h), []byte("hello"))
				if status >= 400 {
					t.Logf("%v refused: %d %s", h, status, code)
					return
				}
				head := st.headObject(t, p.GetKey())
				if head == nil {
					t.Fatal("accepted but not stored")
				}
				if len(head.Metadata) > 0 || deref(head.WebsiteRedirectLocation) != "" || head.ObjectLockMode != "" ||
					head.ObjectLockLegalHoldStatus == "ON" || deref(head.ContentLength) != 5 || deref(head.ContentType) != "text/plain" {
					t.Errorf("%v changed the stored object: %+v", h, head)
				}
			})
		}
	})
}
