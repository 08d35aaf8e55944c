package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// unsizedUsed is the e2e caller's quota use in the unsized profile.
func unsizedUsed(t *testing.T, c gatepostv1.UploadServiceClient) int64 {
	t.Helper()
	q, err := c.GetQuota(as(t, apiKey), &gatepostv1.GetQuotaRequest{Profile: "unsized"})
	if err != nil || len(q.GetQuotas()) != 1 {
		t.Fatalf("GetQuota: %v, %v", q, err)
	}
	return q.GetQuotas()[0].GetUsedBytes()
}

// TestUnsizedMultipart: on a profile that allows it, a multipart upload
// that declares no size gets part URLs that pin no length; the store takes
// parts of the client's own size (5 MiB, as Uppy cuts them), completion
// assembles parts 1..n within the profile's limits, and the quota, which
// reserved the profile's maximum, is corrected to the real size. Parts over
// the profile's maximum make completion abort the upload: nothing is
// stored and the parts are freed. Both stores check the part URLs'
// signatures.
func TestUnsizedMultipart(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		c := st.client(t)
		ctx := as(t, apiKey)
		start := func(key string) *gatepostv1.CreateMultipartUploadResponse {
			t.Helper()
			up, err := c.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{Key: key, ContentType: "application/octet-stream", Profile: "unsized"})
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			return up
		}
		send := func(up *gatepostv1.CreateMultipartUploadResponse, parts ...[]byte) {
			t.Helper()
			var numbers []int32
			for i := range parts {
				numbers = append(numbers, int32(i+1))
			}
			urls, err := c.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: up.GetUploadToken(), PartNumbers: numbers})
			if err != nil {
				t.Fatalf("PresignUploadParts: %v", err)
			}
			for i, p := range urls.GetParts() {
				if p.GetContentLength() != 0 || p.GetHeaders()["Content-Length"] != "" {
					t.Errorf("part %d pins a length: %v", p.GetPartNumber(), p)
				}
				if code, s3code := put(t, p.GetUrl(), p.GetHeaders(), parts[i]); code != http.StatusOK {
					t.Fatalf("part %d: %d %s", p.GetPartNumber(), code, s3code)
				}
			}
		}

		before := unsizedUsed(t, c)
		up := start("clip-" + st.name + ".bin")
		if up.GetMaxPartCount() != 3 || up.GetPartSize() != 0 {
			t.Fatalf("upload %v; want max_part_count 3 and no part size", up)
		}
		if got := unsizedUsed(t, c) - before; got != 12<<20 {
			t.Errorf("reserved %d bytes, want the profile's maximum %d", got, 12<<20)
		}
		data := randomBytes(t, 5<<20+4321)
		send(up, data[:5<<20], data[5<<20:])
		done, err := c.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: up.GetUploadToken()})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload: %v", err)
		}
		if done.GetSize() != int64(len(data)) {
			t.Errorf("size %d, want %d", done.GetSize(), len(data))
		}
		if got := st.getObject(t, up.GetKey()); !bytes.Equal(got, data) {
			t.Errorf("stored %d bytes that differ from the %d sent", len(got), len(data))
		}
		if got := unsizedUsed(t, c) - before; got != int64(len(data)) {
			t.Errorf("quota holds %d bytes after completion, want the real %d", got, len(data))
		}

		// Over the maximum: three parts of 5 MiB (15 MiB > 12 MiB).
		before = unsizedUsed(t, c)
		over := start("over-" + st.name + ".bin")
		chunk := randomBytes(t, 5<<20)
		send(over, chunk, chunk, chunk)
		_, err = c.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: over.GetUploadToken()})
		if st := status.Convert(err); st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "over the profile's maximum of 12582912; gatepost aborted the upload and nothing was stored") {
			t.Fatalf("complete over the maximum: %v", err)
		}
		if st.headObject(t, over.GetKey()) != nil {
			t.Error("the over-limit upload was stored")
		}
		listed, err := st.s3.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(over.GetKey())})
		if err != nil {
			t.Fatal(err)
		}
		if len(listed.Uploads) != 0 {
			t.Errorf("the over-limit upload is still in the store: %v", listed.Uploads)
		}
		if got := unsizedUsed(t, c) - before; got != 0 {
			t.Errorf("quota holds %d bytes for the aborted upload, want 0", got)
		}
		// A part number past what 12 MiB can need is never signed.
		_, err = c.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: start("far-" + st.name + ".bin").GetUploadToken(), PartNumbers: []int32{4}})
		wantCode(t, err, codes.InvalidArgument, "part 4")
	})
}
