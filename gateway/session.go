package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"google.golang.org/grpc/codes"
)

// SessionCookie is the cookie that carries a browser session.
const SessionCookie = "gatepost_session"

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
		http.SetCookie(w, s.cookie(r, "", -1))
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
		case authz == "":
			companionError(w, codes.Unauthenticated, "authorization: required (Bearer <token>): the session carries this credential")
			return
		case len(authz) > maxSessionToken:
			companionError(w, codes.InvalidArgument, "authorization: a credential over 2048 bytes does not fit in a session cookie")
			return
		}
		var quota struct{}
		if !call(w, r, api, http.MethodGet, "/v1/quota", nil, &quota) {
			return
		}
		value, err := s.codec.Encode(SessionCookie, session{Authorization: authz})
		if err != nil {
			companionError(w, codes.Internal, "gatepost could not seal the session")
			return
		}
		http.SetCookie(w, s.cookie(r, value, int(s.lifetime.Seconds())))
		companionJSON(w, map[string]any{"expires_at": time.Now().Add(s.lifetime).UTC().Format(time.RFC3339)})
	}
}

// cookie is the session cookie with value; maxAge -1 deletes it. It is
// Secure when the page is served over HTTPS (to gatepost or to the proxy
// in front of it).
func (s *Sessions) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.HasPrefix(r.Header.Get("Origin"), "https://"),
	}
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
		c, err := r.Cookie(SessionCookie)
		if r.Header.Get("Authorization") != "" || err != nil {
			next.ServeHTTP(w, r)
			return
		}
		if !sameOrigin(r) {
			companionError(w, codes.PermissionDenied, "session: the gatepost session cookie is only accepted from pages of gatepost's own origin")
			return
		}
		var sess session
		if err := s.codec.Decode(SessionCookie, c.Value, &sess); err != nil {
			companionError(w, codes.Unauthenticated, "session: the gatepost session has expired or is not valid; start a new one (POST /v1/session)")
			return
		}
		r = r.Clone(context.WithValue(r.Context(), viaSession{}, true))
		r.Header.Set("Authorization", sess.Authorization)
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a browser sent r from a page of r's own
// origin (Fetch Metadata, else Origin), or no browser sent it at all (no
// Sec-Fetch-Site and no Origin: no page could have made it). Written here
// because net/http's CrossOriginProtection exempts GET and HEAD, and the
// Companion GET routes have effects.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && u.Host == r.Host
	default:
		return false
	}
}
