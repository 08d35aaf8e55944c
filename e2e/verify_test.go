package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/clamdtest"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/notify"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/webhook"
)

// hookReceiver is the application's webhook endpoint: it keeps every
// message whose Standard Webhooks signature verifies, and answers 503
// while down.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	down   bool
	failed int // attempts answered 503
	got    []hookMessage
	forged int // attempts whose signature did not verify
	notify chan struct{}
}

// hookMessage is one verified message.
type hookMessage struct {
	ID   string
	Type string         `json:"type"`
	Data notify.Payload `json:"data"`
}

func newHookReceiver(t *testing.T) (*hookReceiver, string) {
	rc := &hookReceiver{secret: webhook.NewSecret(), notify: make(chan struct{}, 100)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.down {
		rc.failed++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	wh, err := standardwebhooks.NewWebhook(rc.secret)
	if err != nil || wh.Verify(body, r.Header) != nil {
		rc.forged++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	m := hookMessage{ID: r.Header.Get("webhook-id")}
	if err := json.Unmarshal(body, &m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, m)
	w.WriteHeader(http.StatusNoContent)
	rc.notify <- struct{}{}
}

// waitFor waits for the message about key and returns it.
func (rc *hookReceiver) waitFor(t *testing.T, key string) hookMessage {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		rc.mu.Lock()
		for _, m := range rc.got {
			if m.Data.Key == key {
				rc.mu.Unlock()
				return m
			}
		}
		rc.mu.Unlock()
		select {
		case <-rc.notify:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no webhook message about %s arrived", key)
		}
	}
}

// about returns every message about key.
func (rc *hookReceiver) about(key string) []hookMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookMessage
	for _, m := range rc.got {
		if m.Data.Key == key {
			out = append(out, m)
		}
	}
	return out
}

func (rc *hookReceiver) setDown(down bool) {
	rc.mu.Lock()
	rc.down = down
	rc.mu.Unlock()
}

func (rc *hookReceiver) failures() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.failed
}

// verifyingProfiles are the staging profiles of the verification tests.
func verifyingProfiles(hookURL, clamdAddr string) map[string]config.Profile {
	hook := &config.Webhook{URL: hookURL, SecretEnv: "GATEPOST_TEST_HOOK_SECRET"}
	profiles := map[string]config.Profile{
		// checked deletes what it rejects.
		"checked": {
			Bucket: bucket, KeyPrefix: "checked/{subject}/", MinBytes: 1, MaxBytes: 64 << 20,
			ContentTypes: []string{"image/png", "text/plain"}, Expires: 15 * time.Minute,
			MetadataKeys: []string{"owner"},
			Verify:       config.Verification{Staging: true}, Webhook: hook,
		},
		// held keeps what it rejects in quarantine.
		"held": {
			Bucket: bucket, KeyPrefix: "held/{subject}/", MinBytes: 1, MaxBytes: 1 << 20,
			ContentTypes: []string{"image/png"}, Expires: 15 * time.Minute,
			Verify: config.Verification{Staging: true, OnReject: config.RejectQuarantine}, Webhook: hook,
		},
	}
	if clamdAddr != "" {
		profiles["scanned"] = config.Profile{
			Bucket: bucket, KeyPrefix: "scanned/{subject}/", MinBytes: 1, MaxBytes: 1 << 20,
			ContentTypes: []string{"text/plain"}, Expires: 15 * time.Minute,
			Verify: config.Verification{Staging: true, MalwareScan: &config.MalwareScan{Clamd: clamdAddr, MaxBytes: clamdtest.StreamMaxLength}}, Webhook: hook,
		}
	}
	return profiles
}

// verifyingOptions are what a verification test's gatepost adds to the
// test configuration.
type verifyingOptions struct {
	clamdAddr, httpAddr, redisURL string
	events                        *config.StoreEvents
	env                           map[string]string
}

