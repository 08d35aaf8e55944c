package gateway

import (
	"strings"
	"testing"
)

// TestReasonPhrase: a message becomes a status line's reason phrase with
// no byte that could end the line or split the answer.
func TestReasonPhrase(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`content_type: "text/html" is not allowed`, `content_type: "text/html" is not allowed`},
		{"key: a\r\nSet-Cookie: x=1", "key: a??Set-Cookie: x=1"},
		{"key: caf\u00e9\x00", "key: caf???"},
		{strings.Repeat("x", 500), strings.Repeat("x", maxReason-3) + "..."},
	} {
		if got := reasonPhrase(tt.in); got != tt.want {
			t.Errorf("reasonPhrase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
