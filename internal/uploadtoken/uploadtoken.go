// Package uploadtoken binds a multipart upload to the caller, profile,
// bucket, key, upload id and sizes without server-side state: the token is
// an HS256 JWT (golang-jwt) signed with a secret every replica shares, so
// any replica can serve any step and a client cannot change what it binds.
package uploadtoken

import (
	"github.com/gatepost/gatepost/internal/staging"

	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// audience keeps upload tokens from being mistaken for any other JWT.
const audience = "gatepost-multipart-upload"

// MinSecretBytes is the shortest secret accepted.
const MinSecretBytes = 32

// ErrInvalid means the token is not one this service issued, or it expired.
var ErrInvalid = errors.New("invalid or expired upload token")

// Upload is what a token binds.
type Upload struct {
	Subject   string `json:"usr"`
	Profile   string `json:"prf"`
	Bucket    string `json:"bkt"`
	Key       string `json:"key"`
	UploadID  string `json:"uid"`
	TotalSize int64  `json:"tot"`
	PartSize  int64  `json:"psz"`
	// Reservation is the upload's byte-quota reservation, if any: Complete
	// sets it to the real size and Abort releases it, this one and no
	// other.
	Reservation string `json:"rsv,omitempty"`
	// Staged is an upload written to the staging key of Key, to be
	// copied to Key once verified.
	Staged bool `json:"stg,omitempty"`
	// Unsized is an upload that declared no size (TotalSize and PartSize
	// are 0): its part URLs pin no length and completion checks the parts
	// against the profile.
	Unsized bool `json:"uns,omitempty"`
}

// StoreKey is the key the upload writes to in the store.
func (u *Upload) StoreKey() string {
	if u.Staged {
		return staging.Key(u.Key)
	}
	return u.Key
}

type claims struct {
	Upload
	jwt.RegisteredClaims
}

// Sealer issues and checks upload tokens.
type Sealer struct {
	secret  []byte
	expires time.Duration
}

// New returns a Sealer with the given secret (at least 32 bytes) whose
// tokens last expires.
func New(secret []byte, expires time.Duration) (*Sealer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("upload token secret must be at least %d bytes", MinSecretBytes)
	}
	return &Sealer{secret: secret, expires: expires}, nil
}

// NewRandom returns a Sealer with a random secret: tokens are then only
// valid in this process.
func NewRandom(expires time.Duration) *Sealer {
	secret := make([]byte, MinSecretBytes)
	if _, err := rand.Read(secret); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	s, _ := New(secret, expires)
	return s
}

// Seal returns a token for u and when it expires.
func (s *Sealer) Seal(u Upload, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.expires).Truncate(time.Second)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Upload: u,
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}).SignedString(s.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign upload token: %w", err)
	}
	return token, exp, nil
}

// Open checks a token, as of now, and returns what it binds.
func (s *Sealer) Open(token string, now time.Time) (*Upload, error) {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(audience), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	var c claims
	_, err := parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.UploadID == "" || c.Key == "" || (c.PartSize <= 0) != c.Unsized {
		return nil, ErrInvalid
	}
	return &c.Upload, nil
}

// DerivedKey returns a 32-byte key for another use of the same secret
// (purpose names it), by HKDF-SHA256: every replica that shares the upload
// token secret derives the same key, and no key reveals the secret or
// another purpose's key.
func (s *Sealer) DerivedKey(purpose string) []byte {
	key, err := hkdf.Key(sha256.New, s.secret, nil, "gatepost "+purpose, 32)
	if err != nil {
		panic(err) // only for lengths over 255*32 bytes
	}
	return key
}
