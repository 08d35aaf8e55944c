package s3store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

var _ objectstore.Store = (*Store)(nil)

// noCredentials wraps a failure of the SDK's credential chain.
func noCredentials(err error) error {
	return fmt.Errorf("%w: the AWS credential chain found none: %w", objectstore.ErrNoCredentials, err)
}

// Store is gatepost's object store on S3 (AWS or an S3-compatible
// endpoint): it signs POST policies, PUT and part URLs, and makes the few
// calls that reach the store (multipart create, list, complete, abort, and
// HEAD).
type Store struct {
	client      *s3.Client
	presign     *s3.PresignClient
	credentials aws.CredentialsProvider
	region      string
	now         func() time.Time

	bucketURLs sync.Map // bucket name -> POST URL
	// copyOver and copyPart, when set (CopyInParts), replace S3's limits
	// for when and how Copy copies in parts.
	copyOver, copyPart int64
	signingKey         atomic.Pointer[signingKey]
	// refusesUnsignedHeaders: the store refuses unsigned x-amz-* headers
	// on presigned requests (AWS, SeaweedFS), so bare part URLs are safe.
	refusesUnsignedHeaders bool
}

// New loads AWS configuration through the SDK's default chain (environment,
// shared config, web identity, container and instance roles), applies the
// region, endpoint and addressing style from cfg, and returns a Store.
// Extra load options (for example static credentials in tests) are applied
// after the region.
func New(ctx context.Context, cfg config.S3, opts ...func(*awsconfig.LoadOptions) error) (*Store, error) {
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
	return &Store{
		client: client, presign: s3.NewPresignClient(client), credentials: awsCfg.Credentials,
		region: awsCfg.Region, now: time.Now,
		refusesUnsignedHeaders: cfg.Store == config.StoreAWS || cfg.Store == config.StoreSeaweedFS || (cfg.Store == "" && cfg.Endpoint == ""),
	}, nil
}

// TakesBarePartURLs reports whether the store takes bare part URLs safely
// (see SignUploadPart).
func (s *Store) TakesBarePartURLs() bool { return s.refusesUnsignedHeaders }

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
func (s *Store) Ready(ctx context.Context) error {
	creds, err := s.credentials.Retrieve(ctx)
	if err != nil {
		return noCredentials(err)
	}
	if creds.Expired() {
		return objectstore.ErrCredentialsExpired
	}
	return nil
}
