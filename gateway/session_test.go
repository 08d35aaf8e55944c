package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatepost/gatepost/gateway"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// sessionService accepts the credential "Bearer good" and records the
// credential and bareness of every part URL asked for.
type sessionService struct {
	gatepostv1.UnimplementedUploadServiceServer
	mu    sync.Mutex
	parts []string // "<authorization> bare=<bool>"
}

func authorized(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) == 1 && strings.HasPrefix(v[0], "Bearer good") {
		return v[0], nil
	}
	return "", status.Error(codes.Unauthenticated, "authentication failed")
}

func (s *sessionService) GetQuota(ctx context.Context, _ *gatepostv1.GetQuotaRequest) (*gatepostv1.GetQuotaResponse, error) {
	if _, err := authorized(ctx); err != nil {
		return nil, err
	}
	return &gatepostv1.GetQuotaResponse{}, nil
}

func (s *sessionService) PresignUploadParts(ctx context.Context, req *gatepostv1.PresignUploadPartsRequest) (*gatepostv1.PresignUploadPartsResponse, error) {
	a, err := authorized(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.parts = append(s.parts, a+" bare="+map[bool]string{true: "true", false: "false"}[req.GetBare()])
	s.mu.Unlock()
	return &gatepostv1.PresignUploadPartsResponse{Parts: []*gatepostv1.PresignedPart{{PartNumber: 1, Url: "http://s3.test/p"}}}, nil
}

// partsSince returns the part requests after the first n, and how many
// there are now.
func (s *sessionService) partsSince(n int) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.parts[n:], ", "), len(s.parts)
}

// TestSessions: POST /v1/session checks the credential and seals it into
// an HttpOnly, SameSite=Strict cookie; the Companion routes take the cookie
// from same-origin requests only, in place of the header, and give such a
// caller bare part URLs; a header still wins; a tampered cookie is 401;
// DELETE /v1/session clears it.
func TestSessions(t *testing.T) {
	t.Parallel()
	svc := &sessionService{}
	key := []byte(strings.Repeat("k", 32))
	ts := newGateway(t, svc, gateway.Options{
		Companion: &gateway.Companion{Profile: "uppy"},
		Sessions:  gateway.NewSessions(key, key, time.Hour),
	})
	// onHost sends a request with Host host ("": the server's address)
	// and the non-nil cookies.
	onHost := func(method, path, host string, headers map[string]string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		if host != "" {
			req.Host = host
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			if c != nil {
				req.AddCookie(c)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	do := func(method, path string, headers map[string]string, cookie *http.Cookie) *http.Response {
		t.Helper()
		return onHost(method, path, "", headers, cookie)
	}

	same := func(h map[string]string) map[string]string {
		h["Sec-Fetch-Site"] = "same-origin"
		return h
	}
	if resp := do("POST", "/v1/session", same(map[string]string{}), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credential: %d", resp.StatusCode)
	}
	if resp := do("POST", "/v1/session", same(map[string]string{"Authorization": "Bearer bad"}), nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("a bad credential: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := do("POST", "/v1/session", map[string]string{"Authorization": "Bearer good", "Sec-Fetch-Site": "cross-site"}, nil); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("a cross-site sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := do("POST", "/v1/session", same(map[string]string{"Authorization": "Bearer good" + strings.Repeat("<", 2100)}), nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a credential too large for a cookie: %d", resp.StatusCode)
	}
	// From an HTTPS page: the __Host- cookie, Secure.
	resp := do("POST", "/v1/session", same(map[string]string{"Authorization": "Bearer good", "Origin": "https://app.test"}), nil)
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 || resp.Cookies()[0].Name != gateway.SessionCookie || !resp.Cookies()[0].Secure {
		t.Fatalf("session from an HTTPS page: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	// From a plain-HTTP page (localhost): the plain name.
	resp = do("POST", "/v1/session", same(map[string]string{"Authorization": "Bearer good"}), nil)
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("session: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if c.Name != "gatepost_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 3600 || strings.Contains(c.Value, "good") {
		t.Errorf("cookie %+v", c)
	}

	// Plain HTTP to a host that is not loopback: no session cookie (it
	// could not be __Host-), and a plain one is not read there.
	if resp := onHost("POST", "/v1/session", "app.example", same(map[string]string{"Authorization": "Bearer good"}), nil); resp.StatusCode != http.StatusBadRequest || len(resp.Cookies()) != 0 {
		t.Errorf("a plain-HTTP session on app.example: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := onHost("GET", "/s3/multipart/tok/1", "app.example", same(map[string]string{}), c); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a plain session cookie on app.example: %d, want 401 (not read)", resp.StatusCode)
	}

	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin"}
	tampered := *c
	tampered.Value = c.Value[:len(c.Value)-4] + "AAAA"
	for _, tt := range []struct {
		name     string
		headers  map[string]string
		cookie   *http.Cookie
		want     int
		wantPart string       // the part request gatepost saw
		planted  *http.Cookie // a second cookie of the same name
	}{
		{"the cookie, same-origin", sameOrigin, c, 200, "Bearer good bare=true", nil},
		{"the cookie, with no Fetch Metadata and no Origin", nil, c, 403, "", nil},
		{"the cookie, Sec-Fetch-Site none (typed in)", map[string]string{"Sec-Fetch-Site": "none"}, c, 200, "Bearer good bare=true", nil},
		{"the cookie, Origin of the same host", map[string]string{"Origin": ts.URL}, c, 200, "Bearer good bare=true", nil},
		{"the cookie, cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, c, 403, "", nil},
		{"the cookie, same-site but another origin", map[string]string{"Sec-Fetch-Site": "same-site"}, c, 403, "", nil},
		{"the cookie, another Origin", map[string]string{"Origin": "http://evil.test"}, c, 403, "", nil},
		{"a tampered cookie", sameOrigin, &tampered, 401, "", nil},
		{"a header wins over the cookie", map[string]string{"Authorization": "Bearer good", "Sec-Fetch-Site": "cross-site"}, c, 200, "Bearer good bare=false", nil},
		{"neither", sameOrigin, nil, 401, "", nil},
		{"two session cookies (one planted)", sameOrigin, c, 400, "", &http.Cookie{Name: c.Name, Value: c.Value}},
	} {
		_, before := svc.partsSince(0)
		resp := onHost("GET", "/s3/multipart/tok/1", "", tt.headers, tt.cookie, tt.planted)
		got, _ := svc.partsSince(before)
		if resp.StatusCode != tt.want || got != tt.wantPart {
			t.Errorf("%s: %d, gatepost saw %q; want %d, %q", tt.name, resp.StatusCode, got, tt.want, tt.wantPart)
		}
	}

	if resp := do("DELETE", "/v1/session", map[string]string{"Sec-Fetch-Site": "cross-site"}, c); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("a cross-site sign-out: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp = do("DELETE", "/v1/session", same(map[string]string{}), c)
	if len(resp.Cookies()) != 2 || resp.Cookies()[0].MaxAge >= 0 || resp.Cookies()[1].MaxAge >= 0 {
		t.Errorf("DELETE /v1/session: cookies %v", resp.Cookies())
	}
}
