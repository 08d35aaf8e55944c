// Package finalize verifies an upload once it has landed and acts on the
// verdict: on a staging profile a verified upload is copied to its key
// (with the headers and metadata that were verified, and gatepost's
// verified mark) and a rejected one deleted or quarantined. Without
// staging the verdict is only reported: the object at the key may be
// anyone's (a shared prefix, the application's own), and gatepost does not
// delete what it did not stage. Each object version (bucket, key, ETag,
// headers) is verified once, whoever reports it (the client's
// FinalizeUpload, multipart completion, the store's event) and however
// often; the verdict goes to a callback (the webhook queue) once per
// version in this process.
package finalize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/malwarescan"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
	"github.com/gatepost/gatepost/internal/verify"
)

// Store is what verification needs of the object store.
type Store interface {
	Head(ctx context.Context, bucket, key string) (*uploadpolicy.Object, error)
	ReadHead(ctx context.Context, bucket, key, etag string, n int64) ([]byte, error)
	objectstore.Mover
}

var (
	// ErrNoUpload is a report of an upload that is not there: nothing
	// staged (or, without staging, at the key) and no verdict remembered.
	ErrNoUpload = errors.New("no upload waits at this key")
	// ErrUnavailable wraps a failure that left the upload undecided (the
	// store or the malware scanner unreachable): it stays where it is,
	// and reporting it again later decides it.
	ErrUnavailable = errors.New("the upload could not be verified now")
)

// Outcome is the verdict on one upload and what was done with it.
type Outcome struct {
	// Verified is the verdict; Reasons say why not, in words.
	Verified bool
	Reasons  []string
	// Profile, Bucket and Key (the final key) name the upload.
	Profile, Bucket, Key string
	// Subject is the caller the credential was made for, from its
	// declaration ("" when the profile does not stage: who put an object
	// at its key is not known).
	Subject string
	// Object is the object as the store described it, with only the
	// application's metadata.
	Object uploadpolicy.Object
	// DeclaredSize is the size the credential declared, or -1.
	DeclaredSize int64
	// Sniffed is the media type its first bytes show ("" when not
	// sniffed).
	Sniffed string
	// QuarantineKey is where a rejected upload is kept ("" when deleted).
	QuarantineKey string
	// At is when the verdict was reached.
	At time.Time
}

// Verifier verifies uploads of every profile.
type Verifier struct {
	store    Store
	profiles map[string]config.Profile
	scanners map[string]*malwarescan.Scanner
	notify   func(context.Context, *Outcome)
	logger   *slog.Logger
	now      func() time.Time
	flight   singleflight.Group
	// running bounds the verifications (reads, scans, copies) at once.
	running chan struct{}
	// claims decide who verifies and remember verdicts by bucket and
	// final key, for a report that comes after the upload was promoted or
	// removed.
	claims Claims
}

// claimLease bounds how long one verifier holds a version: a verifier that
// died gives it up after this. verifyTimeout, shorter, bounds the
// verification itself (reads, scan, copy), so that no verification
// outlives its claim.
const (
	claimLease    = 5 * time.Minute
	verifyTimeout = 4 * time.Minute
)

// waitPoll is how often a report of a version another replica is
// verifying looks for its verdict.
const waitPoll = 200 * time.Millisecond

// maxRunning bounds the verifications one process runs at once; reports
// beyond it wait (within their own deadline).
const maxRunning = 16

// Options are a Verifier's optional parts.
type Options struct {
	// Scanners are the malware scanners of the profiles that scan.
	Scanners map[string]*malwarescan.Scanner
	// Notify receives each verdict once (the webhook queue); it must not
	// block.
	Notify func(context.Context, *Outcome)
	// Logger logs verdicts and failed clean-ups.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Claims are shared with other replicas (Redis); this process's
	// memory when nil.
	Claims Claims
}

