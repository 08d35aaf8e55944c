package server

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// uploadServiceMessages is the protobuf package of UploadService's
// requests.
const uploadServiceMessages = "gatepost.v1."

// requestCodec is grpc-go's protobuf codec, except that an UploadService
// request that does not parse is answered InvalidArgument instead of
// Internal. grpc-go turns every codec error into Internal before any
// interceptor runs, and offers no hook for it; so for UploadService
// requests (all unary) the codec records the failure and hands the
// handler an empty message; TakeMalformed and RefuseMalformed turn the
// record into InvalidArgument. Other services (health,
// reflection) keep grpc-go's behaviour.
type requestCodec struct {
	encoding.CodecV2
	// malformed maps a request message that failed to parse to why.
	malformed *sync.Map
}

func newRequestCodec() requestCodec {
	return requestCodec{CodecV2: encoding.GetCodecV2(protocodec.Name), malformed: &sync.Map{}}
}

// Unmarshal parses data into v; see requestCodec.
func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok || !strings.HasPrefix(string(m.ProtoReflect().Descriptor().FullName()), uploadServiceMessages) {
		return err
	}
	proto.Reset(m)
	c.malformed.Store(m, err)
	return nil
}

// malformedKey marks a call's context when its request did not parse.
type malformedKey struct{}

// TakeMalformed moves the codec's record of a request that did not parse
// into the call's context. It must be the first interceptor: it always
// runs once a request was decoded, so no record outlives its call, even
// when a later interceptor refuses the call.
func (c requestCodec) TakeMalformed() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, bad := c.malformed.LoadAndDelete(req); bad {
			ctx = context.WithValue(ctx, malformedKey{}, true)
		}
		return handler(ctx, req)
	}
}

// RefuseMalformed answers a call whose request did not parse with
// InvalidArgument. It comes last, before the handler: a malformed request
// is logged, authenticated and charged to its sender like any other
// invalid one, and nothing reads the empty message it was given.
func RefuseMalformed() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if bad, _ := ctx.Value(malformedKey{}).(bool); bad {
			return nil, status.Error(codes.InvalidArgument, "request: not a valid protobuf encoding of this method's request message")
		}
		return handler(ctx, req)
	}
}
