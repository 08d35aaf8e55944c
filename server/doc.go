// Package server implements gatepost.v1.UploadService: it validates every
// request against a server-side upload profile, decides the bucket, key,
// size range, Content-Type, metadata and expiry of the upload, and has them
// signed into an S3 POST policy. It also builds the gRPC server that serves
// the service, with health checking and reflection.
package server
