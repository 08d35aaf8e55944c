package auth

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxJWKSBytes is the largest JWKS response accepted from auth.jwt.jwks_url.
// Real key sets are a few kilobytes; a larger answer is a misconfigured or
// hostile endpoint, and every replica would otherwise buffer and parse it
// on every refresh.
const MaxJWKSBytes = 1 << 20

// ErrJWKSTooLarge is the error of a JWKS fetch whose response is larger than
// MaxJWKSBytes.
var ErrJWKSTooLarge = errors.New("JWKS response is too large")

// limitJWKS returns a copy of client (a default client when nil) whose
// responses fail with ErrJWKSTooLarge past MaxJWKSBytes. keyfunc and jwkset
// read the body themselves, so the limit has to sit in the transport. The
// copy keeps the client's own Transport, Timeout and redirect policy.
func limitJWKS(client *http.Client) *http.Client {
	limited := &http.Client{}
	if client != nil {
		*limited = *client
	}
	base := limited.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	limited.Transport = &limitedTransport{base: base, limit: MaxJWKSBytes}
	return limited
}

// limitedTransport refuses responses larger than limit: at once when the
// Content-Length says so, else when the body is read past the limit.
//
// Hand-written because neither standard helper fits: http.MaxBytesReader
// is for request bodies (its error speaks of a request), and io.LimitReader
// truncates silently, which would surface as a puzzling JSON syntax error
// instead of saying the JWKS is too large.
type limitedTransport struct {
	base  http.RoundTripper
	limit int64
}

// RoundTrip implements http.RoundTripper.
func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	tooLarge := fmt.Errorf("%w: the answer from %s is over %d bytes (1 MiB)", ErrJWKSTooLarge, req.URL.Redacted(), t.limit)
	if resp.ContentLength > t.limit {
		_ = resp.Body.Close()
		return nil, tooLarge
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.limit, err: tooLarge}
	return resp, nil
}

// limitedBody reads at most left bytes and fails with err when there are
// more.
type limitedBody struct {
	io.ReadCloser
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	// Ask for one byte more than allowed, to tell a body of exactly the
	// limit from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, b.err
	}
	b.left -= int64(n)
	return n, err
}
