package server

import (
	"context"

	"google.golang.org/grpc"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// InProcess wraps svc so that every call runs through the given
// interceptors, as a call through a gRPC server would. The REST gateway
// calls the service in-process through it (grpc-gateway's
// RegisterUploadServiceHandlerServer), which skips a loopback gRPC round
// trip per request while keeping authentication, validation, limits,
// logging and metrics identical on both transports.
func InProcess(svc gatepostv1.UploadServiceServer, interceptors []grpc.UnaryServerInterceptor) gatepostv1.UploadServiceServer {
	return &inProcess{svc: svc, chain: chain(interceptors)}
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
	gatepostv1.UnimplementedUploadServiceServer
	svc   gatepostv1.UploadServiceServer
	chain grpc.UnaryServerInterceptor
}

// call runs one method of the service through the interceptor chain.
func call[Req, Resp any](ctx context.Context, p *inProcess, method string, req *Req, h func(context.Context, *Req) (*Resp, error)) (*Resp, error) {
	info := &grpc.UnaryServerInfo{Server: p.svc, FullMethod: "/" + gatepostv1.UploadService_ServiceDesc.ServiceName + "/" + method}
	out, err := p.chain(ctx, req, info, func(ctx context.Context, r any) (any, error) { return h(ctx, r.(*Req)) })
	if err != nil {
		return nil, err
	}
	return out.(*Resp), nil
}

func (p *inProcess) CreatePresignedPost(ctx context.Context, r *gatepostv1.CreatePresignedPostRequest) (*gatepostv1.CreatePresignedPostResponse, error) {
	return call(ctx, p, "CreatePresignedPost", r, p.svc.CreatePresignedPost)
}

func (p *inProcess) CreatePresignedPut(ctx context.Context, r *gatepostv1.CreatePresignedPutRequest) (*gatepostv1.CreatePresignedPutResponse, error) {
	return call(ctx, p, "CreatePresignedPut", r, p.svc.CreatePresignedPut)
}

func (p *inProcess) CreateMultipartUpload(ctx context.Context, r *gatepostv1.CreateMultipartUploadRequest) (*gatepostv1.CreateMultipartUploadResponse, error) {
	return call(ctx, p, "CreateMultipartUpload", r, p.svc.CreateMultipartUpload)
}

func (p *inProcess) PresignUploadParts(ctx context.Context, r *gatepostv1.PresignUploadPartsRequest) (*gatepostv1.PresignUploadPartsResponse, error) {
	return call(ctx, p, "PresignUploadParts", r, p.svc.PresignUploadParts)
}

func (p *inProcess) CompleteMultipartUpload(ctx context.Context, r *gatepostv1.CompleteMultipartUploadRequest) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	return call(ctx, p, "CompleteMultipartUpload", r, p.svc.CompleteMultipartUpload)
}

func (p *inProcess) AbortMultipartUpload(ctx context.Context, r *gatepostv1.AbortMultipartUploadRequest) (*gatepostv1.AbortMultipartUploadResponse, error) {
	return call(ctx, p, "AbortMultipartUpload", r, p.svc.AbortMultipartUpload)
}

func (p *inProcess) GetUpload(ctx context.Context, r *gatepostv1.GetUploadRequest) (*gatepostv1.GetUploadResponse, error) {
	return call(ctx, p, "GetUpload", r, p.svc.GetUpload)
}
