package webhook_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatepost/gatepost/internal/webhook"
)

// receiver is an application's endpoint: it verifies every message with
// the specification's reference library and its one secret, and answers
// with the next of its scripted statuses (then 200).
type receiver struct {
	t      *testing.T
	secret string

	mu       sync.Mutex
	statuses []int
	ids      []string // of every attempt
	verified []string // bodies that verified
	headers  http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wh, err := standardwebhooks.NewWebhook(rc.secret)
	if err != nil {
		rc.t.Error(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
	rc.headers = r.Header.Clone()
	if len(rc.statuses) > 0 {
		code := rc.statuses[0]
		rc.statuses = rc.statuses[1:]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		return
	}
	if err := wh.Verify(body, r.Header); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.verified = append(rc.verified, string(body))
}

func newReceiver(t *testing.T, secret string, statuses ...int) (*receiver, string) {
	rc := &receiver{t: t, secret: secret, statuses: statuses}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func fastSender(url string, s *webhook.Signer) *webhook.Sender {
	return &webhook.Sender{URL: url, Signer: s, FirstRetry: 5 * time.Millisecond, MaxRetry: 20 * time.Millisecond,
		MaxElapsed: 5 * time.Second, AttemptTimeout: time.Second}
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secret, wantErr string
	}{
		{webhook.NewSecret(), ""},
		{"c2VjcmV0", `does not start with "whsec_"`},
		{"whsec_!!!", "not base64"},
		{"whsec_c2hvcnQ=", "5 bytes; the specification asks for 24 to 64"},
	} {
		_, err := webhook.NewSigner(tc.secret)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("NewSigner(%q): %v; want %q", tc.secret, err, tc.wantErr)
		}
	}
	if _, err := webhook.NewSigner(); err == nil {
		t.Error("NewSigner with no secret succeeded")
	}
}

// TestDeliver: a message arrives signed so that the reference library
// verifies it, with the payload's type and data.
func TestDeliver(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	rc, url := newReceiver(t, secret)
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	m, err := webhook.NewMessage("upload.verified", time.Now(), map[string]any{"key": "user-uploads/a.png", "size": 42})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fastSender(url, signer).Deliver(t.Context(), m); err != nil || n != 1 {
		t.Fatalf("Deliver: %d attempts, %v", n, err)
	}
	if len(rc.verified) != 1 || !strings.Contains(rc.verified[0], `"type":"upload.verified"`) || !strings.Contains(rc.verified[0], `"key":"user-uploads/a.png"`) {
		t.Errorf("verified bodies: %q", rc.verified)
	}
	if rc.ids[0] != m.ID || !strings.HasPrefix(m.ID, "msg_") || rc.headers.Get("Content-Type") != "application/json" {
		t.Errorf("id %q (message %q), headers %v", rc.ids[0], m.ID, rc.headers)
	}
}

// TestRotation: with the new secret and the old both current, a receiver
// that knows either verifies the message.
func TestRotation(t *testing.T) {
	t.Parallel()
	old, fresh := webhook.NewSecret(), webhook.NewSecret()
	signer, err := webhook.NewSigner(fresh, old)
	if err != nil {
		t.Fatal(err)
	}
	for _, known := range []string{old, fresh} {
		rc, url := newReceiver(t, known)
		m, _ := webhook.NewMessage("upload.rejected", time.Now(), map[string]string{"key": "k"})
		if _, err := fastSender(url, signer).Deliver(t.Context(), m); err != nil || len(rc.verified) != 1 {
			t.Errorf("receiver with one of the two secrets: %v, %d verified", err, len(rc.verified))
		}
		if sigs := strings.Fields(rc.headers.Get("webhook-signature")); len(sigs) != 2 {
			t.Errorf("signatures %q; want two", sigs)
		}
	}
	// A receiver with neither refuses it (401): permanent, one attempt.
	rc, url := newReceiver(t, webhook.NewSecret())
	m, _ := webhook.NewMessage("upload.rejected", time.Now(), nil)
	if n, err := fastSender(url, signer).Deliver(t.Context(), m); !errors.Is(err, webhook.ErrRefused) || n != 1 || len(rc.verified) != 0 {
		t.Errorf("receiver with another secret: %d attempts, %v", n, err)
	}
}

// TestRetries: failures that may pass are retried with the same id and
// body until the receiver accepts; a refusal is not retried.
func TestRetries(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	signer, _ := webhook.NewSigner(secret)
	for _, tc := range []struct {
		name         string
		statuses     []int
		wantAttempts int
		wantErr      error
	}{
		{"5xx then accepted", []int{500, 502, 503}, 4, nil},
		{"timeout and throttle then accepted", []int{408, 429}, 3, nil},
		{"refused", []int{400}, 1, webhook.ErrRefused},
		{"gone", []int{410}, 1, webhook.ErrRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc, url := newReceiver(t, secret, tc.statuses...)
			m, _ := webhook.NewMessage("upload.verified", time.Now(), map[string]int{"n": 1})
			n, err := fastSender(url, signer).Deliver(t.Context(), m)
			if n != tc.wantAttempts || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Deliver: %d attempts, %v; want %d, %v", n, err, tc.wantAttempts, tc.wantErr)
			}
			for _, id := range rc.ids {
				if id != m.ID {
					t.Errorf("attempt ids %q; every one must be %q", rc.ids, m.ID)
				}
			}
			if tc.wantErr == nil && len(rc.verified) != 1 {
				t.Errorf("%d verified deliveries, want 1", len(rc.verified))
			}
		})
	}
}

