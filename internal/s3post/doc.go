// Package s3post signs S3 POST policies with the AWS SDK's PresignClient.
// It is the only package that talks to the SDK: the service depends on the
// small Signer interface it owns, so tests can replace it.
//
// Signing is local (no request reaches S3); the only network access is the
// SDK's credential chain, which may call STS or a metadata service.
package s3post
