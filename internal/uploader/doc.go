// Package uploader is gatepost's client side: it asks a gatepost server for
// a presigned POST, or for a multipart upload and its part URLs (over gRPC
// or REST, in the clear or over TLS), and uploads a file with them, as the
// browser helper gatepost.js does. The `gatepost presign` and `gatepost
// upload` commands are built on it.
package uploader