// startVerifying starts a gatepost of its own for st with the verifying
// profiles besides the usual ones, and returns st as seen through it.
func (st *target) startVerifying(t *testing.T, rc *hookReceiver, hookURL string, o verifyingOptions) *target {
	t.Helper()
	cfg := testConfig(st.Endpoint, st.kind)
	for name, p := range verifyingProfiles(hookURL, o.clamdAddr) {
		cfg.Profiles[name] = p
	}
	if o.httpAddr != "" {
		cfg.HTTPAddr = o.httpAddr
	}
	cfg.StoreEvents = o.events
	cfg.SharedState.RedisURL = o.redisURL
	env := o.env
	if err := cfg.Validate(); err != nil {
		t.Fatalf("configuration: %v", err)
	}
	getenv := func(name string) string {
		if name == "GATEPOST_TEST_HOOK_SECRET" {
			return rc.secret
		}
		return env[name]
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{
		Logger: slog.New(slog.NewJSONHandler(testLogWriter(), nil)), Getenv: getenv,
		AWSOptions: []func(*awsconfig.LoadOptions) error{st.credentials()},
	})
	if err != nil {
		cancel()
		t.Fatalf("start gatepost: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	own := *st
	own.gatepost = a
	return &own
}

// finalizeREST calls POST /v1/uploads/finalize.
func (st *target) finalizeREST(t *testing.T, profile, key string) (int, *gatepostv1.FinalizeUploadResponse, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"profile": profile, "key": key})
	req, err := http.NewRequest(http.MethodPost, "http://"+st.gatepost.HTTPAddr()+"/v1/uploads/finalize", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		State       string   `json:"state"`
		Reasons     []string `json:"reasons"`
		SniffedType string   `json:"sniffed_type"`
		Size        string   `json:"size"`
		Quarantine  string   `json:"quarantine_key"`
	}
	_ = json.Unmarshal(raw, &out)
	r := &gatepostv1.FinalizeUploadResponse{
		State:   gatepostv1.UploadState(gatepostv1.UploadState_value[out.State]),
		Reasons: out.Reasons, SniffedType: out.SniffedType, QuarantineKey: out.Quarantine,
	}
	return resp.StatusCode, r, string(raw)
}

// pngBytes is a real PNG image.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// exists reports whether the store has an object at key.
func (st *target) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := st.s3.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err == nil
}

// uploadPOST presigns a POST on the profile and uploads content with it.
func (st *target) uploadPOST(t *testing.T, profile, key, contentType string, content []byte) string {
	t.Helper()
	p := st.presignREST(t, query("profile", profile, "key", key, "content_type", contentType, "content_length", itoa(len(content))))
	if status, code := postForm(t, p.URL, fieldsOf(p), content); status >= 300 {
		t.Fatalf("POST upload of %s: status %d (%s)", key, status, code)
	}
	return p.Key
}

