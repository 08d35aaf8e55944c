package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/redistest"
)

// replica is one gatepost process of a shared deployment.
type replica struct {
	http, grpc string
}

// startReplicas starts n gatepost processes (the built binary) that share
// the Redis at redisURL and sign for st's store, with no upload token
// secret configured, and waits until each is ready.
func startReplicas(t *testing.T, st *target, redisURL string, n int) []replica {
	t.Helper()
	bin := gatepostBinary(t)
	cfgPath := filepath.Join(t.TempDir(), "gatepost.yaml")
	cfg := fmt.Sprintf(`grpc_addr: "127.0.0.1:0"
http_addr: "127.0.0.1:0"
s3: {region: %q, endpoint: %q, path_style: true, store: %q, accept_seaweedfs_post_headers: %t}
auth:
  mode: api_key
  api_keys:
    - {subject: e2e, sha256: %q, profiles: ["*"]}
shared_state: {redis_url: %q, on_unavailable: deny}
rate_limit: {requests_per_second: 0.001, burst: 5}
profiles:
  limited:
    bucket: %s
    key_prefix: "shared/{subject}/"
    max_bytes: 1024
    content_types: ["text/plain"]
    quota: {bytes: 3000, per: 24h}
  big:
    bucket: %s
    key_prefix: "sharedbig/{subject}/"
    max_bytes: 1048576
    content_types: ["application/octet-stream"]
    rate_limit: {requests_per_second: 100, burst: 100}
    quota: {bytes: 10485760, per: 1h}
    expires: 2s
    allow_unsized_multipart: true
`, "us-east-1", st.Endpoint, st.kind, st.kind == "seaweedfs", auth.HashKey(apiKey), redisURL, bucket, bucket)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out []replica
	for i := range n {
		r := replica{http: freeLoopbackAddr(t), grpc: freeLoopbackAddr(t)}
		cmd := exec.Command(bin, "-config", cfgPath, "-http-addr", r.http, "-grpc-addr", r.grpc)
		cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true",
			"AWS_ACCESS_KEY_ID="+st.AccessKey, "AWS_SECRET_ACCESS_KEY="+st.SecretKey, "AWS_REGION=us-east-1")
		logs := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("replica %d log:\n%s", i, logs)
			}
		})
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + r.http + "/healthz")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d did not start:\n%s", i, logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		out = append(out, r)
	}
	return out
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// call sends one REST request to a replica and returns the status and body.
func (r replica) call(t *testing.T, method, path string, body any) (int, []byte, http.Header) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, "http://"+r.http+path, reader)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

