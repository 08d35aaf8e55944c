package uploadpolicy_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

// TestDocument: the hand-written JSON is a valid document that decodes,
// with encoding/json, to exactly the values it was given, whatever
// characters they hold, with the expiration in RFC 3339 UTC.
func TestDocument(t *testing.T) {
	t.Parallel()
	p := uploadpolicy.Post{
		Bucket: "b", Key: `we"ird\\key<&>` + "\u2028\u00e9\u65e5\t\n", ContentType: "text/plain; charset=utf-8",
		MinBytes: 5, MaxBytes: 5, Metadata: map[string]string{"b": "2", "a": `1 "q"`},
		ChecksumSHA256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		Headers:        uploadpolicy.Headers{CacheControl: `no-cache, "x"`, ContentDisposition: `attachment; filename="a.txt"`},
	}
	sig := uploadpolicy.Signing{Algorithm: "AWS4-HMAC-SHA256", Credential: "AKID/x", Date: "20261201T120000Z", SecurityToken: "tok/+=="}
	expiration := time.Date(2026, 12, 1, 12, 15, 0, 0, time.FixedZone("CET", 3600))
	doc, fields := p.Document(sig, expiration)
	var d struct {
		Conditions []json.RawMessage
		Expiration string
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("invalid JSON %s: %v", doc, err)
	}
	if d.Expiration != "2026-12-01T11:15:00Z" {
		t.Errorf("expiration %q", d.Expiration)
	}
	want := map[string]string{
		"X-Amz-Algorithm": sig.Algorithm, "X-Amz-Credential": sig.Credential, "X-Amz-Date": sig.Date,
		"X-Amz-Security-Token": sig.SecurityToken, "key": p.Key, "Content-Type": p.ContentType,
		"Cache-Control": p.Headers.CacheControl, "Content-Disposition": p.Headers.ContentDisposition, "Content-Encoding": "",
		"x-amz-meta-a": `1 "q"`, "x-amz-meta-b": "2", "x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": p.ChecksumSHA256,
	}
	got := map[string]string{}
	for _, raw := range d.Conditions {
		var exact map[string]string
		if json.Unmarshal(raw, &exact) == nil {
			for k, v := range exact {
				got[k] = v
			}
		}
	}
	wantConds := maps.Clone(want)
	wantConds["bucket"] = "b"
	if diff := cmp.Diff(wantConds, got); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}
