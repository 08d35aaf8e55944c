// Package uploader is gatepost's client side: it asks a gatepost server for
// a presigned POST (over gRPC or REST) and uploads a file with it, as the
// browser helper gatepost.js does. The `gatepost presign` and `gatepost
// upload` commands are built on it.
package uploader
