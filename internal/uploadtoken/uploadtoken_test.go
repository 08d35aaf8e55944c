package uploadtoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/uploadtoken"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	s, err := uploadtoken.New([]byte(strings.Repeat("s", 32)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u := uploadtoken.Upload{Subject: "alice", Profile: "default", Bucket: "b", Key: "k", UploadID: "id", TotalSize: 10 << 20, PartSize: 8 << 20}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	token, exp, err := s.Seal(u, now)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expires at %s, want an hour after %s", exp, now)
	}
	got, err := s.Open(token, now.Add(59*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, *got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	other, _ := uploadtoken.New([]byte(strings.Repeat("o", 32)), time.Hour)
	expired, _, _ := s.Seal(u, now.Add(-2*time.Hour))
	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + strings.Replace(parts[1], parts[1][:4], "eyJz", 1) + "." + parts[2]
	for name, bad := range map[string]string{
		"empty": "", "garbage": "x.y.z", "expired": expired, "tampered": tampered,
	} {
		if _, err := s.Open(bad, now); !errors.Is(err, uploadtoken.ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Open(token, now.Add(61*time.Minute)); !errors.Is(err, uploadtoken.ErrInvalid) {
		t.Errorf("a token was accepted after it expired: %v", err)
	}
	if _, err := other.Open(token, now); !errors.Is(err, uploadtoken.ErrInvalid) {
		t.Errorf("a token from another secret was accepted: %v", err)
	}
	if _, err := uploadtoken.New([]byte("short"), time.Hour); err == nil {
		t.Error("a short secret was accepted")
	}
}

// TestUnsized: an upload without a declared size round-trips, and a token
// with no part size that does not say it is unsized is refused.
func TestUnsized(t *testing.T) {
	t.Parallel()
	s, _ := uploadtoken.New([]byte(strings.Repeat("s", 32)), time.Hour)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		u    uploadtoken.Upload
		ok   bool
	}{
		{"unsized", uploadtoken.Upload{Subject: "a", Profile: "p", Bucket: "b", Key: "k", UploadID: "id", Unsized: true}, true},
		{"no part size", uploadtoken.Upload{Subject: "a", Profile: "p", Bucket: "b", Key: "k", UploadID: "id"}, false},
		{"unsized with a part size", uploadtoken.Upload{Subject: "a", Profile: "p", Bucket: "b", Key: "k", UploadID: "id", PartSize: 8 << 20, Unsized: true}, false},
	} {
		token, _, err := s.Seal(tt.u, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(token, now)
		if tt.ok && (err != nil || !got.Unsized) {
			t.Errorf("%s: Open = %+v, %v", tt.name, got, err)
		}
		if !tt.ok && !errors.Is(err, uploadtoken.ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", tt.name, err)
		}
	}
}

// TestDerivedKey: one secret and purpose give one key; another purpose or
// secret another.
func TestDerivedKey(t *testing.T) {
	t.Parallel()
	a, _ := uploadtoken.New([]byte(strings.Repeat("s", 32)), time.Hour)
	b, _ := uploadtoken.New([]byte(strings.Repeat("s", 32)), time.Minute)
	c, _ := uploadtoken.New([]byte(strings.Repeat("o", 32)), time.Hour)
	k := a.DerivedKey("session")
	if len(k) != 32 || string(k) != string(b.DerivedKey("session")) {
		t.Errorf("the same secret and purpose gave different keys")
	}
	if string(k) == string(a.DerivedKey("other")) || string(k) == string(c.DerivedKey("session")) {
		t.Errorf("another purpose or secret gave the same key")
	}
}
