// Package s3store is gatepost's adapter to S3 and S3-compatible stores, and
// the only package that uses the AWS SDK. It implements objectstore.Store:
//
//   - POST policies are signed here directly (SigV4 POST signatures, about
//     ten times faster than the SDK's PresignPostObject; see BENCHMARKS.md),
//     with the credentials from the SDK's chain;
//   - PUT and UploadPart URLs are presigned with the SDK's PresignClient,
//     with the headers that pin what may be stored signed in;
//   - multipart create, list parts, complete and abort, and HEAD of an
//     object, are real requests to the store.
//
// Signing reaches no store; the SDK's credential chain may call STS or an
// instance metadata service.
package s3store
