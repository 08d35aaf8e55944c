package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"google.golang.org/grpc/codes"
)

// SessionCookie is the cookie that carries a browser session over HTTPS:
// the __Host- prefix makes browsers refuse one set by another host (a
// sibling subdomain) or without Secure, so no other site can plant its own
// session in a user's browser.
const SessionCookie = "__Host-gatepost_session"

// plainSessionCookie carries a session over plain HTTP to a loopback host
// (a page on localhost), where __Host- cookies cannot be set. It is issued
// and read for loopback hosts only, so that nobody can plant one elsewhere.
const plainSessionCookie = "gatepost_session"

// maxSessionToken bounds the credential a session carries: sealed, it
// must fit in a cookie (browsers keep 4 KB per cookie).
const maxSessionToken = 2048

// Sessions lets a browser that cannot send an Authorization header (Uppy
// 6's Companion client sends no custom headers) use the Companion routes:
// POST /v1/session, with the caller's credential in Authorization, sets an
// HttpOnly, SameSite=Strict cookie that holds the credential sealed
// (encrypted and authenticated by gorilla/securecookie), and the Companion
// routes accept it in place of the header. The credential is checked
// again on every request, through the same authentication, throttles and
// limits as the header: a revoked key or an expired token stops working at
// once, and the cookie grants nothing of its own. Only requests the
// browser marks same-origin may use it, whatever their method, since
// gatepost's GET routes have effects (a credential, a quota reservation).
type Sessions struct {
	codec    *securecookie.SecureCookie
	lifetime time.Duration
}

// NewSessions returns Sessions whose cookies are sealed with the 32-byte
// keys (the same on every replica) and last lifetime.
func NewSessions(hashKey, blockKey []byte, lifetime time.Duration) *Sessions {
	codec := securecookie.New(hashKey, blockKey)
	codec.MaxAge(int(lifetime.Seconds()))
	codec.MaxLength(4096)
	return &Sessions{codec: codec, lifetime: lifetime}
}

// session is what the cookie seals.
type session struct {
	// Authorization is the header the credential came in.
	Authorization string `json:"a"`
}

// register adds POST and DELETE /v1/session to mux; api checks a
// credential (gatepost's REST routes).
func (s *Sessions) register(mux *http.ServeMux, api http.Handler) {
	mux.HandleFunc("POST /v1/session", s.start(api))
	mux.HandleFunc("DELETE /v1/session", func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			companionError(w, r, codes.PermissionDenied, "session: only pages of gatepost's own origin may end its session")
			return
		}
		// Both names: the one this page uses, and any left from plain HTTP.
		http.SetCookie(w, s.cookie(r, SessionCookie, "", -1))
		http.SetCookie(w, s.cookie(r, plainSessionCookie, "", -1))
		companionJSON(w, struct{}{})
	})
}

// start answers POST /v1/session: the credential in Authorization is
// checked (with GET /v1/quota, which needs it and changes nothing), then
// sealed into the session cookie.
func (s *Sessions) start(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		switch {
		case !sameOrigin(r):
			companionError(w, r, codes.PermissionDenied, "session: only pages of gatepost's own origin may start its session")
			return
		case authz == "":
			companionError(w, r, codes.Unauthenticated, "authorization: required (Bearer <token>): the session carries this credential")
			return
		case len(authz) > maxSessionToken:
			companionError(w, r, codes.InvalidArgument, "authorization: a credential over 2048 bytes does not fit in a session cookie")
			return
		}
		var quota struct{}
		if !call(w, r, api, http.MethodGet, "/v1/quota", nil, &quota) {
			return
		}
		name := SessionCookie
		if !secure(r) {
			if !loopbackHost(r.Host) {
				companionError(w, r, codes.FailedPrecondition, "session: gatepost's session cookie needs HTTPS (a Secure __Host- cookie); only a page on a loopback host may have one over plain HTTP")
				return
			}
			name = plainSessionCookie
		}
		value, err := s.codec.Encode(name, session{Authorization: authz})
		if err != nil {
			// The sealed value would not fit in a cookie (securecookie's
			// limit): a credential of unusual characters.
			companionError(w, r, codes.InvalidArgument, "authorization: the credential does not fit in a session cookie")
			return
		}
		http.SetCookie(w, s.cookie(r, name, value, int(s.lifetime.Seconds())))
		companionJSON(w, map[string]any{"expires_at": time.Now().Add(s.lifetime).UTC().Format(time.RFC3339)})
	}
}

// cookie is the session cookie called name with value; maxAge -1 deletes
// it. It is Secure when the page is served over HTTPS (to gatepost or to
// the proxy in front of it), as the __Host- name requires.
func (s *Sessions) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: name == SessionCookie || secure(r),
	}
}

// secure reports whether the page that sent r was served over HTTPS: TLS to
// gatepost, or an https Origin (browsers send one with every POST).
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(r.Header.Get("Origin"), "https://")
}

// sessionCookie returns the request's session cookie: the __Host- one if
// any, else the plain one; more than one of a name is refused, since a
// planted cookie would be among them.
func sessionCookie(r *http.Request) (*http.Cookie, error) {
	names := []string{SessionCookie}
	if loopbackHost(r.Host) {
		names = append(names, plainSessionCookie)
	}
	for _, name := range names {
		var found []*http.Cookie
		for _, c := range r.Cookies() {
			if c.Name == name {
				found = append(found, c)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		default:
			return nil, errors.New("session: the request carries more than one gatepost session cookie; sign out (DELETE /v1/session) and in again")
		}
	}
	return nil, http.ErrNoCookie
}

// viaSession marks a request authenticated by the session cookie.
type viaSession struct{}

// fromSession reports whether the request was authenticated by the session
// cookie (a client that sends no headers: its part URLs must be bare).
func fromSession(ctx context.Context) bool {
	v, _ := ctx.Value(viaSession{}).(bool)
	return v
}

// authenticate lets next see a same-origin request that carries the
// session cookie and no Authorization header as if it carried the sealed
// credential. Other requests pass as they are (without credentials,
// gatepost answers 401).
func (s *Sessions) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		c, err := sessionCookie(r)
		if errors.Is(err, http.ErrNoCookie) {
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			companionError(w, r, codes.InvalidArgument, err.Error())
			return
		}
		if !sameOrigin(r) {
			companionError(w, r, codes.PermissionDenied, "session: the gatepost session cookie is only accepted from pages of gatepost's own origin")
			return
		}
		var sess session
		if err := s.codec.Decode(c.Name, c.Value, &sess); err != nil {
			companionError(w, r, codes.Unauthenticated, "session: the gatepost session has expired or is not valid; start a new one (POST /v1/session)")
			return
		}
		r = r.Clone(context.WithValue(r.Context(), viaSession{}, true))
		r.Header.Set("Authorization", sess.Authorization)
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a browser sent r from a page of r's own
// origin: Fetch Metadata (every current browser), else an Origin of r's
// host. A request with neither is refused: an old browser's request from a
// sibling subdomain would look like that (non-browser clients send
// Authorization instead). Written here because net/http's
// CrossOriginProtection lets GET, HEAD and requests with neither header
// through, and the Companion GET routes have effects.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
		u, err := url.Parse(r.Header.Get("Origin"))
		return err == nil && u.Host != "" && u.Host == r.Host
	default:
		return false
	}
}
