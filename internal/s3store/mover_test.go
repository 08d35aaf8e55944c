package s3store

import "testing"

func TestCopySource(t *testing.T) {
	for _, tc := range []struct{ bucket, key, want string }{
		{"uploads", "a/b.png", "uploads/a/b.png"},
		{"uploads", "a cat+1/é?.png", "uploads/a%20cat%2B1/%C3%A9%3F.png"},
		{"uploads", "a//b%", "uploads/a//b%25"},
	} {
		if got := copySource(tc.bucket, tc.key); got != tc.want {
			t.Errorf("copySource(%q, %q) = %q, want %q", tc.bucket, tc.key, got, tc.want)
		}
	}
}
