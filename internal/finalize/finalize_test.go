package finalize_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/objectstore"
	"github.com/gatepost/gatepost/internal/staging"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// memStore is an object store in memory: what finalize does to objects
// is the subject of these tests, and a real store's part is tested in
// e2e (TestVerifyAndPromote on SeaweedFS and MinIO).
type memStore struct {
	mu      sync.Mutex
	objects map[string]stored
	down    bool
	copies  int
}

type stored struct {
	obj  uploadpolicy.Object
	body []byte
}

var _ finalize.Store = (*memStore)(nil)

var errDown = errors.New("store down")

func (m *memStore) put(key string, obj uploadpolicy.Object, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj.Size = int64(len(body))
	if obj.ETag == "" {
		obj.ETag = `"` + string(body) + `"` // the bytes name the version here
	}
	obj.Metadata = maps.Clone(obj.Metadata)
	if obj.LastModified.IsZero() {
		obj.LastModified = time.Now()
	}
	m.objects[key] = stored{obj: obj, body: body}
}

func (m *memStore) get(key string) (stored, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.objects[key]
	return s, ok
}

func (m *memStore) Head(_ context.Context, _, key string) (*uploadpolicy.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errDown
	}
	s, ok := m.objects[key]
	if !ok {
		return nil, nil
	}
	obj := s.obj
	obj.Metadata = maps.Clone(s.obj.Metadata)
	return &obj, nil
}

func (m *memStore) ReadHead(_ context.Context, _, key, etag string, n int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.objects[key]
	if !ok || s.obj.ETag != etag {
		return nil, objectstore.ErrChanged
	}
	return s.body[:min(int64(len(s.body)), n)], nil
}

func (m *memStore) Open(_ context.Context, _, key, etag string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.objects[key]
	if !ok || s.obj.ETag != etag {
		return nil, objectstore.ErrChanged
	}
	return io.NopCloser(bytes.NewReader(s.body)), nil
}

func (m *memStore) Copy(_ context.Context, _, from, to string, obj *uploadpolicy.Object) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.objects[from]
	if !ok || s.obj.ETag != obj.ETag {
		return "", objectstore.ErrChanged
	}
	m.copies++
	c := *obj
	c.Metadata = maps.Clone(obj.Metadata)
	m.objects[to] = stored{obj: c, body: s.body}
	return c.ETag, nil
}

func (m *memStore) Delete(_ context.Context, _, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")

func profiles() map[string]config.Profile {
	base := config.Profile{Bucket: "b", MaxBytes: 1 << 20, ContentTypes: []string{"image/png", "image/gif"}, MetadataKeys: []string{"owner"}}
	staged, held, plain := base, base, base
	staged.KeyPrefix, staged.Verify.Staging = "s/", true
	held.KeyPrefix, held.Verify = "h/", config.Verification{Staging: true, OnReject: config.RejectQuarantine}
	plain.KeyPrefix = "p/"
	return map[string]config.Profile{"staged": staged, "held": held, "plain": plain}
}

func declared(profile string, size int) map[string]string {
	return map[string]string{
		"owner":              "alice",
		staging.MetadataName: staging.Declaration{Subject: "alice", Profile: profile, Size: int64(size), Issued: time.Unix(1, 0)}.Encode(),
	}
}

func newVerifier(store *memStore) (*finalize.Verifier, *atomic.Int32) {
	var notified atomic.Int32
	v := finalize.New(store, profiles(), finalize.Options{Notify: func(context.Context, *finalize.Outcome) { notified.Add(1) }})
	return v, &notified
}

// TestPromotesOnce: concurrent reports of one staged PNG verify it once:
// one copy to its key, with the verified headers, the application's
// metadata and gatepost's mark (never the declaration), one notice; the
// staged copy is gone and a later report gets the same verdict.
func TestPromotesOnce(t *testing.T) {
	store := &memStore{objects: map[string]stored{}}
	store.put(staging.Key("s/a.png"), uploadpolicy.Object{ContentType: "image/png", Metadata: declared("staged", len(png))}, png)
	v, notified := newVerifier(store)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			out, err := v.Finalize(t.Context(), "staged", "s/a.png")
			if err != nil || !out.Verified || out.Subject != "alice" {
				t.Errorf("Finalize = %+v, %v", out, err)
			}
		})
	}
	wg.Wait()
	final, ok := store.get("s/a.png")
	if !ok || !staging.Verified(final.obj.Metadata) || final.obj.Metadata["owner"] != "alice" || final.obj.Metadata[staging.MetadataName] != "" {
		t.Fatalf("promoted object %+v (present %v); want the owner metadata and the verified mark, no declaration", final.obj, ok)
	}
	if _, staged := store.get(staging.Key("s/a.png")); staged || store.copies != 1 || notified.Load() != 1 {
		t.Errorf("staged left %v, %d copies, %d notices; want none, 1, 1", staged, store.copies, notified.Load())
	}
	if out, err := v.Finalize(t.Context(), "staged", "s/a.png"); err != nil || !out.Verified || notified.Load() != 1 {
		t.Errorf("a later report = %+v, %v (%d notices)", out, err, notified.Load())
	}
	// The same bytes uploaded again are a new upload: promoted and
	// notified again, not left staged under the old verdict.
	store.put(staging.Key("s/a.png"), uploadpolicy.Object{ContentType: "image/png", Metadata: declared("staged", len(png))}, png)
	if out, err := v.Finalize(t.Context(), "staged", "s/a.png"); err != nil || !out.Verified || notified.Load() != 2 {
		t.Errorf("a second upload of the same bytes = %+v, %v (%d notices)", out, err, notified.Load())
	}
	if _, staged := store.get(staging.Key("s/a.png")); staged {
		t.Error("the second upload was left staged")
	}
}

