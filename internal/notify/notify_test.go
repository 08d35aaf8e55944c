package notify_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/notify"
	"github.com/gatepost/gatepost/internal/redistest"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
	"github.com/gatepost/gatepost/internal/webhook"
)

// receiver counts deliveries by webhook-id, answering 503 while down.
type receiver struct {
	mu       sync.Mutex
	down     bool
	attempts int
	got      map[string]int
	arrived  chan string
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{got: map[string]int{}, arrived: make(chan string, 100)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.got[id]++
	w.WriteHeader(http.StatusNoContent)
	rc.arrived <- id
}

func (rc *receiver) set(down bool) {
	rc.mu.Lock()
	rc.down = down
	rc.mu.Unlock()
}

func (rc *receiver) tried() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts
}

func (rc *receiver) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-rc.arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("fewer than %d messages arrived", n)
		}
	}
}

func sender(t *testing.T, url string) map[string]*webhook.Sender {
	signer, err := webhook.NewSigner(webhook.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*webhook.Sender{"p": {URL: url, Signer: signer, Client: &http.Client{},
		FirstRetry: 50 * time.Millisecond, MaxRetry: 200 * time.Millisecond}}
}

func outcome(key string) *finalize.Outcome {
	return &finalize.Outcome{Verified: true, Profile: "p", Bucket: "b", Key: key, DeclaredSize: -1,
		Object: uploadpolicy.Object{ETag: `"e"`}, At: time.Now()}
}

// replica is one gatepost's queue, running until stopped.
type replica struct {
	*notify.Queue
	stop func()
}

func start(t *testing.T, q *notify.Queue) replica {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		q.Run(ctx)
		close(done)
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return replica{q, sync.OnceFunc(stop)}
}

var discard = slog.New(slog.DiscardHandler)

// TestRedisQueueShared: two replicas on one Redis deliver each message
// once, whichever queued it.
func TestRedisQueueShared(t *testing.T) {
	srv := redistest.Start(t)
	rc, url := newReceiver(t)
	opts := notify.WithRedis(srv.Client(), "gatepost:test:", notify.RedisOptions{ClaimIdle: time.Second})
	a := start(t, notify.New(sender(t, url), nil, discard, opts))
	start(t, notify.New(sender(t, url), nil, discard, opts))
	for i := range 20 {
		a.Enqueue(t.Context(), outcome("k"+string(rune('a'+i))))
	}
	rc.wait(t, 20)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, n := range rc.got {
		if n != 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}
}

// TestRedisQueueTakenOver: a message that a replica was retrying when it
// stopped is delivered by another replica once the receiver is back.
func TestRedisQueueTakenOver(t *testing.T) {
	srv := redistest.Start(t)
	rc, url := newReceiver(t)
	opts := notify.WithRedis(srv.Client(), "gatepost:test:", notify.RedisOptions{ClaimIdle: time.Second, Heartbeat: 100 * time.Millisecond})
	rc.set(true)
	a := start(t, notify.New(sender(t, url), nil, discard, opts))
	a.Enqueue(t.Context(), outcome("k"))
	deadline := time.Now().Add(30 * time.Second)
	for rc.tried() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first replica never tried")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.stop()
	rc.set(false)
	start(t, notify.New(sender(t, url), nil, discard, opts))
	rc.wait(t, 1)
}

// TestRedisDownQueuesInMemory: while Redis is down a message waits in
// memory and is still delivered; once Redis is back messages go through
// it again.
func TestRedisDownQueuesInMemory(t *testing.T) {
	srv := redistest.Start(t)
	rc, url := newReceiver(t)
	q := start(t, notify.New(sender(t, url), nil, discard, notify.WithRedis(srv.Client(), "gatepost:test:", notify.RedisOptions{})))
	srv.Stop()
	q.Enqueue(t.Context(), outcome("during"))
	rc.wait(t, 1)
	srv.Restart()
	q.Enqueue(t.Context(), outcome("after"))
	rc.wait(t, 1)
	// Acknowledged and deleted once delivered (just after the receiver
	// answered).
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := srv.Client().XLen(t.Context(), "gatepost:test:webhooks:p").Result()
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream length %d, %v; want 0 (delivered and deleted)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
