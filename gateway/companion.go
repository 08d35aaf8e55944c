package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
)

// Companion serves the routes of Uppy Companion that @uppy/aws-s3 calls
// with `endpoint: <gatepost>` (5.x) or `companionEndpoint` (6.x), for one
// profile, through gatepost's own REST routes: the same authentication,
// key rules, limits and audit log. Each route is an adapter, not a second
// implementation: it rewrites the request into gatepost's own call on the
// same handler chain and the answer into the shape Uppy reads.
//
// Small files get a presigned POST (GET /s3/params). Multipart uploads
// declare no size (Uppy does not send one) and need a profile with
// allow_unsized_multipart. The upload token is Uppy's uploadId; the ?key=
// Uppy echoes is ignored, since the token binds the key.
type Companion struct {
	// Profile is the profile the routes sign for.
	Profile string
	// MetadataKeys are the profile's metadata names: Uppy sends every
	// file meta field as metadata (name, type, ...), and those the profile
	// does not list are dropped rather than refused.
	MetadataKeys []string
	// ObjectURL, when set, gives a completed upload's location.
	ObjectURL func(ctx context.Context, bucket, key string) (string, error)
	// BarePartURLs says the store takes bare part URLs (no signed
	// headers) safely. Without it, a multipart upload by a caller that
	// cannot send headers (the session cookie: Uppy 6) is refused before
	// it starts, rather than at its first part.
	BarePartURLs bool
}

// maxCompanionBody bounds the JSON bodies of the Companion routes: a
// multipart completion lists at most 10,000 parts of about 80 bytes.
const maxCompanionBody = 1 << 20

// register adds the Companion routes to mux, over api (gatepost's REST
// routes), taking the session cookie when sessions is set.
func (c *Companion) register(mux *http.ServeMux, api http.Handler, sessions *Sessions) {
	route := func(pattern string, h http.HandlerFunc) {
		if sessions != nil {
			mux.Handle(pattern, sessions.authenticate(h))
			return
		}
		mux.Handle(pattern, h)
	}
	route("GET /s3/params", c.params(api))
	route("POST /s3/multipart", c.createMultipart(api))
	route("GET /s3/multipart/{uploadId}/{partNumber}", c.signPart(api))
	route("GET /s3/multipart/{uploadId}", c.listParts(api))
	route("POST /s3/multipart/{uploadId}/complete", c.completeMultipart(api))
	route("DELETE /s3/multipart/{uploadId}", c.abortMultipart(api))
	mux.HandleFunc("/s3/sts", func(w http.ResponseWriter, r *http.Request) {
		// Companion hands out temporary store credentials here; gatepost
		// never does, since they would allow any upload to the bucket.
		companionError(w, r, codes.NotFound, "s3/sts: gatepost does not hand out store credentials; leave getTemporarySecurityCredentials off")
	})
}

// params answers GET /s3/params?filename=&type=&metadata[NAME]=... with
// {method: "POST", url, fields, expires}, from gatepost's GET /v1/presign
// on the same request; a refusal is gatepost's own answer (a 4xx with a
// JSON message, which Uppy 5 shows).
func (c *Companion) params(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in := r.URL.Query()
		q := url.Values{"key": {in.Get("filename")}, "content_type": {in.Get("type")}, "profile": {c.Profile}}
		for name, values := range in {
			inner, ok := strings.CutPrefix(name, "metadata[")
			inner, closed := strings.CutSuffix(inner, "]")
			if ok && closed && len(values) > 0 && c.listed(inner) {
				q.Set("metadata["+strings.ToLower(inner)+"]", values[0])
			}
		}
		var p struct {
			URL       string            `json:"url"`
			Fields    map[string]string `json:"fields"`
			ExpiresAt string            `json:"expires_at"`
		}
		if !call(w, r, api, http.MethodGet, "/v1/presign?"+q.Encode(), nil, &p) {
			return
		}
		companionJSON(w, map[string]any{"method": "POST", "url": p.URL, "fields": p.Fields, "expires": p.ExpiresAt})
	}
}

