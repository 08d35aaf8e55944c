package server

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Bounds on the streams anyone may open without a token (health Watch,
// reflection): each holds a goroutine and buffers for up to
// MaxStreamDuration, and without a bound one client could hold thousands.
const (
	maxPublicStreams           = 512
	maxPublicStreamsPerAddress = 16
)

// publicStreams counts open public streams, in all and per client address.
//
// Written here because it is a counter under a mutex: the semaphore
// libraries bound one total, not one per key beside it.
type publicStreams struct {
	mu        sync.Mutex
	total     int
	byAddress map[string]int
	max, per  int
}

func newPublicStreams(max, perAddress int) *publicStreams {
	return &publicStreams{byAddress: make(map[string]int), max: max, per: perAddress}
}

// acquire takes a place for a stream from addr, or reports that none is
// left; release gives it back.
func (p *publicStreams) acquire(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total >= p.max || p.byAddress[addr] >= p.per {
		return false
	}
	p.total++
	p.byAddress[addr]++
	return true
}

func (p *publicStreams) release(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if p.byAddress[addr]--; p.byAddress[addr] <= 0 {
		delete(p.byAddress, addr)
	}
}

// Interceptor refuses a public stream past the bounds with
// ResourceExhausted; other streams pass.
func (p *publicStreams) Interceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !public(info.FullMethod) {
			return handler(srv, ss)
		}
		addr := peerHost(ss.Context())
		if !p.acquire(addr) {
			return status.Errorf(codes.ResourceExhausted, "too many open health and reflection streams (at most %d per address, %d in all); close some and try again", p.per, p.max)
		}
		defer p.release(addr)
		return handler(srv, ss)
	}
}