// New returns a Verifier for the profiles (validated) of store.
func New(store Store, profiles map[string]config.Profile, o Options) *Verifier {
	v := &Verifier{
		store: store, profiles: profiles, scanners: o.Scanners, notify: o.Notify, logger: o.Logger, now: o.Now,
		claims:  o.Claims,
		running: make(chan struct{}, maxRunning),
	}
	if v.claims == nil {
		v.claims = NewMemoryClaims()
	}
	if v.logger == nil {
		v.logger = slog.Default()
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.notify == nil {
		v.notify = func(context.Context, *Outcome) {}
	}
	return v
}

// Finalize verifies the upload for key (the final key) of profile and
// returns the verdict. It returns ErrNoUpload when there is nothing to verify,
// objectstore.ErrChanged when the object was replaced while it was
// verified, and ErrUnavailable when the verdict could not be reached.
func (v *Verifier) Finalize(ctx context.Context, profileName, key string) (*Outcome, error) {
	profile, ok := v.profiles[profileName]
	if !ok {
		return nil, fmt.Errorf("finalize: unknown profile %q", profileName)
	}
	storeKey := key
	if profile.Verify.Staging {
		storeKey = staging.Key(key)
	}
	for {
		out, err := v.finalizeOnce(ctx, profileName, &profile, key, storeKey)
		if !errors.Is(err, errClaimedElsewhere) {
			return out, err
		}
		// Another replica verifies this version: wait for its verdict (in
		// this caller's time, holding nothing), or for its claim to lapse.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(waitPoll):
		}
	}
}

// errClaimedElsewhere is a version another replica holds the claim of.
var errClaimedElsewhere = errors.New("another replica is verifying this upload")

// finalizeOnce is one look at the upload: its remembered verdict, or a
// verification here, or errClaimedElsewhere.
func (v *Verifier) finalizeOnce(ctx context.Context, profileName string, profile *config.Profile, key, storeKey string) (*Outcome, error) {
	bucket := profile.Bucket
	obj, err := v.store.Head(ctx, bucket, storeKey)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the upload: %w", ErrUnavailable, err)
	}
	remembered, known, err := v.claims.Recall(ctx, bucket, key)
	if err != nil {
		// Without the remembered verdicts an old verdict could stand in
		// for a newer upload's: no answer rather than a wrong one.
		return nil, fmt.Errorf("%w: reading remembered verdicts: %w", ErrUnavailable, err)
	}
	if obj == nil {
		if known {
			return remembered, nil
		}
		if profile.Verify.Staging {
			// Promoted by another replica, or before gatepost forgot: what
			// gatepost promoted carries its mark.
			if done, err := v.store.Head(ctx, bucket, key); err == nil && done != nil && staging.Verified(done.Metadata) {
				return v.promotedEarlier(profileName, bucket, key, done), nil
			}
		}
		return nil, ErrNoUpload
	}
	if known && SameVersion(&remembered.Object, obj) {
		// Decided already: reported only, or a staged copy whose clean-up
		// failed (the version includes when it was stored, so the same
		// bytes uploaded again are a new version).
		return remembered, nil
	}
	flightKey := RecentKey(bucket, storeKey) + "\x00" + versionOf(obj)
	results := v.flight.DoChan(flightKey, func() (any, error) {
		// Verification must finish even if the first reporter hangs up
		// (the others wait for it), but within its claim's lease.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), verifyTimeout)
		defer cancel()
		release, ok, err := v.claims.Claim(vctx, flightKey, claimLease)
		switch {
		case err != nil:
			v.logger.Warn("verification claims are unreachable: verifying without one", "bucket", bucket, "key", key, "error", err)
			release = func() {}
		case !ok:
			return nil, errClaimedElsewhere
		}
		defer release()
		select {
		case v.running <- struct{}{}:
			defer func() { <-v.running }()
		case <-vctx.Done():
			return nil, fmt.Errorf("%w: too many verifications at once", ErrUnavailable)
		}
		if done, ok := v.decidedMeanwhile(vctx, bucket, key, storeKey, obj); ok {
			return done, nil
		}
		out, err := v.verify(vctx, profileName, profile, key, storeKey, obj)
		if err != nil {
			if vctx.Err() != nil {
				return nil, fmt.Errorf("%w: verification took longer than %s: %w", ErrUnavailable, verifyTimeout, err)
			}
			return nil, err
		}
		if err := v.claims.Remember(vctx, out); err != nil {
			v.logger.Warn("a verdict could not be shared with the other replicas", "bucket", bucket, "key", key, "error", err)
		}
		v.logger.Info("upload verified", "verified", out.Verified, "profile", profileName, "bucket", bucket, "key", key,
			"subject", out.Subject, "size", out.Object.Size, "etag", out.Object.ETag, "reasons", out.Reasons, "quarantine_key", out.QuarantineKey)
		v.notify(context.WithoutCancel(ctx), out)
		return out, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-results:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Outcome), nil
	}
}