// createMultipart answers POST /s3/multipart {filename, type, metadata}
// with {uploadId, key, bucket}: a multipart upload of undeclared size.
func (c *Companion) createMultipart(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Filename string         `json:"filename"`
			Type     string         `json:"type"`
			Metadata map[string]any `json:"metadata"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if fromSession(r.Context()) && !c.BarePartURLs {
			companionError(w, r, codes.FailedPrecondition, "multipart: this store would let part URLs that pin no headers copy other objects, and a caller signed in by gatepost's session cookie (Uppy 6) cannot send the headers that guard them; on this store, send files this large with an Authorization header (Uppy 5's headers option)")
			return
		}
		metadata := map[string]string{}
		for name, v := range in.Metadata {
			if s, ok := v.(string); ok && c.listed(name) {
				metadata[strings.ToLower(name)] = s
			}
		}
		var up struct {
			UploadToken string `json:"upload_token"`
			Key         string `json:"key"`
			Bucket      string `json:"bucket"`
		}
		body := map[string]any{"key": in.Filename, "content_type": in.Type, "profile": c.Profile, "metadata": metadata}
		if !call(w, r, api, http.MethodPost, "/v1/multipart", body, &up) {
			return
		}
		companionJSON(w, map[string]any{"uploadId": up.UploadToken, "key": up.Key, "bucket": up.Bucket})
	}
}

// signPart answers GET /s3/multipart/{uploadId}/{partNumber} with {url,
// headers}: one part URL, which pins no length. A caller authenticated by
// the session cookie sends no headers of its own (Uppy 6 ignores them), so
// its URL is bare; one that sends Authorization (Uppy 5) gets the guard
// headers to send. No expiry is given: Uppy would make it the upload's
// timeout, and the store only checks when a request starts.
func (c *Companion) signPart(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("partNumber"), 10, 32)
		if err != nil || n < 1 {
			companionError(w, r, codes.InvalidArgument, "partNumber: "+strconv.Quote(r.PathValue("partNumber"))+" is not a part number (1 or more)")
			return
		}
		var out struct {
			Parts []struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			} `json:"parts"`
		}
		body := map[string]any{"upload_token": r.PathValue("uploadId"), "part_numbers": []int64{n}, "bare": fromSession(r.Context())}
		if !call(w, r, api, http.MethodPost, "/v1/multipart/parts", body, &out) {
			return
		}
		if len(out.Parts) != 1 {
			companionError(w, r, codes.Internal, "gatepost signed no part URL")
			return
		}
		companionJSON(w, map[string]any{"url": out.Parts[0].URL, "headers": out.Parts[0].Headers})
	}
}

// listParts answers GET /s3/multipart/{uploadId} with the parts the store
// holds: [{PartNumber, ETag, Size}].
func (c *Companion) listParts(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var out struct {
			Parts []struct {
				PartNumber int32  `json:"part_number"`
				Size       string `json:"size"` // int64 is a JSON string
				ETag       string `json:"etag"`
			} `json:"parts"`
		}
		if !call(w, r, api, http.MethodPost, "/v1/multipart/list", map[string]any{"upload_token": r.PathValue("uploadId")}, &out) {
			return
		}
		type part struct {
			PartNumber int32
			ETag       string
			Size       int64
		}
		parts := make([]part, 0, len(out.Parts))
		for _, p := range out.Parts {
			size, _ := strconv.ParseInt(p.Size, 10, 64)
			parts = append(parts, part{PartNumber: p.PartNumber, ETag: p.ETag, Size: size})
		}
		companionJSON(w, parts)
	}
}

// completeMultipart answers POST /s3/multipart/{uploadId}/complete
// {parts: [{PartNumber, ETag}]} with {location, key, bucket, ...}.
// gatepost checks the store's parts against the profile (and against the
// list Uppy sends) before assembling them; an upload whose verification
// rejects it is a 400 with the reasons, so that Uppy marks the file failed.
func (c *Companion) completeMultipart(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Parts []struct {
				PartNumber int32  `json:"PartNumber"`
				ETag       string `json:"ETag"`
			} `json:"parts"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		parts := make([]map[string]any, 0, len(in.Parts))
		for _, p := range in.Parts {
			parts = append(parts, map[string]any{"part_number": p.PartNumber, "etag": p.ETag})
		}
		var done struct {
			Key           string   `json:"key"`
			Bucket        string   `json:"bucket"`
			ETag          string   `json:"etag"`
			Size          string   `json:"size"`
			State         string   `json:"state"`
			Reasons       []string `json:"reasons"`
			QuarantineKey string   `json:"quarantine_key"`
		}
		if !call(w, r, api, http.MethodPost, "/v1/multipart/complete", map[string]any{"upload_token": r.PathValue("uploadId"), "parts": parts}, &done) {
			return
		}
		if done.State == "UPLOAD_STATE_REJECTED" {
			companionError(w, r, codes.InvalidArgument, "file: the upload was rejected: "+strings.Join(done.Reasons, "; "))
			return
		}
		size, _ := strconv.ParseInt(done.Size, 10, 64)
		answer := map[string]any{"key": done.Key, "bucket": done.Bucket, "etag": done.ETag, "size": size, "state": done.State}
		if c.ObjectURL != nil {
			if location, err := c.ObjectURL(r.Context(), done.Bucket, done.Key); err == nil {
				answer["location"] = location
			}
		}
		companionJSON(w, answer)
	}
}

