package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/e2e/minio"
	"github.com/gatepost/gatepost/e2e/storeproc"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/clamdtest"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/notify"
	"github.com/gatepost/gatepost/internal/redistest"
	"github.com/gatepost/gatepost/internal/staging"
)

// TestStoreReportsUploads: a real MinIO delivers its bucket notifications
// to gatepost's /store-events. An upload whose client never finalizes is
// verified, promoted and notified from the store's report alone; the
// client finalizing it too changes nothing (one message); a receiver that
// is down gets its message once it is back; a report without the shared
// secret is refused.
func TestStoreReportsUploads(t *testing.T) {
	t.Parallel()
	binary, err := minio.Binary()
	if err != nil {
		t.Skip(err)
	}
	const secret = "store-events-secret-0123456789"
	ports, err := storeproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := "127.0.0.1:" + itoa(ports[0])
	srv, err := minio.Start(t.Context(), binary, filepath.Join(t.TempDir(), "minio"),
		"MINIO_NOTIFY_WEBHOOK_ENABLE_GP=on",
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT_GP=http://"+httpAddr+"/store-events",
		"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_GP="+secret,
		"MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_GP="+filepath.Join(t.TempDir(), "queue"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if err := srv.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	notifyOn(t, srv.Client(), bucket, "arn:minio:sqs::GP:webhook")
	st := &target{name: "MinIO", kind: config.StoreMinIO, Access: srv.Access, store: srv, s3: srv.Client()}
	rc, hookURL := newHookReceiver(t)
	vt := st.startVerifying(t, rc, hookURL, verifyingOptions{httpAddr: httpAddr,
		events: &config.StoreEvents{SecretEnv: "GATEPOST_TEST_EVENTS"}, env: map[string]string{"GATEPOST_TEST_EVENTS": secret}})
	c := vt.client(t)
	ctx := as(t, apiKey)
	image := pngBytes(t)

	// Reported by the store alone.
	key := vt.uploadPOST(t, "checked", "events/unfinalized.png", "image/png", image)
	m := rc.waitFor(t, key)
	if m.Type != notify.EventVerified || m.Data.Subject != "e2e" || !bytes.Equal(vt.getObject(t, key), image) || vt.exists(t, staging.Key(key)) {
		t.Fatalf("after the store's report: webhook %+v; the key must hold the PNG, nothing staged", m)
	}
	// Reported by the client too: the same verdict, no second message.
	resp, err := c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: key})
	if err != nil || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED {
		t.Fatalf("finalize after the store's report = %v, %v", resp, err)
	}

	// The receiver is down for a while.
	rc.setDown(true)
	late := vt.uploadPOST(t, "checked", "events/while-down.png", "image/png", image)
	deadline := time.Now().Add(60 * time.Second)
	for rc.failures() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no delivery was tried while the receiver was down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	rc.setDown(false)
	if m := rc.waitFor(t, late); m.Type != notify.EventVerified {
		t.Errorf("after the receiver came back: %+v", m)
	}
	if n := len(rc.about(key)); n != 1 {
		t.Errorf("%d messages about %s (reported by the store and the client), want 1", n, key)
	}

	// A profile without staging: the store's report alone has it verified
	// (reported only: GetUpload then says VERIFIED).
	plain := vt.uploadPOST(t, "default", "events/plain.png", "image/png", image)
	deadline = time.Now().Add(60 * time.Second)
	for {
		got, err := c.GetUpload(ctx, &gatepostv1.GetUploadRequest{Key: plain})
		if err == nil && got.GetState() == gatepostv1.UploadState_UPLOAD_STATE_VERIFIED {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetUpload of %s = %v, %v; want VERIFIED from the store's report", plain, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A forged report: no secret, or a wrong one.
	for _, auth := range []string{"", "Bearer a-guess"} {
		body := `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"uploads"},"object":{"key":".gatepost/staging/checked/e2e/x.png","size":1,"eTag":"x"}}}]}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/store-events", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("a report with Authorization %q: %d, want 401", auth, res.StatusCode)
		}
	}
}

// TestMalwareScan: on both stores, a profile that scans with Debian's
// clamd rejects the EICAR test file, naming the signature; while clamd is
// down an upload stays staged and finalizing answers 503; once clamd is
// back the same upload is verified and promoted.
func TestMalwareScan(t *testing.T) {
	clamd := clamdtest.Start(t)
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		rc, hookURL := newHookReceiver(t)
		vt := st.startVerifying(t, rc, hookURL, verifyingOptions{clamdAddr: clamd.Addr})
		c := vt.client(t)
		ctx := as(t, apiKey)

		key := vt.uploadPOST(t, "scanned", "eicar.txt", "text/plain", []byte(clamdtest.EICAR))
		resp, err := c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "scanned", Key: key})
		if err != nil || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_REJECTED ||
			!strings.Contains(strings.Join(resp.GetReasons(), " "), clamdtest.Signature) {
			t.Fatalf("finalize of EICAR = %v, %v; want REJECTED naming %s", resp, err, clamdtest.Signature)
		}
		if vt.exists(t, key) || vt.exists(t, staging.Key(key)) {
			t.Errorf("the EICAR upload is still stored")
		}

		clean := vt.uploadPOST(t, "scanned", "clean.txt", "text/plain", []byte("nothing to see here\n"))
		clamd.Stop()
		_, err = c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "scanned", Key: clean})
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "could not be verified now") {
			t.Errorf("finalize with clamd down: %v; want Unavailable", err)
		}
		if vt.exists(t, clean) || !vt.exists(t, staging.Key(clean)) {
			t.Errorf("an unscanned upload must stay staged, never at its key")
		}
		clamd.Restart()
		resp, err = c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "scanned", Key: clean})
		if err != nil || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED || !vt.exists(t, clean) {
			t.Fatalf("finalize with clamd back = %v, %v; want VERIFIED and promoted", resp, err)
		}
	})
}

// TestReplicasVerifyOnce: two gatepost replicas sharing one Redis (Debian's
// redis-server), on both stores. The same upload finalized on both at once
// is verified and notified once, and both answer the verdict; the webhook
// queue is the shared stream, so the message arrives once whichever
// replica queued it.
func TestReplicasVerifyOnce(t *testing.T) {
	redisSrv := redistest.Start(t)
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		rc, hookURL := newHookReceiver(t)
		a := st.startVerifying(t, rc, hookURL, verifyingOptions{redisURL: redisSrv.URL})
		b := st.startVerifying(t, rc, hookURL, verifyingOptions{redisURL: redisSrv.URL})
		image := pngBytes(t)
		for i := range 3 {
			key := a.uploadPOST(t, "checked", fmt.Sprintf("replicas/%d.png", i), "image/png", image)
			var wg sync.WaitGroup
			for _, replica := range []*target{a, b, a, b} {
				wg.Go(func() {
					resp, err := replica.client(t).FinalizeUpload(as(t, apiKey), &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: key})
					if err != nil || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED {
						t.Errorf("finalize of %s = %v, %v", key, resp, err)
					}
				})
			}
			wg.Wait()
			rc.waitFor(t, key)
		}
		// One more, after which any duplicate of the first three would
		// have arrived (one queue, delivered in order per worker).
		last := a.uploadPOST(t, "checked", "replicas/last.png", "image/png", image)
		if _, err := b.client(t).FinalizeUpload(as(t, apiKey), &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: last}); err != nil {
			t.Fatal(err)
		}
		rc.waitFor(t, last)
		for i := range 3 {
			key := fmt.Sprintf("checked/e2e/replicas/%d.png", i)
			if n := len(rc.about(key)); n != 1 {
				t.Errorf("%d messages about %s, want 1", n, key)
			}
		}
	})
}
