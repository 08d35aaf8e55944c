// Package server implements gatepost.v1.UploadService: it validates every
// request against a server-side upload profile, decides the bucket, key,
// size range, Content-Type, metadata and expiry of the upload, and has the
// object store sign them into a credential (a POST policy, a PUT URL, part
// URLs). It also builds the gRPC server that serves the service, with
// health checking and reflection, and the interceptor chain that the gRPC
// server and the in-process REST gateway share.
//
// Where things are:
//   - one file per capability, each with its RPCs and the checks only they
//     make: post.go (CreatePresignedPost), put.go (CreatePresignedPut),
//     multipart.go (Create/PresignUploadParts/Complete/Abort), getupload.go;
//   - what every RPC shares: service.go (the Service, its options, the
//     caller, store errors, audit lines), validate.go (profile, key,
//     content type, size, metadata rules), limits.go (rate limits);
//   - the transport: grpc.go (server options and interceptor order),
//     interceptors.go (request ids, deadlines, authentication), throttle.go
//     and clientaddr.go (failure throttling by address and subject),
//     codec.go (malformed requests), inprocess.go (the REST gateway's way
//     in).
//
// A new RPC: its proto and HTTP rule, then a file here; a new validation
// rule: validate.go, or the capability's file when only it needs it.
package server