// abortMultipart answers DELETE /s3/multipart/{uploadId} with {} (Uppy 5
// reads the body as JSON).
func (c *Companion) abortMultipart(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var out struct{}
		if !call(w, r, api, http.MethodPost, "/v1/multipart/abort", map[string]any{"upload_token": r.PathValue("uploadId")}, &out) {
			return
		}
		companionJSON(w, out)
	}
}

// listed reports whether the profile lists the metadata name.
func (c *Companion) listed(name string) bool {
	return slices.Contains(c.MetadataKeys, strings.ToLower(name))
}

// call serves gatepost's own REST call (method, target, a JSON body) for
// r, with r's headers (the caller's credentials and request id), and
// decodes a 200 answer into out. Any other answer is passed on to w as it
// is, gatepost's status and JSON message, and call reports false.
func call(w http.ResponseWriter, r *http.Request, api http.Handler, method, target string, body, out any) bool {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			companionError(w, r, codes.Internal, "gatepost could not build its own request")
			return false
		}
	}
	inner, err := http.NewRequestWithContext(r.Context(), method, target, bytes.NewReader(payload))
	if err != nil {
		companionError(w, r, codes.Internal, "gatepost could not build its own request")
		return false
	}
	inner.Header = r.Header.Clone()
	for _, name := range []string{"Content-Length", "Transfer-Encoding", "Te", "Trailer", "Connection", "Keep-Alive", "Upgrade"} {
		inner.Header.Del(name) // the outer request's framing, not the inner one's
	}
	if body != nil {
		inner.Header.Set("Content-Type", "application/json")
	}
	inner.RemoteAddr, inner.Host, inner.TLS = r.RemoteAddr, r.Host, r.TLS
	inner.RequestURI = target
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, inner)
	if rec.Code != http.StatusOK {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		writeError(w, r, rec.Code, rec.Body.Bytes(), e.Message)
		return false
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		companionError(w, r, codes.Internal, "gatepost could not read its own answer")
		return false
	}
	return true
}

// readJSON decodes a Companion route's JSON body into v, or answers 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCompanionBody)).Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		companionError(w, r, codes.InvalidArgument, fmt.Sprintf("body: over %d bytes", maxCompanionBody))
		return false
	case errors.Is(err, io.EOF):
		companionError(w, r, codes.InvalidArgument, "body: required (JSON)")
		return false
	case err != nil:
		companionError(w, r, codes.InvalidArgument, "body: not the JSON this route takes: "+err.Error())
		return false
	}
	return true
}

// companionJSON writes a 200 answer.
func companionJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// companionError writes an error as gatepost's REST routes do (the HTTP
// status of code, and {code, message, details}), whose message Uppy 5
// shows.
func companionError(w http.ResponseWriter, r *http.Request, code codes.Code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	body, _ := json.Marshal(map[string]any{"code": code, "message": message, "details": []any{}})
	writeError(w, r, runtime.HTTPStatusFromCode(code), append(body, '\n'), message)
}

// maxReason bounds the reason phrase an error carries.
const maxReason = 400

// writeError writes an error answer whose HTTP/1.1 status line carries
// message as its reason phrase ("400 profile: ..."), besides the JSON
// body: Uppy 6 shows nothing of a failed Companion request but
// "Companion request failed: <statusText>". net/http always writes the
// standard phrase, so the connection is taken over (Hijack) for this one
// answer and closed after it. Over HTTP/2, which has no reason phrase, or
// where the connection cannot be taken over, the answer is written as
// usual.
func writeError(w http.ResponseWriter, r *http.Request, status int, body []byte, message string) {
	if reason := reasonPhrase(message); reason != "" && r.Method != http.MethodHead && r.ProtoMajor == 1 && drained(r) {
		if conn, buf, err := http.NewResponseController(w).Hijack(); err == nil {
			defer conn.Close()
			h := w.Header().Clone()
			for _, name := range []string{"Transfer-Encoding", "Trailer", "Connection", "Keep-Alive", "Content-Length"} {
				h.Del(name) // this answer's own framing only
			}
			h.Set("Content-Length", strconv.Itoa(len(body)))
			h.Set("Connection", "close")
			h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			_, _ = fmt.Fprintf(buf, "HTTP/1.1 %03d %s\r\n", status, reason)
			_ = h.Write(buf)
			_, _ = buf.WriteString("\r\n")
			_, _ = buf.Write(body)
			_ = buf.Flush()
			return
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// drained reads what is left of r's body (up to maxCompanionBody), so that
// closing the connection after the answer does not reset it before the
// client reads the answer; false when more is left.
func drained(r *http.Request) bool {
	n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxCompanionBody+1))
	return n <= maxCompanionBody
}

// reasonPhrase makes message fit a status line: printable ASCII (others
// become '?'), at most maxReason bytes.
func reasonPhrase(message string) string {
	b := []byte(message)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > maxReason {
		b = append(b[:maxReason-3], "..."...)
	}
	return string(b)
}
