// Package app wires gatepost together: configuration, the S3 signer, the
// gRPC server and the REST gateway. It binds both listeners up front (so
// port 0 picks free ports, which tests rely on), serves until its context
// ends, and then shuts both servers down gracefully within a bounded time.
package app
