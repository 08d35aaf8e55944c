// Package webhook signs and delivers event messages to an application's
// HTTP endpoint per the Standard Webhooks specification
// (standardwebhooks.com): a webhook-id that stays the same across
// retries, a webhook-timestamp, and v1 HMAC-SHA256 signatures, one per
// current secret during a rotation. Signing is the specification's own
// reference library; retries are cenkalti/backoff.
//
// Queueing messages (durably, shared by replicas) is not this package's
// job: Deliver sends one message until it is accepted, refused, or out of
// time.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// secretPrefix starts every secret, as the specification writes them.
const secretPrefix = "whsec_"

// Secret lengths the specification allows, in bytes before base64.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// Signer signs messages with every current secret.
type Signer struct {
	keys []*standardwebhooks.Webhook
}

// NewSigner returns a Signer for secrets ("whsec_" and the base64 of 24
// to 64 random bytes each); during a rotation list the new secret and the
// old, and each message carries a signature for both.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no secret")
	}
	s := &Signer{}
	for i, secret := range secrets {
		raw, ok := strings.CutPrefix(secret, secretPrefix)
		key, err := base64.StdEncoding.DecodeString(raw)
		switch {
		case !ok:
			return nil, fmt.Errorf("secret %d: does not start with %q", i+1, secretPrefix)
		case err != nil:
			return nil, fmt.Errorf("secret %d: after %q, not base64: %w", i+1, secretPrefix, err)
		case len(key) < minSecretBytes || len(key) > maxSecretBytes:
			return nil, fmt.Errorf("secret %d: %d bytes; the specification asks for %d to %d", i+1, len(key), minSecretBytes, maxSecretBytes)
		}
		wh, err := standardwebhooks.NewWebhookRaw(key)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i+1, err)
		}
		s.keys = append(s.keys, wh)
	}
	return s, nil
}

// NewSecret returns a fresh secret in the specification's form.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Message is one event to deliver: its body never changes across
// retries, and neither does its id.
type Message struct {
	// ID is the webhook-id: receivers use it to drop duplicates.
	ID string
	// Timestamp is when the event happened (the payload's timestamp).
	// Each attempt is signed with its own time instead: receivers refuse
	// a webhook-timestamp more than a few minutes old, and a retry an hour
	// later must still verify.
	Timestamp time.Time
	// Body is the JSON payload.
	Body []byte
}

// envelope is the payload shape the specification recommends.
type envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// NewMessage makes a message of event type typ (upload.verified, say)
// with data as its payload's "data", at time at.
func NewMessage(typ string, at time.Time, data any) (Message, error) {
	body, err := json.Marshal(envelope{Type: typ, Timestamp: at.UTC(), Data: data})
	if err != nil {
		return Message{}, fmt.Errorf("encoding the %s payload: %w", typ, err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return Message{ID: "msg_" + hex.EncodeToString(id), Timestamp: at, Body: body}, nil
}

// Headers returns the webhook headers of an attempt to send m at time at,
// with one v1 signature per secret, space-separated.
func (s *Signer) Headers(m Message, at time.Time) (http.Header, error) {
	sigs := make([]string, 0, len(s.keys))
	for _, k := range s.keys {
		sig, err := k.Sign(m.ID, at, m.Body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, m.ID)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	return h, nil
}

// ErrRefused is a receiver answering a delivery with a 4xx other than
// 408 and 429: retrying the same message cannot help.
var ErrRefused = errors.New("the receiver refused the message")

// Sender delivers messages to one endpoint.
type Sender struct {
	// URL is the receiver's endpoint.
	URL string
	// Signer signs each attempt.
	Signer *Signer
	// Client sends the requests; each attempt is bounded by
	// AttemptTimeout.
	Client *http.Client
	// AttemptTimeout bounds one attempt (10 s when 0).
	AttemptTimeout time.Duration
	// MaxElapsed bounds all attempts of one message together (1 h when 0).
	MaxElapsed time.Duration
	// FirstRetry is the wait before the first retry (1 s when 0); each
	// next one is about half as long again, up to MaxRetry (5 min when 0).
	FirstRetry, MaxRetry time.Duration
}

// Deliver sends m until the receiver answers 2xx, refuses it (ErrRefused:
// a 4xx other than 408 and 429, or a redirect),
// MaxElapsed passes or ctx ends; 5xx, 408, 429 and network failures are
// retried with exponential back-off, honouring Retry-After. It returns
// how many attempts were made.
func (s *Sender) Deliver(ctx context.Context, m Message) (attempts int, err error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = or(s.FirstRetry, time.Second)
	b.MaxInterval = or(s.MaxRetry, 5*time.Minute)
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		attempts++
		return struct{}{}, s.attempt(ctx, m)
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(or(s.MaxElapsed, time.Hour)))
	return attempts, err
}

// attempt makes one delivery attempt; its error says whether to retry.
func (s *Sender) attempt(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, or(s.AttemptTimeout, 10*time.Second))
	defer cancel()
	headers, err := s.Signer.Headers(m, time.Now())
	if err != nil {
		return backoff.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(m.Body))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header = headers
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatepost-webhooks")
	var client http.Client
	if s.Client != nil {
		client = *s.Client
	}
	// A redirect is not followed: a 303 would turn the POST into a GET
	// whose 2xx looks delivered, and carry the signatures elsewhere.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", s.URL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			return backoff.RetryAfter(secs)
		}
		return fmt.Errorf("POST %s: %s", s.URL, resp.Status)
	case code == http.StatusRequestTimeout || code >= 500:
		return fmt.Errorf("POST %s: %s", s.URL, resp.Status)
	default:
		return backoff.Permanent(fmt.Errorf("%w: POST %s: %s", ErrRefused, s.URL, resp.Status))
	}
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
