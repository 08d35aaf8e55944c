package server

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// TestGetUpload: GetUpload checks the key before asking the store, reports
// absent and present objects, and lists how a present one breaks its
// profile.
func TestGetUpload(t *testing.T) {
	t.Parallel()
	store := &fakeStore{objects: map[string]*uploadpolicy.Object{
		"uploads/incoming/ok.png":   {Size: 10, ContentType: "image/png", ETag: `"e"`},
		"uploads/incoming/bad.png":  {Size: 20 << 20, ContentType: "text/html"},
		"uploads/incoming/html.png": {Size: 20, ContentType: "image/png", ETag: `"h"`},
		"uploads/incoming/gone.png": {Size: 20, ContentType: "image/png", ETag: `"g"`},
		"uploads/incoming/kms.png":  {Size: 20, ContentType: "image/png", ETag: `"k"`},
		"uploads/incoming/none.txt": {Size: 0, ContentType: "image/png", ETag: `"z"`},
	}, contents: map[string][]byte{
		"uploads/incoming/ok.png":   []byte("\x89PNG\r\n\x1a\n\x00\x00"),
		"uploads/incoming/html.png": []byte("<html><script>x</script></html>"),
		"uploads/incoming/bad.png":  []byte("<html><script>x</script></html>"),
	}, changed: map[string]bool{"uploads/incoming/gone.png": true}, unreadable: map[string]bool{"uploads/incoming/kms.png": true}}
	svc := NewService(testProfiles(t), store, discardLogger())
	tests := []struct {
		name string
		key  string
		want codes.Code
		// wantMsg is the start of the error message.
		wantMsg        string
		wantExists     bool
		wantViolations int
		wantHead       bool
		wantSniffed    string
	}{
		{name: "too long", key: "incoming/" + strings.Repeat("a", 2000), want: codes.InvalidArgument, wantMsg: "key: is 2009 bytes; S3 keys are at most 1024"},
		{name: "empty", key: "", want: codes.InvalidArgument, wantMsg: "key: must not be empty"},
		{name: "a dot segment", key: "incoming/../x.png", want: codes.InvalidArgument, wantMsg: "key: "},
		{name: "outside the prefix", key: "other/ok.png", want: codes.PermissionDenied, wantMsg: `key: "other/ok.png" is not under your prefix`},
		{name: "absent", key: "incoming/none.png", wantHead: true},
		{name: "present and fitting", key: "incoming/ok.png", wantExists: true, wantHead: true},
		{name: "present and breaking the profile", key: "incoming/bad.png", wantExists: true, wantViolations: 2, wantHead: true},
		{name: "HTML bytes declared image/png", key: "incoming/html.png", wantExists: true, wantViolations: 1, wantHead: true, wantSniffed: "text/html"},
		{name: "bytes that cannot be read", key: "incoming/kms.png", wantExists: true, wantViolations: 1, wantHead: true},
		{name: "empty: its size breaks the profile, its bytes are not sniffed", key: "incoming/none.txt", wantExists: true, wantViolations: 1, wantHead: true},
		{name: "changed while read", key: "incoming/gone.png", want: codes.Aborted, wantMsg: `key: "incoming/gone.png" changed while gatepost read it`, wantHead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := svc.GetUpload(anonymous(t.Context()), &gatepostv1.GetUploadRequest{Key: tt.key})
			if got := status.Code(err); got != tt.want || !strings.HasPrefix(status.Convert(err).Message(), tt.wantMsg) {
				t.Fatalf("GetUpload(%.40q): %v; want %s starting %q", tt.key, err, tt.want, tt.wantMsg)
			}
			store.mu.Lock()
			asked := slices.Contains(store.heads, "uploads/"+tt.key)
			store.mu.Unlock()
			if asked != tt.wantHead {
				t.Errorf("the store was asked about the key: %t, want %t", asked, tt.wantHead)
			}
			if err != nil {
				return
			}
			if resp.GetExists() != tt.wantExists || len(resp.GetViolations()) != tt.wantViolations ||
				resp.GetSatisfiesProfile() != (tt.wantExists && tt.wantViolations == 0) ||
				tt.wantSniffed != "" && resp.GetSniffedType() != tt.wantSniffed {
				t.Errorf("GetUpload = %v", resp)
			}
		})
	}
}