// TestVerifyAndPromote: on SeaweedFS and MinIO, over REST and gRPC, an
// upload on a staging profile waits under .gatepost/staging/ and is never
// at its key until verified; a real PNG is verified, promoted and
// reported by a signed webhook, once however often it is finalized; HTML
// bytes declared image/png are rejected and deleted, or quarantined; a
// staged object put behind gatepost's back without a declaration, with a
// size or a checksum other than declared, is rejected.
func TestVerifyAndPromote(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *target) {
		rc, hookURL := newHookReceiver(t)
		vt := st.startVerifying(t, rc, hookURL, verifyingOptions{})
		c := vt.client(t)
		ctx := as(t, apiKey)
		image := pngBytes(t)
		run := strings.ReplaceAll(t.Name(), "/", "-")

		t.Run("a real PNG over REST is verified, promoted and notified once", func(t *testing.T) {
			key := vt.uploadPOST(t, "checked", run+"/photo.png", "image/png", image)
			if vt.exists(t, key) {
				t.Fatalf("%s is at its key before it was verified", key)
			}
			if !vt.exists(t, staging.Key(key)) {
				t.Fatalf("%s was not staged", key)
			}
			got, err := c.GetUpload(ctx, &gatepostv1.GetUploadRequest{Profile: "checked", Key: key})
			if err != nil || got.GetState() != gatepostv1.UploadState_UPLOAD_STATE_PENDING || got.GetExists() {
				t.Fatalf("GetUpload before finalize = %v, %v; want PENDING, not at the key", got, err)
			}
			status, resp, raw := vt.finalizeREST(t, "checked", key)
			if status != http.StatusOK || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED || resp.GetSniffedType() != "image/png" {
				t.Fatalf("finalize: %d %s", status, raw)
			}
			if !bytes.Equal(vt.getObject(t, key), image) || vt.exists(t, staging.Key(key)) {
				t.Fatalf("after verification the key must hold the PNG and nothing must stay staged")
			}
			m := rc.waitFor(t, key)
			if m.Type != notify.EventVerified || m.Data.Subject != "e2e" || m.Data.Profile != "checked" || m.Data.Size != int64(len(image)) ||
				m.Data.SniffedType != "image/png" || m.Data.DeclaredSize == nil || *m.Data.DeclaredSize != int64(len(image)) || m.Data.ETag == "" {
				t.Errorf("webhook = %+v", m)
			}
			// Again, over gRPC: the same verdict, no second message.
			again, err := c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: key})
			if err != nil || again.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED {
				t.Fatalf("second finalize = %v, %v", again, err)
			}
			got, err = c.GetUpload(ctx, &gatepostv1.GetUploadRequest{Profile: "checked", Key: key})
			if err != nil || got.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED || !got.GetExists() || len(got.GetViolations()) > 0 {
				t.Fatalf("GetUpload after finalize = %v, %v", got, err)
			}
			if _, hidden := got.GetMetadata()[staging.MetadataName]; hidden {
				t.Errorf("GetUpload shows gatepost's declaration as metadata: %v", got.GetMetadata())
			}
			// A later message would be about another key; one about this
			// key would already be queued behind the first.
			other := vt.uploadPOST(t, "checked", run+"/later.txt", "text/plain", []byte("later"))
			if _, err := c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: other}); err != nil {
				t.Fatal(err)
			}
			rc.waitFor(t, other)
			if n := len(rc.about(key)); n != 1 {
				t.Errorf("%d webhook messages about %s, want 1", n, key)
			}
		})

		t.Run("HTML declared image/png over gRPC PUT is rejected and deleted", func(t *testing.T) {
			html := []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
			put1, err := c.CreatePresignedPut(ctx, &gatepostv1.CreatePresignedPutRequest{
				Profile: "checked", Key: run + "/fake.png", ContentType: "image/png", ContentLength: proto.Int64(int64(len(html))),
			})
			if err != nil {
				t.Fatal(err)
			}
			if status, code := put(t, put1.GetUrl(), put1.GetHeaders(), html); status != http.StatusOK {
				t.Fatalf("PUT: %d %s", status, code)
			}
			resp, err := c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: put1.GetKey()})
			if err != nil || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_REJECTED || len(resp.GetReasons()) == 0 {
				t.Fatalf("finalize = %v, %v; want REJECTED with reasons", resp, err)
			}
			if !strings.Contains(strings.Join(resp.GetReasons(), " "), "text/html") {
				t.Errorf("reasons %q do not name what the bytes are", resp.GetReasons())
			}
			if vt.exists(t, put1.GetKey()) || vt.exists(t, staging.Key(put1.GetKey())) || vt.exists(t, staging.QuarantineKey(put1.GetKey())) {
				t.Errorf("a rejected upload of a deleting profile is still stored")
			}
			if m := rc.waitFor(t, put1.GetKey()); m.Type != notify.EventRejected || len(m.Data.Reasons) == 0 {
				t.Errorf("webhook = %+v", m)
			}
			got, err := c.GetUpload(ctx, &gatepostv1.GetUploadRequest{Profile: "checked", Key: put1.GetKey()})
			if err != nil || got.GetState() != gatepostv1.UploadState_UPLOAD_STATE_REJECTED || got.GetExists() {
				t.Errorf("GetUpload = %v, %v; want REJECTED, not at the key", got, err)
			}
		})

		t.Run("HTML declared image/png is quarantined on a quarantining profile", func(t *testing.T) {
			html := []byte("<html><body>not an image</body></html>")
			key := vt.uploadPOST(t, "held", run+"/fake.png", "image/png", html)
			status, resp, raw := vt.finalizeREST(t, "held", key)
			if status != http.StatusOK || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_REJECTED || resp.GetQuarantineKey() != staging.QuarantineKey(key) {
				t.Fatalf("finalize: %d %s", status, raw)
			}
			if vt.exists(t, key) || vt.exists(t, staging.Key(key)) || !bytes.Equal(vt.getObject(t, staging.QuarantineKey(key)), html) {
				t.Errorf("a quarantined upload must be only in quarantine")
			}
			if m := rc.waitFor(t, key); m.Type != notify.EventQuarantined || m.Data.QuarantineKey != staging.QuarantineKey(key) {
				t.Errorf("webhook = %+v", m)
			}
		})

		t.Run("staged objects that no credential declared are rejected", func(t *testing.T) {
			body := []byte("hello")
			declare := func(d staging.Declaration) map[string]string {
				return map[string]string{staging.MetadataName: d.Encode()}
			}
			for _, tc := range []struct {
				name     string
				metadata map[string]string
				want     string
			}{
				{"no declaration", nil, "no gatepost declaration"},
				{"a size other than declared", declare(staging.Declaration{Subject: "e2e", Profile: "checked", Size: 6, Issued: time.Now()}), "size 5 is not the declared 6 bytes"},
				{"a checksum other than declared", declare(staging.Declaration{Subject: "e2e", Profile: "checked", Size: 5,
					ChecksumSHA256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", Issued: time.Now()}), "checksum"},
				{"another profile's declaration", declare(staging.Declaration{Subject: "e2e", Profile: "held", Size: 5, Issued: time.Now()}), `made for profile "held"`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					key := fmt.Sprintf("checked/e2e/%s/%s.txt", run, strings.ReplaceAll(tc.name, " ", "-"))
					if _, err := vt.s3.PutObject(t.Context(), &s3.PutObjectInput{
						Bucket: aws.String(bucket), Key: aws.String(staging.Key(key)), Body: bytes.NewReader(body),
						ContentType: aws.String("text/plain"), Metadata: tc.metadata,
					}); err != nil {
						t.Fatal(err)
					}
					resp, err := c.FinalizeUpload(ctx, &gatepostv1.FinalizeUploadRequest{Profile: "checked", Key: key})
					if err != nil || resp.GetState() != gatepostv1.UploadState_UPLOAD_STATE_REJECTED ||
						!strings.Contains(strings.Join(resp.GetReasons(), " "), tc.want) {
						t.Fatalf("finalize = %v, %v; want REJECTED for %q", resp, err, tc.want)
					}
					if vt.exists(t, key) || vt.exists(t, staging.Key(key)) {
						t.Errorf("the rejected object is still stored")
					}
				})
			}
		})

		t.Run("a multipart upload is verified and promoted by its completion", func(t *testing.T) {
			total := int64(20 << 20)
			content := bytes.Repeat([]byte("a line of text\n"), int(total)/15+1)[:total]
			start, err := c.CreateMultipartUpload(ctx, &gatepostv1.CreateMultipartUploadRequest{
				Profile: "checked", Key: run + "/big.txt", ContentType: "text/plain", TotalSize: &total,
			})
			if err != nil {
				t.Fatal(err)
			}
			parts, err := c.PresignUploadParts(ctx, &gatepostv1.PresignUploadPartsRequest{UploadToken: start.GetUploadToken(), PartNumbers: partNumbers(start.GetPartCount())})
			if err != nil {
				t.Fatal(err)
			}
			offset := int64(0)
			for _, p := range parts.GetParts() {
				if status, code := put(t, p.GetUrl(), p.GetHeaders(), content[offset:offset+p.GetContentLength()]); status != http.StatusOK {
					t.Fatalf("part %d: %d %s", p.GetPartNumber(), status, code)
				}
				offset += p.GetContentLength()
			}
			done, err := c.CompleteMultipartUpload(ctx, &gatepostv1.CompleteMultipartUploadRequest{UploadToken: start.GetUploadToken()})
			if err != nil || done.GetState() != gatepostv1.UploadState_UPLOAD_STATE_VERIFIED || start.GetPartCount() < 2 {
				t.Fatalf("complete = %v, %v (of %d parts); want VERIFIED", done, err, start.GetPartCount())
			}
			if !vt.exists(t, start.GetKey()) || vt.exists(t, staging.Key(start.GetKey())) {
				t.Errorf("after verification: at the key %v, staged %v", vt.exists(t, start.GetKey()), vt.exists(t, staging.Key(start.GetKey())))
			}
			if m := rc.waitFor(t, start.GetKey()); m.Type != notify.EventVerified || m.Data.Size != total {
				t.Errorf("webhook = %+v", m)
			}
		})

		rc.mu.Lock()
		defer rc.mu.Unlock()
		if n := rc.forged; n != 0 {
			t.Errorf("%d webhook attempts did not verify", n)
		}
	})
}