// SameVersion reports whether a remembered object is the one now stored:
// the same bytes (ETag) with the same headers and metadata (two uploads of
// the same bytes may declare different types), stored at the same time
// (the same bytes uploaded again are a new upload).
func SameVersion(a, b *uploadpolicy.Object) bool {
	return versionOf(a) == versionOf(b)
}

// versionOf names what a verdict is about: the bytes, the headers, the
// application's metadata and when it was stored.
func versionOf(o *uploadpolicy.Object) string {
	md := staging.UserMetadata(o.Metadata)
	names := slices.Sorted(maps.Keys(md))
	parts := []string{o.ETag, o.ContentType, o.ContentDisposition, o.CacheControl, o.ChecksumSHA256,
		o.LastModified.UTC().Format(time.RFC3339Nano)}
	for _, n := range names {
		parts = append(parts, n+"="+md[n])
	}
	return strings.Join(parts, "\x00")
}

// Known returns the remembered verdict on the upload at key, if any (none
// when the claims cannot be read).
func (v *Verifier) Known(ctx context.Context, bucket, key string) (*Outcome, bool) {
	out, ok, err := v.claims.Recall(ctx, bucket, key)
	if err != nil {
		return nil, false
	}
	return out, ok
}

// decidedMeanwhile returns the verdict another replica reached on obj
// before this one got the claim, if the staged object is gone since (it
// was acted on).
func (v *Verifier) decidedMeanwhile(ctx context.Context, bucket, key, storeKey string, obj *uploadpolicy.Object) (*Outcome, bool) {
	out, ok := v.Known(ctx, bucket, key)
	if !ok || !SameVersion(&out.Object, obj) {
		return nil, false
	}
	now, err := v.store.Head(ctx, bucket, storeKey)
	if err != nil || (now != nil && SameVersion(now, obj)) {
		return nil, false
	}
	return out, true
}

// newOutcome starts the outcome on obj, the upload for key: the object
// with only the application's metadata, no declared size yet.
func newOutcome(profileName, bucket, key string, obj *uploadpolicy.Object) *Outcome {
	out := &Outcome{Profile: profileName, Bucket: bucket, Key: key, DeclaredSize: -1, Object: *obj}
	out.Object.Metadata = staging.UserMetadata(obj.Metadata)
	return out
}

// promotedEarlier describes an object found at a staging profile's key.
func (v *Verifier) promotedEarlier(profileName, bucket, key string, obj *uploadpolicy.Object) *Outcome {
	out := newOutcome(profileName, bucket, key, obj)
	out.Verified, out.At = true, obj.LastModified
	if d, err := staging.Parse(obj.Metadata); err == nil {
		out.Subject, out.DeclaredSize = d.Subject, d.Size
	}
	return out
}

