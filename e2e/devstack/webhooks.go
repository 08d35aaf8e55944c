package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is make run's stand-in for the application: it checks each
// webhook's Standard Webhooks signature and prints the event.
type receiver struct {
	secret string
	out    io.Writer
	url    string
	srv    *http.Server

	mu   sync.Mutex
	seen map[string]string // key -> event type, of verified messages
	got  chan struct{}
}

// startReceiver listens on a free loopback port.
func startReceiver(secret string, out io.Writer) (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{secret: secret, out: out, url: "http://" + l.Addr().String() + "/hooks", seen: map[string]string{}, got: make(chan struct{}, 100)}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

func (r *receiver) close() { _ = r.srv.Close() }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err == nil {
		err = wh.Verify(body, req.Header)
	}
	if err != nil {
		fmt.Fprintf(r.out, "webhook receiver: refused a message whose signature does not verify: %v\n", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var m struct {
		Type string `json:"type"`
		Data struct {
			Key         string   `json:"key"`
			ContentType string   `json:"content_type"`
			Size        int64    `json:"size"`
			Reasons     []string `json:"reasons"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &m)
	detail := fmt.Sprintf("%d bytes, %s", m.Data.Size, m.Data.ContentType)
	if len(m.Data.Reasons) > 0 {
		detail += "; " + strings.Join(m.Data.Reasons, "; ")
	}
	fmt.Fprintf(r.out, "webhook receiver: %s %s (%s), webhook-id %s, signature valid\n", m.Type, m.Data.Key, detail, req.Header.Get("webhook-id"))
	r.mu.Lock()
	r.seen[m.Data.Key] = m.Type
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	select {
	case r.got <- struct{}{}: // the smoke test waits on it
	default: // nobody is waiting (make run): never block a delivery
	}
}

// event returns the type of the verified message about key, if any.
func (r *receiver) event(key string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.seen[key]
	return t, ok
}
