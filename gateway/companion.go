package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
)

// Companion serves the routes of Uppy Companion that @uppy/aws-s3 calls
// with `endpoint: <gatepost>`, for one profile, through gatepost's own
// REST routes: the same authentication (the Authorization header Uppy 5
// sends with `headers`), key rules, limits and audit log. For now:
// GET /s3/params, the presigned POST of a small file.
type Companion struct {
	// Profile is the profile the routes sign for.
	Profile string
	// MetadataKeys are the profile's metadata names: Uppy sends every
	// file meta field as metadata[...] (name, type, ...), and those the
	// profile does not list are dropped rather than refused.
	MetadataKeys []string
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
			if ok && closed && len(values) > 0 && slices.Contains(c.MetadataKeys, strings.ToLower(inner)) {
				q.Set("metadata["+strings.ToLower(inner)+"]", values[0])
			}
		}
		inner := r.Clone(r.Context())
		inner.URL.Path, inner.URL.RawPath, inner.URL.RawQuery = "/v1/presign", "", q.Encode()
		inner.RequestURI = inner.URL.RequestURI()
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, inner)
		if rec.Code != http.StatusOK {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		var p struct {
			URL       string            `json:"url"`
			Fields    map[string]string `json:"fields"`
			ExpiresAt string            `json:"expires_at"`
		}
		if err := json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&p); err != nil {
			http.Error(w, `{"message":"gatepost could not read its own answer"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": "POST", "url": p.URL, "fields": p.Fields, "expires": p.ExpiresAt})
	}
}
