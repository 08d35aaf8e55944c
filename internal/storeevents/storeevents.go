// Package storeevents receives the store's own reports that objects were
// created: S3 event notification records (the Records JSON that MinIO
// webhook targets, Ceph RGW and AWS S3 send, the last through SNS), over
// HTTP, authenticated by a shared secret. It answers SNS subscription
// confirmations and hands every created object to a callback; what to do
// with it is the caller's.
//
// The record fields are read with encoding/json into the few fields
// used; aws-lambda-go's events package has the same types, but for
// Lambda payloads, and would add a module for five fields. SNS messages
// are trusted for the shared secret of the subscription URL's basic
// authentication, not for SNS's own message signatures.
package storeevents

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// MaxBody bounds an event request's body.
const MaxBody = 1 << 20

// Object is one object the store says was created.
type Object struct {
	// Bucket and Key name it (the key decoded from the record's URL
	// encoding).
	Bucket, Key string
	// Size and ETag are what the record says (ETag without quotes).
	Size int64
	ETag string
	// Event is the record's event name (ObjectCreated:Put, say).
	Event string
}

// record is what is read of one S3 event record.
type record struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
			ETag string `json:"eTag"`
		} `json:"object"`
	} `json:"s3"`
}

// Parse reads the created objects of an S3 event body: {"Records": [...]}.
// Records of other events (removals, say) are left out; a test event
// (AWS's s3:TestEvent) has none.
func Parse(body []byte) ([]Object, error) {
	var doc struct {
		Records []record `json:"Records"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("body: not S3 event JSON: %w", err)
	}
	var out []Object
	for i, r := range doc.Records {
		name := strings.TrimPrefix(r.EventName, "s3:")
		if !strings.HasPrefix(name, "ObjectCreated:") {
			continue
		}
		// Keys are URL-encoded in records, spaces as '+'.
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("Records[%d].s3.object.key: %w", i, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return nil, fmt.Errorf("Records[%d]: no bucket or key", i)
		}
		out = append(out, Object{Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size, ETag: strings.Trim(r.S3.Object.ETag, `"`), Event: name})
	}
	return out, nil
}

// snsEnvelope is the part of an SNS HTTP message that is read.
type snsEnvelope struct {
	Type         string `json:"Type"`
	Message      string `json:"Message"`
	SubscribeURL string `json:"SubscribeURL"`
}

// snsHost is the host of every SNS subscription URL: a confirmation is
// only ever fetched from there, never from a URL a body names elsewhere.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// CheckSubscribeURL reports whether u is an SNS subscription URL that may
// be fetched to confirm a subscription: https, on an SNS host, the
// ConfirmSubscription action.
func CheckSubscribeURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("SubscribeURL: %w", err)
	}
	if p.Scheme != "https" || !snsHost.MatchString(p.Hostname()) || p.Port() != "" || p.User != nil {
		return fmt.Errorf("SubscribeURL: %q is not an https URL on an SNS host (sns.<region>.amazonaws.com)", u)
	}
	if p.Query().Get("Action") != "ConfirmSubscription" {
		return fmt.Errorf("SubscribeURL: %q does not confirm a subscription", u)
	}
	return nil
}

// Handler serves the event endpoint.
type Handler struct {
	// Secret is the shared secret a caller proves: as a bearer token
	// (MinIO's MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN) or as the password of
	// HTTP basic authentication (SNS: https://user:SECRET@host/path).
	Secret string
	// Created is called with the objects of each accepted request; an
	// error makes the request fail with 503, so that the store sends it
	// again.
	Created func(ctx context.Context, objects []Object) error
	// Confirm fetches an SNS SubscribeURL (already checked by
	// CheckSubscribeURL).
	Confirm func(ctx context.Context, subscribeURL string) error
}

var _ http.Handler = (*Handler)(nil)

// ErrUnauthorized is a request without the shared secret.
var ErrUnauthorized = errors.New("the shared secret is missing or wrong")

// authorized reports whether r carries the secret.
func (h *Handler) authorized(r *http.Request) bool {
	given := ""
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = token
	}
	return h.Secret != "" && subtle.ConstantTimeCompare([]byte(given), []byte(h.Secret)) == 1
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method: store events are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatepost store events"`)
		http.Error(w, "authorization: "+ErrUnauthorized.Error(), http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		http.Error(w, "body: could not be read", http.StatusBadRequest)
		return
	}
	if len(body) > MaxBody {
		http.Error(w, fmt.Sprintf("body: over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		return
	}
	// SNS wraps the event in an envelope of its own, and first asks for
	// the subscription to be confirmed.
	snsType := r.Header.Get("x-amz-sns-message-type")
	var env snsEnvelope
	if snsType != "" {
		if err := json.Unmarshal(body, &env); err != nil {
			http.Error(w, "body: not an SNS message", http.StatusBadRequest)
			return
		}
	}
	switch snsType {
	case "SubscriptionConfirmation":
		if err := CheckSubscribeURL(env.SubscribeURL); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if h.Confirm == nil || h.Confirm(r.Context(), env.SubscribeURL) != nil {
			http.Error(w, "SubscribeURL: the subscription could not be confirmed now", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	case "UnsubscribeConfirmation":
		w.WriteHeader(http.StatusOK)
		return
	case "Notification":
		body = []byte(env.Message)
	}
	objects, err := Parse(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(objects) > 0 && h.Created != nil {
		if err := h.Created(r.Context(), objects); err != nil {
			http.Error(w, "the objects could not be taken now; send them again", http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
