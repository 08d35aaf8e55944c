package uploadpolicy_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// TestAppendConditionsJSON: the hand-written encoding decodes to exactly
// what encoding/json makes of Conditions.
func TestAppendConditionsJSON(t *testing.T) {
	t.Parallel()
	posts := []uploadpolicy.Post{
		{Key: "user-uploads/a.png", ContentType: "image/png", MinBytes: 1, MaxBytes: 10 << 20},
		{
			Key: `we"ird\\key<&>` + "\u2028\u00e9\u65e5\t\n", ContentType: "text/plain; charset=utf-8",
			MinBytes: 5, MaxBytes: 5, Metadata: map[string]string{"b": "2", "a": `1 "q"`},
			ChecksumSHA256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
			Headers:        uploadpolicy.Headers{CacheControl: `no-cache, "x"`, ContentDisposition: `attachment; filename="a.txt"`},
		},
	}
	for _, p := range posts {
		want, err := json.Marshal(p.Conditions())
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		got := append([]byte("["), p.AppendConditionsJSON(nil, fields)[1:]...)
		if diff := cmp.Diff(p.Fields(), fields); diff != "" {
			t.Errorf("fields of the one pass (-Fields +AppendConditionsJSON):\n%s", diff)
		}
		got = append(got, ']')
		var w, g any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("(-encoding/json +AppendConditionsJSON):\n%s", diff)
		}
	}
}

// FuzzAppendJSONString: any string encodes to valid JSON that decodes to
// the string (invalid UTF-8 to what encoding/json makes of it).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00\x1f<>&", "\u2028\u2029", "\xff", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(uploadpolicy.AppendJSONString(nil, s), &got); err != nil {
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