// partNumbers returns 1 to n.
func partNumbers(n int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i) + 1
	}
	return out
}

// TestBrowserVerifiedUpload: in Debian's Chromium, gatepost.js on a
// staging profile resolves with the verdict for a real PNG drawn by the
// page (promoted to its key), rejects HTML declared image/png with
// gatepost's reasons (nothing at the key), and returns the final key's
// location for a verified multipart upload.
func TestBrowserVerifiedUpload(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		rc, hookURL := newHookReceiver(t)
		vt := st.startVerifying(t, rc, hookURL, verifyingOptions{})
		// The store must let this gatepost's page upload too.
		origins := []string{"http://" + st.gatepost.HTTPAddr(), "http://" + vt.gatepost.HTTPAddr()}
		if err := st.store.AllowBrowserUploads(t.Context(), bucket, origins); err != nil {
			t.Fatal(err)
		}
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+vt.gatepost.HTTPAddr()+"/")); err != nil {
			t.Fatal(err)
		}
		type result struct {
			Key, State, Sniffed, Location string
			Source, Code, Message         string
			Reasons                       []string
		}
		script := `(async () => {
	  const { uploadFile, uploadLargeFile } = await import("/gatepost.js");
	  const opts = { token: ` + strconv.Quote(apiKey) + `, profile: "checked" };
	  const canvas = document.createElement("canvas");
	  canvas.width = canvas.height = 8;
	  canvas.getContext("2d").fillRect(0, 0, 4, 4);
	  const png = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
	  const out = [];
	  const run = async (f) => {
	    try {
	      const r = await f();
	      out.push({ Key: r.key, State: r.state, Sniffed: r.sniffedType, Location: r.location });
	    } catch (e) {
	      out.push({ Source: e.source, Code: e.code, Message: e.message, Reasons: e.reasons });
	    }
	  };
	  await run(() => uploadFile(new File([png], "drawn.png", { type: "image/png" }), opts));
	  await run(() => uploadFile(new File(["<html><script>alert(1)</script></html>"], "fake.png", { type: "image/png" }), opts));
	  await run(() => uploadLargeFile(new File(["some text\n".repeat(1 << 20)], "notes.txt", { type: "text/plain" }), opts));
	  return out;
	})()`
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]result](script, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("results %+v", got)
		}
		if r := got[0]; r.State != "UPLOAD_STATE_VERIFIED" || r.Sniffed != "image/png" || r.Key != "checked/e2e/drawn.png" || !vt.exists(t, r.Key) {
			t.Errorf("the drawn PNG: %+v; want verified and at its key", r)
		}
		if r := got[1]; r.Source != "verification" || r.Code != "Rejected" || !strings.Contains(strings.Join(r.Reasons, " "), "text/html") ||
			!strings.Contains(r.Message, "rejected") || vt.exists(t, "checked/e2e/fake.png") {
			t.Errorf("the HTML declared image/png: %+v; want rejected with reasons, nothing at the key", r)
		}
		if r := got[2]; r.State != "UPLOAD_STATE_VERIFIED" || !strings.HasSuffix(r.Location, "/"+bucket+"/checked/e2e/notes.txt") || !vt.exists(t, "checked/e2e/notes.txt") {
			t.Errorf("the multipart text file: %+v; want verified, its location the final key", r)
		}
	})
}

// testLogWriter is where the verification tests' gatepost logs:
// GATEPOST_TEST_LOG=1 shows them.
func testLogWriter() io.Writer {
	if os.Getenv("GATEPOST_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
