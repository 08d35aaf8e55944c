package server

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/objectkey"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// maxEchoBytes bounds how much of a caller's string an error message echoes.
const maxEchoBytes = 64

// invalid returns an InvalidArgument status whose message starts with the
// request field at fault.
func invalid(field, format string, args ...any) error {
	return status.Error(codes.InvalidArgument, field+": "+fmt.Sprintf(format, args...))
}

// decide validates every field of req against its profile and the
// caller's rights, before anything is signed, and returns what the policy
// must pin and the profile's name. This is the one place where request
// fields are checked.
func (s *Service) decide(req *gatepostv1.CreatePresignedPostRequest, id *auth.Identity) (*uploadpolicy.Post, string, error) {
	name := req.GetProfile()
	if name == "" {
		name = config.DefaultProfile
	}
	profile, ok := s.profiles[name]
	if !ok {
		return nil, "", invalid("profile", "unknown profile %s", echo(name))
	}
	if !id.MayUse(name) {
		return nil, "", status.Errorf(codes.PermissionDenied, "profile: subject %s may not use profile %q", echo(id.Subject), name)
	}
	// Each caller's keys live under its own prefix when the profile's
	// prefix contains {subject}.
	prefix := strings.ReplaceAll(profile.KeyPrefix, "{subject}", auth.KeySegment(id.Subject))

	if err := objectkey.Check(req.GetKey()); err != nil {
		return nil, "", invalid("key", "%v", err)
	}
	var key string
	var err error
	switch profile.KeyMode {
	case config.KeyModeGenerated:
		key, err = objectkey.Generate(prefix, req.GetKey())
	default:
		key, err = objectkey.Join(prefix, req.GetKey())
	}
	if err != nil {
		return nil, "", invalid("key", "%v", err)
	}

	contentType, mediaType, err := uploadpolicy.ParseContentType(req.GetContentType())
	if err != nil {
		return nil, "", invalid("content_type", "%v", err)
	}
	if !uploadpolicy.ContentTypeAllowed(mediaType, profile.ContentTypes) {
		return nil, "", invalid("content_type", "%s is not allowed by profile %q (allowed: %s)",
			echo(mediaType), name, strings.Join(profile.ContentTypes, ", "))
	}

	minBytes, maxBytes := profile.MinBytes, profile.MaxBytes
	if req.ContentLength != nil {
		n := req.GetContentLength()
		switch {
		case n < 0:
			return nil, "", invalid("content_length", "must not be negative")
		case n > maxBytes:
			return nil, "", invalid("content_length", "%d bytes is over the maximum of %d bytes for profile %q", n, maxBytes, name)
		case n < minBytes:
			return nil, "", invalid("content_length", "%d bytes is under the minimum of %d bytes for profile %q", n, minBytes, name)
		}
		minBytes, maxBytes = n, n
	}

	metadata, err := checkMetadata(req.GetMetadata(), profile.MetadataKeys, name)
	if err != nil {
		return nil, "", err
	}

	return &uploadpolicy.Post{
		Bucket:      profile.Bucket,
		Key:         key,
		ContentType: contentType,
		MinBytes:    minBytes,
		MaxBytes:    maxBytes,
		Metadata:    metadata,
		Expires:     profile.Expires,
	}, name, nil
}

// checkMetadata accepts only metadata names the profile allows (compared
// case-insensitively, returned in lowercase as S3 stores them) and values
// S3 can store as an HTTP header: printable ASCII without leading or
// trailing spaces, within S3's 2 KB total for names and values (counted
// as S3 does, without the x-amz-meta- prefix).
func checkMetadata(md map[string]string, allowed []string, profile string) (map[string]string, error) {
	if len(md) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(md))
	total := 0
	for _, name := range slices.Sorted(maps.Keys(md)) {
		value := md[name]
		lower := strings.ToLower(name)
		if !slices.Contains(allowed, lower) {
			if len(allowed) == 0 {
				return nil, invalid("metadata", "profile %q allows no metadata (got key %s)", profile, echo(name))
			}
			return nil, invalid("metadata", "key %s is not allowed by profile %q (allowed: %s)",
				echo(name), profile, strings.Join(allowed, ", "))
		}
		if _, dup := out[lower]; dup {
			return nil, invalid("metadata", "key %s is given twice (names are case-insensitive)", echo(name))
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < 0x20 || c > 0x7e {
				return nil, invalid("metadata", "value of %q contains a byte S3 cannot store at %d (printable ASCII only)", lower, i)
			}
		}
		if strings.TrimSpace(value) != value {
			return nil, invalid("metadata", "value of %q has leading or trailing spaces, which S3 drops", lower)
		}
		total += len(lower) + len(value)
		out[lower] = value
	}
	if total > config.MaxMetadataBytes {
		return nil, invalid("metadata", "is %d bytes in total; S3 allows %d", total, config.MaxMetadataBytes)
	}
	return out, nil
}

// echo quotes a caller-supplied string for an error message, shortened and
// with anything unprintable escaped.
func echo(s string) string {
	if len(s) > maxEchoBytes {
		cut := maxEchoBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
