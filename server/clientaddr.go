package server

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// ClientAddresses names the client behind a call, for address-based limits
// and for log lines: the gRPC peer's IP, or for REST (served in-process, so
// without a peer) the HTTP client's address that the gateway put last in
// x-forwarded-for. When that address is a trusted proxy, X-Forwarded-For
// is read from the right, skipping trusted proxies, and the first other
// entry is the client. Entries left of it are the caller's to choose and
// are never used.
//
// Written here because it must combine grpc-go's peer with grpc-gateway's
// metadata; the HTTP-only libraries that do this see neither.
type ClientAddresses struct {
	trusted []netip.Prefix
}

// NewClientAddresses returns a resolver that believes X-Forwarded-For
// entries added by the proxies in trusted (none: only the nearest hop).
func NewClientAddresses(trusted []netip.Prefix) *ClientAddresses {
	return &ClientAddresses{trusted: trusted}
}

// Of returns the client's IP address, or "unknown". It is always an IP
// address or "unknown", never a caller's text: a trusted proxy's entry that
// is not an address gives that proxy's own address instead.
func (c *ClientAddresses) Of(ctx context.Context) string {
	var hops []string
	for _, v := range metadata.ValueFromIncomingContext(ctx, "x-forwarded-for") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	if host := peerHost(ctx); host != "" {
		hops = append(hops, host)
	}
	// Walk back from the nearest hop while it is a trusted proxy, and stop
	// at the first entry that is not an address.
	client := "unknown"
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		client = hops[i] // already an address: no new string
		if addr.Is4In6() {
			client = addr.Unmap().String()
		}
		if !c.isTrusted(addr) {
			break
		}
	}
	return client
}

func (c *ClientAddresses) isTrusted(addr netip.Addr) bool {
	if c == nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range c.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// peerHost is the host of the gRPC peer's address, or "" when unknown.
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}