// TestReceiverDownThenUp: a receiver that is not listening at first gets
// the message once it comes up, within the back-off's bound; one that
// never comes up makes Deliver give up when MaxElapsed passes.
func TestReceiverDownThenUp(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	signer, _ := webhook.NewSigner(secret)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // down: connections are refused
	rc := &receiver{t: t, secret: secret}
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		srv := &http.Server{Handler: rc}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(l)
	}()
	m, _ := webhook.NewMessage("upload.verified", time.Now(), nil)
	n, err := fastSender("http://"+addr, signer).Deliver(t.Context(), m)
	if err != nil || n < 2 {
		t.Fatalf("Deliver: %d attempts, %v; want delivered after failures", n, err)
	}
	rc.mu.Lock()
	if len(rc.verified) != 1 {
		t.Errorf("%d verified deliveries, want 1", len(rc.verified))
	}
	rc.mu.Unlock()

	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	never := l2.Addr().String()
	l2.Close()
	s := fastSender("http://"+never, signer)
	s.MaxElapsed = 100 * time.Millisecond
	if _, err := s.Deliver(t.Context(), m); err == nil {
		t.Error("Deliver to a receiver that never comes up succeeded")
	}
}

// TestOldEventStillVerifies: an event from two hours ago (a retry, a
// queue that waited) is signed with the time of the attempt, which the
// receiver's five-minute tolerance accepts; the payload keeps the event's
// own time.
func TestOldEventStillVerifies(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	rc, url := newReceiver(t, secret)
	signer, _ := webhook.NewSigner(secret)
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	m, _ := webhook.NewMessage("upload.verified", at, nil)
	if _, err := fastSender(url, signer).Deliver(t.Context(), m); err != nil || len(rc.verified) != 1 {
		t.Fatalf("Deliver of an old event: %v, %d verified", err, len(rc.verified))
	}
	if !strings.Contains(rc.verified[0], `"timestamp":"2026-12-02T05:00:00Z"`) {
		t.Errorf("payload %s lost the event's time", rc.verified[0])
	}
}

// TestRedirectIsRefused: a receiver answering with a redirect has not
// accepted the message, and the redirect is not followed.
func TestRedirectIsRefused(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	signer, _ := webhook.NewSigner(secret)
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusSeeOther)
	}))
	t.Cleanup(redirect.Close)
	m, _ := webhook.NewMessage("upload.verified", time.Now(), nil)
	if n, err := fastSender(redirect.URL, signer).Deliver(t.Context(), m); !errors.Is(err, webhook.ErrRefused) || n != 1 || followed {
		t.Errorf("Deliver to a redirect: %d attempts, %v, followed %t", n, err, followed)
	}
}
