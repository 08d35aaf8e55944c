package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/codes"
)

// loopbackHostsOnly refuses requests whose Host is not a loopback name or
// address. With authentication off gatepost trusts whoever can reach its
// loopback port; without this check a web page could point its own domain
// at 127.0.0.1 (DNS rebinding) and, being same-origin with it as far as the
// browser knows, get upload credentials without any CORS rule.
func loopbackHostsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeStatus(w, http.StatusForbidden, codes.PermissionDenied,
				"host: "+quoteHost(r.Host)+" is not a loopback name; with auth.mode none gatepost answers only requests to localhost, 127.0.0.1 or [::1]")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface: localhost (or a name under .localhost, which resolvers must
// keep on loopback, RFC 6761) or a loopback address, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// quoteHost quotes a caller's Host for a message, cut to a sane length.
func quoteHost(host string) string {
	const maxHost = 100
	if len(host) > maxHost {
		host = host[:maxHost] + "..."
	}
	b, _ := json.Marshal(host)
	return string(b)
}

// writeStatus writes an error in the gateway's JSON status shape.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(struct {
		Code    codes.Code `json:"code"`
		Message string     `json:"message"`
		Details []any      `json:"details"`
	}{code, msg, []any{}})
}
