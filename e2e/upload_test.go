package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// TestUploadSucceeds: a client that sends exactly the returned fields and
// the file gets its object stored with the pinned Content-Type and metadata.
func TestUploadSucceeds(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		content := []byte("hello from gatepost\n")
		p := st.presignREST(t, query("key", "docs/hello.txt", "content_type", "text/plain",
			"metadata[owner]", "alice", "metadata[purpose]", "e2e"))
		if p.Key != "user-uploads/docs/hello.txt" || p.Bucket != bucket {
			t.Fatalf("key, bucket = %q, %q; want user-uploads/docs/hello.txt, %s", p.Key, p.Bucket, bucket)
		}
		status, code := postForm(t, p.URL, fieldsOf(p), content)
		if status != http.StatusNoContent {
			t.Fatalf("upload: status %d (%s), want 204", status, code)
		}
		head := st.headObject(t, p.Key)
		if head == nil {
			t.Fatalf("object %s is missing after a successful upload", p.Key)
		}
		if got := deref(head.ContentType); got != "text/plain" {
			t.Errorf("Content-Type = %q, want text/plain", got)
		}
		if got := deref(head.ContentLength); got != int64(len(content)) {
			t.Errorf("Content-Length = %d, want %d", got, len(content))
		}
		wantMeta := map[string]string{"owner": "alice", "purpose": "e2e"}
		if !maps.Equal(head.Metadata, wantMeta) {
			t.Errorf("metadata = %v, want %v", head.Metadata, wantMeta)
		}
		if got := st.getObject(t, p.Key); !bytes.Equal(got, content) {
			t.Errorf("stored bytes = %q, want %q", got, content)
		}
	})
}

// TestUploadGeneratedKey: in generated mode gatepost chooses the key and the
// upload lands exactly there.
func TestUploadGeneratedKey(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		p := st.presignREST(t, query("profile", "generated", "key", "My Photo (1).png", "content_type", "image/png"))
		if !strings.HasPrefix(p.Key, "generated/") || !strings.HasSuffix(p.Key, "-My_Photo__1_.png") {
			t.Fatalf("generated key = %q", p.Key)
		}
		if status, code := postForm(t, p.URL, fieldsOf(p), []byte("\x89PNG fake")); status != http.StatusNoContent {
			t.Fatalf("upload: status %d (%s), want 204", status, code)
		}
		if st.headObject(t, p.Key) == nil {
			t.Fatalf("object %s missing", p.Key)
		}
	})
}

