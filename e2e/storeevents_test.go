package e2e

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gatepost/gatepost/e2e/minio"
	"github.com/gatepost/gatepost/internal/storeevents"
)

// TestMinIOStoreEvents: a real MinIO, with a webhook target on the store
// event endpoint and the shared secret as its auth token, reports a
// created object (a key with a space and a plus) with its size and ETag;
// a target with a wrong token is refused and reports nothing.
func TestMinIOStoreEvents(t *testing.T) {
	t.Parallel()
	binary, err := minio.Binary()
	if err != nil {
		t.Skip(err)
	}
	var mu sync.Mutex
	var got []storeevents.Object
	arrived := make(chan struct{}, 16)
	h := &storeevents.Handler{Secret: "store-events-secret", Created: func(_ context.Context, objects []storeevents.Object) error {
		mu.Lock()
		got = append(got, objects...)
		mu.Unlock()
		arrived <- struct{}{}
		return nil
	}}
	endpoint := httptest.NewServer(h)
	t.Cleanup(endpoint.Close)

	srv, err := minio.Start(t.Context(), binary, filepath.Join(t.TempDir(), "minio"),
		"MINIO_NOTIFY_WEBHOOK_ENABLE_GP=on",
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT_GP="+endpoint.URL,
		"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_GP=store-events-secret",
		"MINIO_NOTIFY_WEBHOOK_ENABLE_FORGED=on",
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT_FORGED="+endpoint.URL,
		"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_FORGED=a-guess",
		"MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_FORGED="+filepath.Join(t.TempDir(), "queue"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	ctx := t.Context()
	c := srv.Client()
	if err := srv.CreateBucket(ctx, "events"); err != nil {
		t.Fatal(err)
	}
	notifyOn(t, c, "events", "arn:minio:sqs::GP:webhook", "arn:minio:sqs::FORGED:webhook")
	key := "user-uploads/a b+c.png"
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("events"), Key: aws.String(key), Body: strings.NewReader("0123456789"), ContentType: aws.String("image/png")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no event arrived within 30 s")
	}
	// Give the forged target time to try too.
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	want := storeevents.Object{Bucket: "events", Key: key, Size: 10, ETag: strings.Trim(aws.ToString(put.ETag), `"`), Event: "ObjectCreated:Put"}
	if len(got) != 1 || got[0] != want {
		t.Errorf("objects reported: %+v; want exactly %+v (the forged target's must be refused)", got, want)
	}
}

// notifyOn sends bucket's object-created events to MinIO's webhook
// targets (by ARN). MinIO registers its targets in the background after it
// starts answering: until then their ARNs "do not exist".
func notifyOn(t *testing.T, c *s3.Client, bucket string, arns ...string) {
	t.Helper()
	var queues []types.QueueConfiguration
	for _, arn := range arns {
		queues = append(queues, types.QueueConfiguration{QueueArn: aws.String(arn), Events: []types.Event{"s3:ObjectCreated:*"}})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.PutBucketNotificationConfiguration(t.Context(), &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(bucket), NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: queues},
		})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PutBucketNotificationConfiguration: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
