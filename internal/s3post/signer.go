package s3post

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// ErrCredentialsExpired is returned when the signing credentials expire
// before a policy could be of any use.
var ErrCredentialsExpired = errors.New("signing credentials have expired")

// Signer signs presigned POST policies for one S3 endpoint.
type Signer struct {
	client      *s3.Client
	presign     *s3.PresignClient
	credentials aws.CredentialsProvider
}

// New loads AWS configuration through the SDK's default chain (environment,
// shared config, web identity, container and instance roles), applies the
// region, endpoint and addressing style from cfg, and returns a Signer.
// Extra load options (for example static credentials in tests) are applied
// after the region.
func New(ctx context.Context, cfg config.S3, opts ...func(*awsconfig.LoadOptions) error) (*Signer, error) {
	opts = append([]func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}, opts...)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &Signer{client: client, presign: s3.NewPresignClient(client), credentials: awsCfg.Credentials}, nil
}

// SignPost signs a POST policy that pins everything in p and returns the URL
// and every form field a client must send. The policy never outlives the
// credentials that sign it: with temporary credentials the expiry is cut to
// theirs.
func (s *Signer) SignPost(ctx context.Context, p *uploadpolicy.Post) (*uploadpolicy.Signed, error) {
	if what := notUTF8(p); what != "" {
		return nil, fmt.Errorf("presign POST for s3://%s/%s: %s is not valid UTF-8", p.Bucket, p.Key, what)
	}
	var expiresAt time.Time
	out, err := s.presign.PresignPostObject(ctx,
		&s3.PutObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key)},
		func(o *s3.PresignPostOptions) {
			o.Expires = p.Expires
			o.Conditions = p.Conditions()
			o.PostPresigner = &expiryClamp{next: o.PostPresigner, expiresAt: &expiresAt}
		})
	if err != nil {
		return nil, fmt.Errorf("presign POST for s3://%s/%s: %w", p.Bucket, p.Key, err)
	}
	fields := out.Values
	for k, v := range p.Fields() {
		fields[k] = v
	}
	return &uploadpolicy.Signed{URL: out.URL, Fields: fields, ExpiresAt: expiresAt}, nil
}

// notUTF8 names the first string of p that is not valid UTF-8, or returns
// "". The policy is JSON, which replaces such bytes with U+FFFD while the
// form fields keep them, so the policy would pin other values than the
// fields carry and S3 would refuse every upload made with it.
func notUTF8(p *uploadpolicy.Post) string {
	switch {
	case !utf8.ValidString(p.Bucket):
		return "the bucket"
	case !utf8.ValidString(p.Key):
		return "the key"
	case !utf8.ValidString(p.ContentType):
		return "the Content-Type"
	}
	for name, value := range p.Metadata {
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return "metadata"
		}
	}
	return ""
}

// Ready reports whether credentials can be obtained now.
func (s *Signer) Ready(ctx context.Context) error {
	creds, err := s.credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	if creds.Expired() {
		return ErrCredentialsExpired
	}
	return nil
}

// expiryClamp wraps the SDK's POST presigner. It is the one place that sees
// the exact credentials and times used for a signature, so it cuts the
// expiration to the credentials' own and records the expiration written
// into the policy.
type expiryClamp struct {
	next      s3.PresignPost
	expiresAt *time.Time
}

// PresignPost implements s3.PresignPost.
func (c *expiryClamp) PresignPost(creds aws.Credentials, bucket, key, region, service string,
	signingTime time.Time, conditions []any, expiration time.Time, optFns ...func(*v4.SignerOptions),
) (map[string]string, error) {
	if creds.CanExpire && creds.Expires.Before(expiration) {
		expiration = creds.Expires.UTC()
	}
	// The policy states its expiration in whole seconds (RFC 3339).
	expiration = expiration.Truncate(time.Second)
	if !expiration.After(signingTime) {
		return nil, ErrCredentialsExpired
	}
	*c.expiresAt = expiration
	return c.next.PresignPost(creds, bucket, key, region, service, signingTime, conditions, expiration, optFns...)
}