// TestSharedLimits: three gatepost processes on one Redis, called round
// robin, hold one rate limit and one byte quota between them; a
// reservation is corrected to the real size by GetUpload on another
// replica; a multipart upload started on one is completed on another
// without a configured token secret; and with Redis stopped they answer
// 503 (on_unavailable: deny), then recover when it is back.
func TestSharedLimits(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		srv := redistest.Start(t)
		rs := startReplicas(t, st, srv.URL, 3)
		next := 0
		rr := func() replica { r := rs[next%len(rs)]; next++; return r }

		// Quota: 3000 bytes a day in profile limited; three declared
		// 1000-byte uploads fill it, on three replicas.
		for i := range 3 {
			if code, body, _ := rr().call(t, http.MethodGet, fmt.Sprintf("/v1/presign?profile=limited&key=q%d.txt&content_type=text/plain&content_length=1000", i), nil); code != http.StatusOK {
				t.Fatalf("reservation %d within the quota: %d %s", i+1, code, body)
			}
		}
		code, body, header := rr().call(t, http.MethodGet, "/v1/presign?profile=limited&key=q3.txt&content_type=text/plain&content_length=1000", nil)
		if code != http.StatusTooManyRequests || !strings.Contains(string(body), "quota: ") || header.Get("Retry-After") == "" {
			t.Errorf("past the quota on another replica: %d %s (Retry-After %q)", code, body, header.Get("Retry-After"))
		}
		_, body, _ = rr().call(t, http.MethodGet, "/v1/quota?profile=limited", nil)
		var q struct {
			Quotas []struct {
				UsedBytes  string `json:"used_bytes"`
				LimitBytes string `json:"limit_bytes"`
			}
		}
		if err := json.Unmarshal(body, &q); err != nil || len(q.Quotas) != 1 || q.Quotas[0].UsedBytes != "3000" || q.Quotas[0].LimitBytes != "3000" {
			t.Errorf("GET /v1/quota: %s", body)
		}

		// Rate limit: the burst of 5 is shared, and used up by now (four
		// presigns and a quota).
		if code, body, _ := rr().call(t, http.MethodGet, "/v1/quota", nil); code != http.StatusTooManyRequests {
			t.Errorf("sixth call across three replicas: %d %s; want 429 (not three bursts)", code, body)
		}
		// A presign charges its rate in the same script as its
		// reservation: refused by the rate (that nothing is reserved then
		// is checked in internal/quota, as GetQuota is rate limited too).
		code, body, header = rr().call(t, http.MethodGet, "/v1/presign?profile=limited&key=r.txt&content_type=text/plain&content_length=1", nil)
		if code != http.StatusTooManyRequests || !strings.Contains(string(body), "rate limit exceeded") || header.Get("Retry-After") == "" {
			t.Errorf("a presign past the shared burst: %d %s (Retry-After %q); want 429 for the rate limit", code, body, header.Get("Retry-After"))
		}

		// Upload token across replicas (profile big has its own rate), and
		// a correction by GetUpload on another replica.
		var up struct {
			UploadToken string `json:"upload_token"`
			Key         string
		}
		data := []byte("shared across replicas")
		code, body, _ = rs[0].call(t, http.MethodPost, "/v1/multipart", map[string]any{
			"profile": "big", "key": "m.bin", "content_type": "application/octet-stream", "total_size": len(data)})
		if code != http.StatusOK || json.Unmarshal(body, &up) != nil {
			t.Fatalf("create on replica 0: %d %s", code, body)
		}
		var parts struct {
			Parts []struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			}
		}
		code, body, _ = rs[1].call(t, http.MethodPost, "/v1/multipart/parts", map[string]any{"upload_token": up.UploadToken, "part_numbers": []int{1}})
		if code != http.StatusOK || json.Unmarshal(body, &parts) != nil || len(parts.Parts) != 1 {
			t.Fatalf("parts on replica 1: %d %s", code, body)
		}
		if status, s3code := put(t, parts.Parts[0].URL, parts.Parts[0].Headers, data); status != http.StatusOK {
			t.Fatalf("part upload: %d %s", status, s3code)
		}
		if code, body, _ := rs[2].call(t, http.MethodPost, "/v1/multipart/complete", map[string]any{"upload_token": up.UploadToken}); code != http.StatusOK {
			t.Errorf("complete on replica 2, with the token from replica 0: %d %s", code, body)
		}

		// A multipart upload of undeclared size reserves the profile's 1
		// MiB; completing it on another replica corrects the reservation
		// to the 7 bytes it holds.
		usedBig := func() string {
			_, body, _ := rr().call(t, http.MethodGet, "/v1/quota?profile=big", nil)
			var q struct {
				Quotas []struct {
					UsedBytes string `json:"used_bytes"`
				}
			}
			if json.Unmarshal(body, &q) != nil || len(q.Quotas) != 1 {
				t.Fatalf("GET /v1/quota?profile=big: %s", body)
			}
			return q.Quotas[0].UsedBytes
		}
		unsized := []byte("unsized")
		code, body, _ = rs[0].call(t, http.MethodPost, "/v1/multipart", map[string]any{
			"profile": "big", "key": "u.bin", "content_type": "application/octet-stream"})
		if code != http.StatusOK || json.Unmarshal(body, &up) != nil {
			t.Fatalf("create of undeclared size on replica 0: %d %s", code, body)
		}
		if got, want := usedBig(), fmt.Sprint(len(data)+1048576); got != want {
			t.Errorf("after a multipart upload of undeclared size started: used %s, want %s", got, want)
		}
		code, body, _ = rs[1].call(t, http.MethodPost, "/v1/multipart/parts", map[string]any{"upload_token": up.UploadToken, "part_numbers": []int{1}})
		if code != http.StatusOK || json.Unmarshal(body, &parts) != nil || len(parts.Parts) != 1 {
			t.Fatalf("parts on replica 1: %d %s", code, body)
		}
		if status, s3code := put(t, parts.Parts[0].URL, parts.Parts[0].Headers, unsized); status != http.StatusOK {
			t.Fatalf("part upload: %d %s", status, s3code)
		}
		if code, body, _ := rs[2].call(t, http.MethodPost, "/v1/multipart/complete", map[string]any{"upload_token": up.UploadToken}); code != http.StatusOK {
			t.Fatalf("complete on replica 2: %d %s", code, body)
		}
		if got, want := usedBig(), fmt.Sprint(len(data)+len(unsized)); got != want {
			t.Errorf("after completing it: used %s, want %s (corrected to the real size)", got, want)
		}

		// A POST without a declared size reserves the profile's 1 MiB;
		// GetUpload on another replica corrects it to the 10 bytes sent.
		var p presigned
		code, body, _ = rs[0].call(t, http.MethodGet, "/v1/presign?profile=big&key=small.bin&content_type=application/octet-stream", nil)
		if code != http.StatusOK || json.Unmarshal(body, &p) != nil {
			t.Fatalf("presign in big: %d %s", code, body)
		}
		if got, want := usedBig(), fmt.Sprint(len(data)+len(unsized)+1048576); got != want {
			t.Errorf("after the multipart uploads and a POST of no declared size: used %s, want %s", got, want)
		}
		fields := fieldsOf(p)
		if status, s3code := postForm(t, p.URL, fields, []byte("0123456789")); status != http.StatusNoContent {
			t.Fatalf("POST upload: %d %s", status, s3code)
		}
		// Once the policy has expired (it could upload its full size until
		// then), GetUpload corrects its reservation.
		time.Sleep(2100 * time.Millisecond)
		if code, body, _ := rs[2].call(t, http.MethodGet, "/v1/uploads/"+p.Key+"?profile=big", nil); code != http.StatusOK {
			t.Fatalf("GetUpload on replica 2: %d %s", code, body)
		}
		if got, want := usedBig(), fmt.Sprint(len(data)+len(unsized)+10); got != want {
			t.Errorf("after GetUpload: used %s, want %s (corrected to the real size)", got, want)
		}

		// Redis down: deny answers 503 with a message; back: served again.
		srv.Stop()
		code, body, _ = rs[0].call(t, http.MethodGet, "/v1/presign?profile=big&key=d.bin&content_type=application/octet-stream", nil)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "limit store is unreachable") {
			t.Errorf("with Redis down: %d %s", code, body)
		}
		srv.Restart()
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, body, _ = rs[1].call(t, http.MethodGet, "/v1/presign?profile=big&key=d.bin&content_type=application/octet-stream", nil)
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Redis came back: %d %s", code, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}