// verify decides on obj, stored at storeKey, and acts on the verdict.
func (v *Verifier) verify(ctx context.Context, profileName string, profile *config.Profile, key, storeKey string, obj *uploadpolicy.Object) (*Outcome, error) {
	bucket := profile.Bucket
	out := newOutcome(profileName, bucket, key, obj)
	declared := verify.Declared{Size: -1}
	var reasons []string
	if profile.Verify.Staging {
		d, err := staging.Parse(obj.Metadata)
		switch {
		case err != nil:
			reasons = append(reasons, "metadata: "+err.Error())
		case d.Profile != profileName:
			reasons = append(reasons, fmt.Sprintf("metadata: the credential was made for profile %q, not %q", d.Profile, profileName))
		default:
			out.Subject, out.DeclaredSize = d.Subject, d.Size
			declared.Size, declared.ChecksumSHA256 = d.Size, d.ChecksumSHA256
		}
	}
	verdict, err := verify.Inspect(ctx, v.store, profile, declared, bucket, storeKey, &out.Object)
	switch {
	case errors.Is(err, objectstore.ErrChanged):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out.Sniffed = verdict.Sniffed
	reasons = append(reasons, verdict.Reasons...)
	if scanner := v.scanners[profileName]; scanner != nil && len(reasons) == 0 {
		// Only bytes that passed everything else are worth streaming.
		reason, err := scanner.Scan(ctx, bucket, storeKey, obj)
		switch {
		case errors.Is(err, objectstore.ErrChanged):
			return nil, err
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		case reason != "":
			reasons = append(reasons, reason)
		}
	}
	slices.Sort(reasons)
	out.Reasons, out.Verified = reasons, len(reasons) == 0
	if err := v.act(ctx, profile, out, storeKey, obj); err != nil {
		return nil, err
	}
	out.At = v.now()
	return out, nil
}

// act promotes a verified staged upload, or deletes or quarantines a
// rejected one.
func (v *Verifier) act(ctx context.Context, profile *config.Profile, out *Outcome, storeKey string, obj *uploadpolicy.Object) error {
	bucket := profile.Bucket
	move := func(to string, as *uploadpolicy.Object) error {
		if _, err := v.store.Copy(ctx, bucket, storeKey, to, as); err != nil {
			if errors.Is(err, objectstore.ErrChanged) {
				return err
			}
			return fmt.Errorf("%w: copying the upload to %s: %w", ErrUnavailable, to, err)
		}
		return nil
	}
	switch {
	case !profile.Verify.Staging:
		return nil // reported only: gatepost removes only what it staged
	case out.Verified:
		// The headers and metadata that were verified, not whatever the
		// staged object says by now, and gatepost's mark.
		promoted := out.Object
		promoted.Metadata = maps.Clone(out.Object.Metadata)
		if promoted.Metadata == nil {
			promoted.Metadata = map[string]string{}
		}
		promoted.Metadata[staging.VerifiedName] = v.now().UTC().Format(time.RFC3339)
		if err := move(out.Key, &promoted); err != nil {
			return err
		}
	case profile.Verify.Quarantines():
		out.QuarantineKey = staging.QuarantineKey(out.Key)
		if err := move(out.QuarantineKey, obj); err != nil {
			return err
		}
	}
	// Only the version that was verified: a newer upload staged since
	// (other bytes, or the same bytes with other headers) waits for its
	// own verdict.
	if now, err := v.store.Head(ctx, bucket, storeKey); err == nil && now != nil && !SameVersion(now, obj) {
		return nil
	}
	if err := v.store.Delete(ctx, bucket, storeKey); err != nil {
		if !out.Verified {
			// A rejected upload must not stay where it was.
			return fmt.Errorf("%w: deleting the rejected upload: %w", ErrUnavailable, err)
		}
		// Promoted: the copy at the key is what counts; the staged one is
		// left for the bucket's lifecycle rule.
		v.logger.Warn("a promoted upload's staged copy could not be deleted", "bucket", bucket, "key", storeKey, "error", err)
	}
	return nil
}
