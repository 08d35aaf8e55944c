// Package app wires gatepost together: configuration, the S3 signer, the
// gRPC server and the REST gateway. It binds both listeners up front (so
// port 0 picks free ports, which tests rely on), serves until its context
// ends, and then shuts both servers down gracefully within a bounded time.
//
// app.go is New (the order things are built in), Run and Close; each part
// it builds has its own file: service.go (the service, its throttle and
// upload tokens), security.go (credentials and authentication warnings,
// TLS), tracing.go, metrics.go (where /metrics is served) and reload.go
// (what changes without a restart).
package app
