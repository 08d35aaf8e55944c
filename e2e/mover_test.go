package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/internal/clamd"
	"github.com/gatepost/gatepost/internal/clamdtest"
	"github.com/gatepost/gatepost/internal/malwarescan"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// TestStoreMover checks, on every store, the store calls that verifying an
// upload after it lands rests on: streaming one version, copying it to
// another key (promotion, quarantine) in one call and in parts, and
// deleting it, and a malware scan streamed from the store to a real
// clamd; each conditional on the version, so a replaced object is never
// moved or read by mistake.
func TestStoreMover(t *testing.T) {
	scanners := clamdtest.Start(t)
	forEachStore(t, func(t *testing.T, st *target) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		store := st.s3store(t)
		put := func(key string, body []byte) *uploadpolicy.Object {
			t.Helper()
			if _, err := st.s3.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
				ContentType: aws.String("image/png"), ContentDisposition: aws.String("attachment"),
				Metadata: map[string]string{"title": "a cat"},
			}); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			obj, err := store.Head(ctx, bucket, key)
			if err != nil || obj == nil {
				t.Fatalf("head %s: %v, %v", key, obj, err)
			}
			return obj
		}
		// A copy must be the same bytes with the same headers and metadata.
		sameAs := func(t *testing.T, key string, want []byte) {
			t.Helper()
			if got := st.getObject(t, key); !bytes.Equal(got, want) {
				t.Fatalf("%s holds %d bytes, want the %d copied", key, len(got), len(want))
			}
			h := st.headObject(t, key)
			if aws.ToString(h.ContentType) != "image/png" || aws.ToString(h.ContentDisposition) != "attachment" || h.Metadata["title"] != "a cat" {
				t.Errorf("%s: Content-Type %q, Content-Disposition %q, metadata %v; want the source's", key,
					aws.ToString(h.ContentType), aws.ToString(h.ContentDisposition), h.Metadata)
			}
		}
		// Keys with characters that x-amz-copy-source must carry encoded.
		prefix := "mover/" + st.name + "/"
		small := bytes.Repeat([]byte("png?"), 1000)
		from := prefix + "staged/a cat+1 é.png"
		obj := put(from, small)

		t.Run("open streams the version asked for", func(t *testing.T) {
			r, err := store.Open(ctx, bucket, from, obj.ETag)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, small) {
				t.Fatalf("read %d bytes, %v; want the %d stored", len(got), err, len(small))
			}
			if _, err := store.Open(ctx, bucket, from, `"0123456789abcdef0123456789abcdef"`); !errors.Is(err, objectstore.ErrChanged) {
				t.Errorf("open with another version's ETag: %v, want ErrChanged", err)
			}
			if _, err := store.Open(ctx, bucket, prefix+"missing", obj.ETag); !errors.Is(err, objectstore.ErrChanged) {
				t.Errorf("open of a missing key: %v, want ErrChanged", err)
			}
		})

		t.Run("copy in one call", func(t *testing.T) {
			to := prefix + "final/a cat+1 é.png"
			etag, err := store.Copy(ctx, bucket, from, to, obj)
			if err != nil || etag == "" {
				t.Fatalf("copy: %q, %v", etag, err)
			}
			sameAs(t, to, small)
		})

		t.Run("copy of a replaced version is refused", func(t *testing.T) {
			stale := *obj
			stale.ETag = `"0123456789abcdef0123456789abcdef"`
			to := prefix + "final/stale.png"
			if _, err := store.Copy(ctx, bucket, from, to, &stale); !errors.Is(err, objectstore.ErrChanged) {
				t.Fatalf("copy with another version's ETag: %v, want ErrChanged", err)
			}
			if st.headObject(t, to) != nil {
				t.Errorf("%s exists after a refused copy", to)
			}
		})

		t.Run("copy in parts", func(t *testing.T) {
			parted := st.s3store(t)
			parted.CopyInParts(1<<20, 5<<20)
			// 12 MiB and a bit: three parts, the last one short.
			big := bytes.Repeat([]byte(strings.Repeat("0123456789abcdef", 4)), 12<<14+7)
			bigFrom := prefix + "staged/big.bin"
			bigObj := put(bigFrom, big)
			to := prefix + "final/big.bin"
			etag, err := parted.Copy(ctx, bucket, bigFrom, to, bigObj)
			if err != nil {
				t.Fatalf("copy in parts: %v", err)
			}
			// A multipart object's ETag ends in its number of parts.
			if !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
				t.Errorf("copy in parts: ETag %s, want one of a three-part object", etag)
			}
			sameAs(t, to, big)
			stale := *bigObj
			stale.ETag = `"0123456789abcdef0123456789abcdef"`
			if _, err := parted.Copy(ctx, bucket, bigFrom, prefix+"final/big-stale.bin", &stale); !errors.Is(err, objectstore.ErrChanged) {
				t.Fatalf("copy in parts with another version's ETag: %v, want ErrChanged", err)
			}
			if st.headObject(t, prefix+"final/big-stale.bin") != nil {
				t.Errorf("a refused copy in parts left an object")
			}
			uploads, err := st.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			if err != nil {
				t.Fatal(err)
			}
			if len(uploads.Uploads) != 0 {
				t.Errorf("a refused copy in parts left %d multipart uploads", len(uploads.Uploads))
			}
		})

		t.Run("malware scan streams the object from the store", func(t *testing.T) {
			scanner := &malwarescan.Scanner{Store: store, Clamd: &clamd.Client{Addr: scanners.Addr}, MaxBytes: clamdtest.StreamMaxLength}
			infected := put(prefix+"staged/eicar.png", []byte(clamdtest.EICAR))
			reason, err := scanner.Scan(ctx, bucket, prefix+"staged/eicar.png", infected)
			if err != nil || !strings.Contains(reason, clamdtest.Signature) {
				t.Errorf("scan of EICAR = %q, %v; want the test signature", reason, err)
			}
			if reason, err := scanner.Scan(ctx, bucket, from, obj); err != nil || reason != "" {
				t.Errorf("scan of clean bytes = %q, %v; want clean", reason, err)
			}
		})

		t.Run("delete", func(t *testing.T) {
			if err := store.Delete(ctx, bucket, from); err != nil {
				t.Fatal(err)
			}
			if st.headObject(t, from) != nil {
				t.Errorf("%s exists after delete", from)
			}
			if err := store.Delete(ctx, bucket, from); err != nil {
				t.Errorf("delete of a missing key: %v, want nothing", err)
			}
		})
	})
}
