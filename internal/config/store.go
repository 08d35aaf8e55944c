package config

import (
	"fmt"
	"slices"
)

// Store names the kind of S3-compatible store behind s3.endpoint, for the
// rules that depend on how a store treats what no signature covers.
type Store string

// The stores gatepost knows. Others behave, as far as gatepost can tell,
// like AWS S3.
const (
	StoreAWS       Store = "aws"
	StoreMinIO     Store = "minio"
	StoreSeaweedFS Store = "seaweedfs"
	StoreOther     Store = "other"
)

var stores = []Store{StoreAWS, StoreMinIO, StoreSeaweedFS, StoreOther}

// validateStore checks s3.store and what it implies for the profiles.
//
// SeaweedFS applies the headers of a POST request itself (tags, storage
// class, metadata, SSE-C with the holder's key, a Response-Content-
// Disposition over a pinned attachment) and form fields that no condition
// covers: a POST policy there does not hold its holder to "these bytes at
// this key". So with callers who are not the operator (authentication on,
// or mode none past loopback), a profile on SeaweedFS may not offer post
// unless s3.accept_seaweedfs_post_headers says the operator accepts that;
// and even then not for active content types it makes safe only with an
// attachment pin, which the holder could undo.
func (c *Config) validateStore() []error {
	if c.S3.Store != "" && !slices.Contains(stores, c.S3.Store) {
		return []error{fmt.Errorf("s3.store: %q is not one of aws, minio, seaweedfs, other", c.S3.Store)}
	}
	if c.S3.Store != StoreSeaweedFS {
		if c.S3.AcceptSeaweedFSPostHeaders {
			return []error{fmt.Errorf("s3.accept_seaweedfs_post_headers: only meaningful with s3.store: seaweedfs")}
		}
		return nil
	}
	trustedCallers := c.LocalOnly()
	var errs []error
	for _, name := range sortedNames(c.Profiles) {
		p := c.Profiles[name]
		if !p.Allows(MethodPost) || trustedCallers {
			continue
		}
		at := "profiles." + name + ".methods"
		switch {
		case !c.S3.AcceptSeaweedFSPostHeaders:
			errs = append(errs, fmt.Errorf("%s: post on SeaweedFS lets a holder add request headers and form fields no policy covers "+
				"(tags, storage class, metadata, server-side encryption with its own key, a Content-Disposition over the pinned one): "+
				"offer [put, multipart], or set s3.accept_seaweedfs_post_headers: true to accept that", at))
		case p.activeTypesByAttachment():
			errs = append(errs, fmt.Errorf("%s: post on SeaweedFS cannot keep content_disposition: attachment (a holder replaces it with a request header), "+
				"which is what makes this profile's active content types safe: offer [put, multipart]", at))
		}
	}
	return errs
}

// activeTypesByAttachment reports whether the profile admits a type a
// browser runs only because it pins content_disposition: attachment.
func (p *Profile) activeTypesByAttachment() bool {
	if !attachmentDisposition(p.ContentDisposition) {
		return false
	}
	for _, pattern := range p.ContentTypes {
		for _, t := range activeTypesIn(pattern) {
			if !slices.Contains(p.ActiveContentTypes, t) {
				return true
			}
		}
	}
	return false
}

func sortedNames(profiles map[string]Profile) []string {
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