// TestUploadRejectedByS3: every way of stepping outside the signed policy is
// refused by the store itself, and nothing is stored.
func TestUploadRejectedByS3(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		tests := []struct {
			name    string
			query   []string // beyond key and content_type
			profile string
			content []byte
			// mutate changes the form fields before the upload.
			mutate     func(t *testing.T, fields []formField) []formField
			wait       time.Duration
			wantStatus int
			wantCode   string
			// otherKey, when set, must not exist afterwards either.
			otherKey string
		}{
			{
				name:       "too large for the profile",
				content:    bytes.Repeat([]byte("x"), 1025),
				wantStatus: http.StatusBadRequest, wantCode: "EntityTooLarge",
			},
			{
				name:       "larger than the declared content_length",
				query:      []string{"content_length", "10"},
				content:    []byte("eleven byte"),
				wantStatus: http.StatusBadRequest, wantCode: "EntityTooLarge",
			},
			{
				name:       "too small (empty)",
				content:    []byte{},
				wantStatus: http.StatusBadRequest, wantCode: "EntityTooSmall",
			},
			{
				name:    "another key",
				content: []byte("data"),
				mutate: func(t *testing.T, f []formField) []formField {
					return setField(t, f, "key", "user-uploads/someone-else.txt")
				},
				otherKey:   "user-uploads/someone-else.txt",
				wantStatus: http.StatusForbidden, wantCode: "AccessDenied",
			},
			{
				name:    "key outside the prefix",
				content: []byte("data"),
				mutate: func(t *testing.T, f []formField) []formField {
					return setField(t, f, "key", "escaped.txt")
				},
				otherKey:   "escaped.txt",
				wantStatus: http.StatusForbidden, wantCode: "AccessDenied",
			},
			{
				name:    "another Content-Type",
				content: []byte("data"),
				mutate: func(t *testing.T, f []formField) []formField {
					return setField(t, f, "Content-Type", "text/html")
				},
				wantStatus: http.StatusForbidden, wantCode: "AccessDenied",
			},
			{
				name:    "another metadata value",
				query:   []string{"metadata[owner]", "alice"},
				content: []byte("data"),
				mutate: func(t *testing.T, f []formField) []formField {
					return setField(t, f, "x-amz-meta-owner", "mallory")
				},
				wantStatus: http.StatusForbidden, wantCode: "AccessDenied",
			},
			{
				name:    "an extra field the policy does not cover",
				content: []byte("data"),
				mutate: func(t *testing.T, f []formField) []formField {
					return append(f, formField{"x-amz-meta-injected", "yes"})
				},
				wantStatus: http.StatusForbidden, wantCode: "AccessDenied",
			},
			{
				name:    "tampered signature",
				content: []byte("data"),
				mutate: func(t *testing.T, f []formField) []formField {
					sig := fieldValue(t, f, "X-Amz-Signature")
					flipped := "0"
					if sig[0] == '0' {
						flipped = "1"
					}
					return setField(t, f, "X-Amz-Signature", flipped+sig[1:])
				},
				wantStatus: http.StatusForbidden, wantCode: "SignatureDoesNotMatch",
			},
			{
				name:    "tampered policy (size limit raised)",
				content: bytes.Repeat([]byte("x"), 2000),
				mutate: func(t *testing.T, f []formField) []formField {
					return setField(t, f, "policy", raiseSizeLimit(t, fieldValue(t, f, "policy")))
				},
				wantStatus: http.StatusForbidden, wantCode: "SignatureDoesNotMatch",
			},
			{
				name:       "expired policy",
				profile:    "shortlived",
				content:    []byte("data"),
				wait:       2500 * time.Millisecond,
				wantStatus: http.StatusForbidden, wantCode: "AccessDenied",
			},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				q := query("key", "rejected/case-"+itoa(i)+".txt", "content_type", "text/plain")
				for j := 0; j+1 < len(tt.query); j += 2 {
					q.Set(tt.query[j], tt.query[j+1])
				}
				if tt.profile != "" {
					q.Set("profile", tt.profile)
				}
				p := st.presignREST(t, q)
				fields := fieldsOf(p)
				if tt.mutate != nil {
					fields = tt.mutate(t, fields)
				}
				if tt.wait > 0 {
					time.Sleep(tt.wait) // let the policy expire; not a timing assertion
				}
				status, code := postForm(t, p.URL, fields, tt.content)
				if status != tt.wantStatus || code != tt.wantCode {
					t.Errorf("upload answered %d %s, want %d %s", status, code, tt.wantStatus, tt.wantCode)
				}
				if st.headObject(t, p.Key) != nil {
					t.Errorf("object %s exists after a rejected upload", p.Key)
				}
				if tt.otherKey != "" && st.headObject(t, tt.otherKey) != nil {
					t.Errorf("object %s exists after a rejected upload", tt.otherKey)
				}
			})
		}
	})
}

func setField(t *testing.T, fields []formField, name, value string) []formField {
	t.Helper()
	out := slices.Clone(fields)
	for i := range out {
		if out[i].name == name {
			out[i].value = value
			return out
		}
	}
	t.Fatalf("no field %q in %v", name, fields)
	return nil
}

func fieldValue(t *testing.T, fields []formField, name string) string {
	t.Helper()
	for _, f := range fields {
		if f.name == name {
			return f.value
		}
	}
	t.Fatalf("no field %q", name)
	return ""
}

// raiseSizeLimit rewrites a base64 policy so its content-length-range
// allows a megabyte, as an attacker with a valid policy might try.
func raiseSizeLimit(t *testing.T, policy string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(policy)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Expiration string `json:"expiration"`
		Conditions []any  `json:"conditions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for i, c := range doc.Conditions {
		if arr, ok := c.([]any); ok && len(arr) == 3 && arr[0] == "content-length-range" {
			doc.Conditions[i] = []any{"content-length-range", 0, 1 << 20}
			found = true
		}
	}
	if !found {
		t.Fatalf("policy has no content-length-range: %s", raw)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
