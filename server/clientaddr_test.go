package server

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/gatepost/gatepost/internal/config"
)

// TestClientAddress: which address an address-based limit and a log line
// name.
func TestClientAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		peer    string // "" for REST, which has no gRPC peer
		xff     []string
		trusted []string
		want    string
	}{
		{name: "gRPC peer", peer: "192.0.2.7", want: "192.0.2.7"},
		{name: "gRPC peer ignores an untrusted x-forwarded-for", peer: "192.0.2.7", xff: []string{"198.51.100.1"}, want: "192.0.2.7"},
		{name: "gRPC through a trusted proxy", peer: "10.0.0.5", xff: []string{"198.51.100.1"}, trusted: []string{"10.0.0.0/8"}, want: "198.51.100.1"},
		{name: "REST: the gateway's last entry is the HTTP client", xff: []string{"198.51.100.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "REST behind a trusted ingress", xff: []string{"198.51.100.1, 10.1.2.3"}, trusted: []string{"10.0.0.0/8"}, want: "198.51.100.1"},
		{name: "REST: a forged entry left of a real client stays ignored", xff: []string{"1.1.1.1, 198.51.100.1, 10.1.2.3"}, trusted: []string{"10.0.0.0/8"}, want: "198.51.100.1"},
		{name: "REST: metadata smuggled before the gateway's own", xff: []string{"1.1.1.1", "198.51.100.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "two trusted hops", xff: []string{"198.51.100.1, 10.0.0.1, 10.0.0.2"}, trusted: []string{"10.0.0.0/8"}, want: "198.51.100.1"},
		{name: "all trusted: the farthest", xff: []string{"10.0.0.1, 10.0.0.2"}, trusted: []string{"10.0.0.0/8"}, want: "10.0.0.1"},
		{name: "a trusted single address", peer: "192.0.2.10", xff: []string{"198.51.100.1"}, trusted: []string{"192.0.2.10"}, want: "198.51.100.1"},
		{name: "IPv6 peer", peer: "2001:db8::1", want: "2001:db8::1"},
		{name: "nothing known", want: "unknown"},
		{name: "REST: text instead of an address", xff: []string{"<script>" + strings.Repeat("x", 1000)}, want: "unknown"},
		{name: "garbage left of a trusted proxy gives the proxy", xff: []string{"not-an-ip, 10.1.2.3"}, trusted: []string{"10.0.0.0/8"}, want: "10.1.2.3"},
		{name: "an address with a port is not an address", xff: []string{"198.51.100.1:4000, 10.1.2.3"}, trusted: []string{"10.0.0.0/8"}, want: "10.1.2.3"},
		{name: "an IPv4-mapped IPv6 peer", peer: "::ffff:192.0.2.7", want: "192.0.2.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefixes, err := config.ParsePrefixes(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.peer != "" {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(tt.peer), Port: 1234}})
			}
			if len(tt.xff) > 0 {
				md := metadata.MD{}
				for _, v := range tt.xff {
					md.Append("x-forwarded-for", v)
				}
				ctx = metadata.NewIncomingContext(ctx, md)
			}
			if got := NewClientAddresses(prefixes).Of(ctx); got != tt.want {
				t.Errorf("Of = %q, want %q", got, tt.want)
			}
		})
	}
}
