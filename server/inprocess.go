package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// InProcess returns a connection that calls svc's UploadService methods in
// this process, each through the given interceptors, as a call through a
// gRPC server would be. The REST gateway uses it as its client
// (grpc-gateway's RegisterUploadServiceHandlerClient), which skips a
// loopback gRPC round trip per request while keeping authentication,
// validation, limits, logging and metrics identical on both transports.
//
// It dispatches through the generated service description, so a new RPC
// needs nothing here: once svc implements it, REST reaches it.
//
// Written here because grpc-go offers no in-process transport for one
// service (only bufconn, which still frames and encodes every message).
func InProcess(svc gatepostv1.UploadServiceServer, interceptors []grpc.UnaryServerInterceptor) grpc.ClientConnInterface {
	desc := &gatepostv1.UploadService_ServiceDesc
	methods := make(map[string]grpc.MethodDesc, len(desc.Methods))
	for _, m := range desc.Methods {
		methods["/"+desc.ServiceName+"/"+m.MethodName] = m
	}
	return &inProcess{svc: svc, methods: methods, chain: chain(interceptors)}
}

// chain composes interceptors into one, outermost first, as
// grpc.ChainUnaryInterceptor does inside a server (grpc-go does not export
// its chaining for use outside one).
func chain(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		next := handler
		for i := len(interceptors) - 1; i >= 0; i-- {
			ic, inner := interceptors[i], next
			next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, inner) }
		}
		return next(ctx, req)
	}
}

type inProcess struct {
	svc     gatepostv1.UploadServiceServer
	methods map[string]grpc.MethodDesc
	chain   grpc.UnaryServerInterceptor
}

var _ grpc.ClientConnInterface = (*inProcess)(nil)

// Invoke runs one unary method: the caller's outgoing metadata becomes the
// call's incoming metadata, headers and trailers the handler sets are
// returned through the grpc.Header and grpc.Trailer call options, and the
// request and response are copied, as a transport would.
func (p *inProcess) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	desc, ok := p.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewIncomingContext(metadata.NewOutgoingContext(ctx, nil), md)
	stream := &collectedMetadata{method: method}
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	dec := func(in any) error {
		shallowCopy(in.(proto.Message), args.(proto.Message))
		return nil
	}
	resp, err := desc.Handler(p.svc, ctx, dec, p.chain)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = stream.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = stream.trailer
		}
	}
	if err != nil {
		return err
	}
	shallowCopy(reply.(proto.Message), resp.(proto.Message))
	return nil
}

// shallowCopy sets every populated field of src in dst, a message of the
// same type, sharing maps, lists and sub-messages instead of copying them
// (proto.Merge would allocate them anew). Each side gives up its message
// once copied: the gateway's request after the call, the handler's
// response after it returns; and handlers do not change their requests.
func shallowCopy(dst, src proto.Message) {
	d := dst.ProtoReflect()
	src.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
}

// NewStream refuses: UploadService has no streaming methods.
func (p *inProcess) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "streaming methods are not served in process")
}

// collectedMetadata is the grpc.ServerTransportStream of an in-process
// call: it keeps what the handler and interceptors set.
type collectedMetadata struct {
	method          string
	header, trailer metadata.MD
}

func (s *collectedMetadata) Method() string { return s.method }

func (s *collectedMetadata) SetHeader(md metadata.MD) error {
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *collectedMetadata) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *collectedMetadata) SetTrailer(md metadata.MD) error {
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}
