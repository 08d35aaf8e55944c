package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLoopbackHostsOnly: with authentication off only requests to a
// loopback name pass; a rebinding page's own domain gets 403 and a message
// naming the host.
func TestLoopbackHostsOnly(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := loopbackHostsOnly(ok)
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:8080", http.StatusNoContent},
		{"127.1.2.3", http.StatusNoContent},
		{"localhost:8080", http.StatusNoContent},
		{"LOCALHOST.", http.StatusNoContent},
		{"app.localhost:8080", http.StatusNoContent},
		{"[::1]:8080", http.StatusNoContent},
		{"[::ffff:127.0.0.1]:8080", http.StatusNoContent},
		{"evil.example:8080", http.StatusForbidden},
		{"localhost.evil.example", http.StatusForbidden},
		{"127.0.0.1.nip.io", http.StatusForbidden},
		{"192.168.1.10:8080", http.StatusForbidden},
		{"", http.StatusForbidden},
		{strings.Repeat("a", 5000), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/v1/presign", nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("Host %q: %d, want %d", tt.host, w.Code, tt.want)
			}
			if tt.want != http.StatusForbidden {
				return
			}
			var st struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if st.Code != 7 || !strings.HasPrefix(st.Message, "host: ") || len(st.Message) > 300 {
				t.Errorf("answer %+v, want PermissionDenied starting with host:, short", st)
			}
		})
	}
}