func TestRejections(t *testing.T) {
	html := []byte("<html><body>x</body></html>")
	for _, tt := range []struct {
		name, profile, key string
		// where each key must and must not hold an object afterwards
		present, absent []string
		quarantined     bool
	}{
		{name: "deleted", profile: "staged", key: "s/x.png", absent: []string{"s/x.png", staging.Key("s/x.png"), staging.QuarantineKey("s/x.png")}},
		{name: "quarantined", profile: "held", key: "h/x.png", present: []string{staging.QuarantineKey("h/x.png")},
			absent: []string{"h/x.png", staging.Key("h/x.png")}, quarantined: true},
		// Without staging the object may be anyone's: reported, never
		// removed.
		{name: "reported only", profile: "plain", key: "p/x.png", present: []string{"p/x.png"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &memStore{objects: map[string]stored{}}
			at := tt.key
			if tt.profile != "plain" {
				at = staging.Key(tt.key)
			}
			store.put(at, uploadpolicy.Object{ContentType: "image/png", Metadata: declared(tt.profile, len(html))}, html)
			v, notified := newVerifier(store)
			out, err := v.Finalize(t.Context(), tt.profile, tt.key)
			if err != nil || out.Verified || len(out.Reasons) == 0 || (out.QuarantineKey != "") != tt.quarantined || notified.Load() != 1 {
				t.Fatalf("Finalize = %+v, %v", out, err)
			}
			for _, k := range tt.present {
				if _, ok := store.get(k); !ok {
					t.Errorf("%s is gone", k)
				}
			}
			for _, k := range tt.absent {
				if _, ok := store.get(k); ok {
					t.Errorf("%s is still there", k)
				}
			}
		})
	}
}

// TestSameBytesOtherHeaders: the same bytes uploaded again with another
// Content-Type are a new version, verified on their own.
func TestSameBytesOtherHeaders(t *testing.T) {
	store := &memStore{objects: map[string]stored{}}
	store.put("p/a.png", uploadpolicy.Object{ContentType: "image/png"}, png)
	v, notified := newVerifier(store)
	if out, err := v.Finalize(t.Context(), "plain", "p/a.png"); err != nil || !out.Verified {
		t.Fatalf("first = %+v, %v", out, err)
	}
	store.put("p/a.png", uploadpolicy.Object{ContentType: "image/gif"}, png)
	out, err := v.Finalize(t.Context(), "plain", "p/a.png")
	if err != nil || out.Verified || notified.Load() != 2 {
		t.Errorf("PNG bytes declared image/gif = %+v, %v (%d notices); want rejected on their own", out, err, notified.Load())
	}
}

// TestNothingToVerify: no upload staged, and an object at a staging
// profile's key that gatepost did not promote, are no upload; a store
// that cannot be reached leaves the staged upload where it is.
func TestNothingToVerify(t *testing.T) {
	store := &memStore{objects: map[string]stored{}}
	v, _ := newVerifier(store)
	if _, err := v.Finalize(t.Context(), "staged", "s/none.png"); !errors.Is(err, finalize.ErrNoUpload) {
		t.Errorf("nothing there: %v", err)
	}
	store.put("s/planted.png", uploadpolicy.Object{ContentType: "image/png"}, png)
	if _, err := v.Finalize(t.Context(), "staged", "s/planted.png"); !errors.Is(err, finalize.ErrNoUpload) {
		t.Errorf("an object gatepost did not promote: %v; want ErrNoUpload, never verified", err)
	}
	store.put(staging.Key("s/b.png"), uploadpolicy.Object{ContentType: "image/png", Metadata: declared("staged", len(png))}, png)
	store.down = true
	if _, err := v.Finalize(t.Context(), "staged", "s/b.png"); !errors.Is(err, finalize.ErrUnavailable) {
		t.Errorf("store down: %v; want ErrUnavailable", err)
	}
	store.down = false
	if _, ok := store.get(staging.Key("s/b.png")); !ok {
		t.Error("an upload that could not be verified was removed")
	}
}

// heldClaims hold every version for another replica except those in free.
type heldClaims struct {
	finalize.Claims
	free string
}

func (h heldClaims) Claim(ctx context.Context, version string, lease time.Duration) (func(), bool, error) {
	if strings.Contains(version, h.free) {
		return h.Claims.Claim(ctx, version, lease)
	}
	return nil, false, nil
}

// TestWaitingHoldsNothing: reports of versions another replica is
// verifying wait in their callers' time, holding no verification slot, so
// that however many wait, another upload is verified at once.
func TestWaitingHoldsNothing(t *testing.T) {
	store := &memStore{objects: map[string]stored{}}
	v := finalize.New(store, profiles(), finalize.Options{Claims: heldClaims{Claims: finalize.NewMemoryClaims(), free: "free.png"}})
	var wg sync.WaitGroup
	for i := range 40 {
		key := fmt.Sprintf("s/held-%d.png", i)
		store.put(staging.Key(key), uploadpolicy.Object{ContentType: "image/png", Metadata: declared("staged", len(png))}, png)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			if _, err := v.Finalize(ctx, "staged", key); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a report of a version held elsewhere: %v; want its own deadline", err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all wait
	store.put(staging.Key("s/free.png"), uploadpolicy.Object{ContentType: "image/png", Metadata: declared("staged", len(png))}, png)
	if out, err := v.Finalize(t.Context(), "staged", "s/free.png"); err != nil || !out.Verified {
		t.Errorf("another upload while 40 wait = %+v, %v", out, err)
	}
	wg.Wait()
}
