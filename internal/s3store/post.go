package s3store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// Why POST policies are signed here and not with the SDK's
// PresignPostObject: that call runs the SDK's whole generic operation
// stack (about 40 middlewares, endpoint rules, ~400 allocations, ~40 µs) to
// produce one HMAC of a JSON document, with a key that changes once a day.
// SignPost builds the same policy document (the same conditions, in the
// same order, the same field names) and signs it with SigV4's POST
// signature, hex(HMAC-SHA256(kSigning, base64(policy))), caching kSigning
// per secret and day. It still takes credentials from the SDK's provider
// chain and bucket URLs from the SDK's endpoint resolution (once per
// bucket), and the tests check its output against the SigV4 definition and
// against a real S3-compatible server.

const (
	algorithm = "AWS4-HMAC-SHA256"
	service   = "s3"
)

// signingKey is kSigning for one secret, day and region.
type signingKey struct {
	secret, day, region string
	key                 []byte
}

// SignPost signs a POST policy that pins everything in p and returns the URL
// and every form field a client must send. The policy never outlives the
// credentials that sign it: with temporary credentials the expiry is cut to
// theirs.
func (s *Store) SignPost(ctx context.Context, p *uploadpolicy.Post) (*uploadpolicy.Signed, error) {
	if what := notUTF8(p); what != "" {
		return nil, fmt.Errorf("presign POST for s3://%s/%s: %s is not valid UTF-8", p.Bucket, p.Key, what)
	}
	// Credentials first: the bucket's URL comes from an SDK presign, which
	// needs them too and would hide why it failed.
	creds, err := s.credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("presign POST for s3://%s/%s: %w", p.Bucket, p.Key, noCredentials(err))
	}
	url, err := s.bucketURL(ctx, p.Bucket)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	expiration := now.Add(p.Expires)
	if creds.CanExpire && creds.Expires.Before(expiration) {
		expiration = creds.Expires.UTC()
	}
	// The policy states its expiration in whole seconds (RFC 3339).
	expiration = expiration.Truncate(time.Second)
	// Whole seconds: a 1 s profile may give a policy that ends within the
	// current second; only one already past is refused.
	if !expiration.After(now) {
		return nil, objectstore.ErrCredentialsExpired
	}

	day := now.Format("20060102")
	amzDate := now.Format("20060102T150405Z")
	credential := creds.AccessKeyID + "/" + day + "/" + s.region + "/" + service + "/aws4_request"

	doc, fields := p.Document(uploadpolicy.Signing{
		Algorithm: algorithm, Credential: credential, Date: amzDate, SecurityToken: creds.SessionToken,
	}, expiration)
	policy := base64.StdEncoding.EncodeToString(doc)
	mac := hmac.New(sha256.New, s.key(creds.SecretAccessKey, day))
	mac.Write([]byte(policy))
	fields["policy"] = policy
	fields["X-Amz-Signature"] = hex.EncodeToString(mac.Sum(nil))
	return &uploadpolicy.Signed{URL: url, Fields: fields, ExpiresAt: expiration}, nil
}

// key returns kSigning for the secret and day, deriving it only when
// either changed: kDate = HMAC("AWS4"+secret, day), kRegion, kService,
// kSigning = HMAC(kService, "aws4_request").
func (s *Store) key(secret, day string) []byte {
	if k := s.signingKey.Load(); k != nil && k.day == day && k.secret == secret && k.region == s.region {
		return k.key
	}
	k := []byte("AWS4" + secret)
	for _, part := range []string{day, s.region, service, "aws4_request"} {
		k = hmacSHA256(k, part)
	}
	s.signingKey.Store(&signingKey{secret: secret, day: day, region: s.region, key: k})
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// ObjectURL returns the URL of an object as the store serves it (what S3
// answers as a completed upload's Location): the bucket's URL and the key,
// each of its segments escaped.
func (s *Store) ObjectURL(ctx context.Context, bucket, key string) (string, error) {
	base, err := s.bucketURL(ctx, bucket)
	if err != nil {
		return "", err
	}
	segments := strings.Split(key, "/")
	for i, seg := range segments {
		segments[i] = url.PathEscape(seg)
	}
	return strings.TrimSuffix(base, "/") + "/" + strings.Join(segments, "/"), nil
}

// bucketURL returns the POST URL of a bucket as the SDK's endpoint
// resolution gives it (path or virtual-hosted style, custom endpoints),
// asking the SDK once per bucket.
func (s *Store) bucketURL(ctx context.Context, bucket string) (string, error) {
	if u, ok := s.bucketURLs.Load(bucket); ok {
		return u.(string), nil
	}
	out, err := s.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		return "", fmt.Errorf("resolve the POST URL of bucket %s: %w", bucket, err)
	}
	s.bucketURLs.Store(bucket, out.URL)
	return out.URL, nil
}
