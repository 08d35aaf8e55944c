// Package gateway serves gatepost's REST API: grpc-gateway routes (GET
// /v1/presign) that call the gRPC server over a client connection, so every
// gRPC interceptor applies to REST callers too, plus /healthz, /readyz and
// the generated OpenAPI document at /openapi.json, and a demo upload page
// at / with the browser helper /gatepost.js.
package gateway
