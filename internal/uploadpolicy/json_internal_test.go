package uploadpolicy

import (
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString: any string encodes to valid JSON that decodes to
// the string (invalid UTF-8 to what encoding/json makes of it).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00\x1f<>&", "\u2028\u2029", "\xff", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("round trip of %q gave %q, want %q", s, got, wantS)
		}
	})
}
