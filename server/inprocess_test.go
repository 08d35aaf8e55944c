package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// TestInProcessReachesEveryMethod: every UploadService method in the
// generated description is served in process (a new RPC needs no
// forwarder), its incoming metadata is the caller's outgoing metadata,
// and headers set by the handler come back through grpc.Header.
func TestInProcessReachesEveryMethod(t *testing.T) {
	t.Parallel()
	var seen []string
	saw := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("x-test"); len(got) != 1 || got[0] != "yes" {
			t.Errorf("%s: incoming metadata %v lacks the caller's x-test", info.FullMethod, md)
		}
		seen = append(seen, info.FullMethod)
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-answer", info.FullMethod))
		return handler(ctx, req)
	}
	conn := InProcess(NewService(testProfiles(t), &fakeStore{}, discardLogger()), []grpc.UnaryServerInterceptor{saw})
	desc := gatepostv1.UploadService_ServiceDesc
	sd, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(desc.ServiceName))
	if err != nil {
		t.Fatal(err)
	}
	methods := sd.(protoreflect.ServiceDescriptor).Methods()
	if methods.Len() != len(desc.Methods) {
		t.Fatalf("the proto has %d methods, the service description %d", methods.Len(), len(desc.Methods))
	}
	for i := range methods.Len() {
		m := methods.Get(i)
		full := "/" + desc.ServiceName + "/" + string(m.Name())
		t.Run(string(m.Name()), func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(anonymous(t.Context()), "x-test", "yes")
			var header metadata.MD
			err := conn.Invoke(ctx, full, newMessage(t, m.Input()), newMessage(t, m.Output()), grpc.Header(&header))
			if status.Code(err) == codes.Unimplemented {
				t.Errorf("%s is not served in process: %v", full, err)
			}
			if got := header.Get("x-answer"); len(got) != 1 || got[0] != full {
				t.Errorf("header %v does not carry what the handler set", header)
			}
		})
	}
	if len(seen) != len(desc.Methods) {
		t.Errorf("the interceptor saw %d calls, want %d", len(seen), len(desc.Methods))
	}
}

// newMessage returns an empty message of the generated type of md.
func newMessage(t *testing.T, md protoreflect.MessageDescriptor) any {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		t.Fatal(err)
	}
	return mt.New().Interface()
}
