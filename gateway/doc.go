// Package gateway serves gatepost's REST API: grpc-gateway routes (GET
// /v1/presign and the others) that call the service in-process through the
// same interceptor chain as gRPC callers (server.InProcess), plus /healthz,
// /readyz, the generated OpenAPI document at /openapi.json, and a demo
// upload page at / with the browser helper /gatepost.js.
package gateway
